#include "engine/subscription.h"

#include <cairn/assert.h>

#include <algorithm>
#include <chrono>

#include "engine/reader.h"

namespace cairn::engine {
namespace {

// How long the thread sleeps at the durable end before it looks again. New
// durable events wake it at once; this bounds how long a stop() waits.
constexpr std::chrono::milliseconds kLiveWait{100};

}  // namespace

bool SubscriptionRegistry::add(SubscriptionImpl* subscription) {
  std::lock_guard lock(mu_);
  if (closed_) {
    return false;
  }
  live_.push_back(subscription);
  return true;
}

void SubscriptionRegistry::remove(SubscriptionImpl* subscription) {
  std::lock_guard lock(mu_);
  live_.erase(std::remove(live_.begin(), live_.end(), subscription), live_.end());
}

// Holds mu_ while stopping, so that no subscription object is destroyed
// (its destructor calls remove()) while it is being stopped here.
void SubscriptionRegistry::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (SubscriptionImpl* subscription : live_) {
    subscription->stop_for_close();
  }
  live_.clear();
}

SubscriptionImpl::SubscriptionImpl(const ReadContext& context, const SubscribeOptions& options,
                                   std::uint64_t from_lsn, EventHandler handler)
    : context_(context),
      from_lsn_(from_lsn),
      filter_{options.stream, options.stream_prefix, options.event_type,
              options.from_version.value_or(0)},
      handler_(std::move(handler)),
      position_(from_lsn) {}

SubscriptionImpl::~SubscriptionImpl() {
  stop();
  {
    std::lock_guard lock(thread_mu_);
    // Its own thread would run on in a destroyed object.
    CAIRN_ASSERT_MSG(!thread_.joinable(), "a subscription handler destroyed its subscription");
  }
  context_.subscriptions->remove(this);
}

void SubscriptionImpl::start() {
  std::lock_guard lock(thread_mu_);
  if (!stopping_) {
    thread_ = std::thread([this] { run(); });
  }
}

void SubscriptionImpl::stop() {
  {
    std::lock_guard lock(wake_mu_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  std::lock_guard lock(thread_mu_);
  // Called from the handler itself, it only asks the loop to end: the
  // thread cannot join itself (the destructor, on another thread, joins).
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

void SubscriptionImpl::stop_for_close() {
  {
    std::lock_guard lock(status_mu_);
    if (!finished_ && status_.ok()) {
      status_ = Status::error(Errc::closed, "the log was closed");
    }
  }
  stop();
}

std::uint64_t SubscriptionImpl::position() const {
  return position_.load(std::memory_order_acquire);
}

Status SubscriptionImpl::status() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

void SubscriptionImpl::run() {
  Status status;
  try {
    status = follow();
  } catch (...) {
    // No exception crosses the API, and one must not end the host process.
    status = Status::error(Errc::invalid_argument, "the subscription handler threw an exception");
  }
  finish(status);
}

void SubscriptionImpl::finish(const Status& status) {
  std::lock_guard lock(status_mu_);
  if (status_.ok()) {
    status_ = status;
  }
  finished_ = true;
}

// Catch-up and live in one loop over one reader (see the header).
Status SubscriptionImpl::follow() {
  GroupCommitter* committer = context_.committer;
  SegmentReader reader(
      *context_.segments, from_lsn_, [committer] { return committer->durable_lsn(); },
      context_.indexes);
  std::uint64_t next_lsn = from_lsn_;
  EventView event;
  while (!stopping_) {
    CAIRN_ASSIGN_OR_RETURN(bool more, reader.next(event));
    if (!more) {
      wait_for_events(next_lsn);
      continue;
    }
    const bool keep = hand_over(event);
    // Events the filter skips advance the checkpoint too: resuming from it
    // need not read them again.
    next_lsn = event.lsn + 1;
    position_.store(next_lsn, std::memory_order_release);
    if (!keep) {
      break;
    }
  }
  return Status();
}

// False when the handler ends the subscription.
bool SubscriptionImpl::hand_over(const EventView& event) {
  return !filter_.matches(event) || handler_(event);
}

void SubscriptionImpl::wait_for_events(std::uint64_t next_lsn) {
  const auto deadline = std::chrono::steady_clock::now() + kLiveWait;
  if (context_.committer->wait_durable_beyond(next_lsn, kLiveWait) > next_lsn) {
    return;
  }
  // Nothing new: the timeout passed, or the committer returned at once
  // because it is poisoned (no event will come). Sleep out the rest so the
  // loop never spins, waking early for a stop.
  std::unique_lock lock(wake_mu_);
  wake_cv_.wait_until(lock, deadline, [this] { return stopping_.load(); });
}

namespace {

// The LSN a subscription from a stream version starts at: the version's LSN
// when it is readable, else the durable end taken BEFORE the stream read, so
// that a version made durable in between is still at or after the start.
// Every later version has a larger LSN, and the filter's min_version drops
// the stream's older events that lie between the start and the version.
Result<std::uint64_t> version_start_lsn(const ReadContext& context,
                                        const SubscribeOptions& options) {
  const std::uint64_t durable_end = context.committer->durable_lsn();
  ReadOptions read;
  read.stream = options.stream;
  read.from_version = *options.from_version;
  read.limit = 1;
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<LogReader> reader, make_reader(context, read));
  EventView first;
  CAIRN_ASSIGN_OR_RETURN(bool found, reader->next(first));
  return found ? std::min(first.lsn, durable_end) : durable_end;
}

Result<std::uint64_t> start_lsn(const ReadContext& context, const SubscribeOptions& options) {
  if (!options.from_version) {
    return options.from_lsn;
  }
  if (options.stream.empty()) {
    return Status::error(Errc::invalid_argument, "subscribe: from_version needs a stream");
  }
  if (options.from_lsn != 0) {
    return Status::error(Errc::invalid_argument,
                         "subscribe: give from_lsn or from_version, not both");
  }
  return version_start_lsn(context, options);
}

}  // namespace

Result<std::unique_ptr<Subscription>> make_subscription(const ReadContext& context,
                                                        const SubscribeOptions& options,
                                                        EventHandler handler) {
  if (!handler) {
    return Status::error(Errc::invalid_argument, "subscribe: no handler");
  }
  CAIRN_ASSERT_MSG(context.subscriptions != nullptr, "the Log tracks its subscriptions");
  CAIRN_ASSIGN_OR_RETURN(std::uint64_t from_lsn, start_lsn(context, options));
  auto subscription =
      std::make_unique<SubscriptionImpl>(context, options, from_lsn, std::move(handler));
  if (!context.subscriptions->add(subscription.get())) {
    return Status::error(Errc::closed, "subscribe: the log is closed");
  }
  subscription->start();
  return std::unique_ptr<Subscription>(std::move(subscription));
}

}  // namespace cairn::engine
