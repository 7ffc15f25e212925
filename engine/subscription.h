// Live subscriptions: one thread each, reading the log with ONE SegmentReader
// whose limit is the durable LSN. Catch-up and live are the same loop: when
// the reader reaches the durable end, the thread sleeps until the durable LSN
// moves (GroupCommitter::wait_durable_beyond) and asks the same reader again.
// So the switch-over can neither skip nor repeat an event, and a subscriber
// only ever sees durable events. A subscriber only reads: a slow handler
// delays its own thread, never the writer.
#pragma once

#include <cairn/log.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/reads.h"

namespace cairn::engine {

class SubscriptionImpl;

// The live subscriptions of one Log. The Log calls close() before it shuts
// the committer down, so no subscription thread reads a closed log.
class SubscriptionRegistry {
 public:
  // False once closed: the log takes no new subscriptions.
  bool add(SubscriptionImpl* subscription);
  void remove(SubscriptionImpl* subscription);
  // Stops and joins every live subscription (their status becomes `closed`)
  // and refuses new ones.
  void close();

 private:
  std::mutex mu_;
  std::vector<SubscriptionImpl*> live_;
  bool closed_ = false;
};

class SubscriptionImpl final : public Subscription {
 public:
  // `from_lsn` is where the catch-up starts: options.from_lsn, or where
  // options.from_version was found (make_subscription resolves it).
  SubscriptionImpl(const ReadContext& context, const SubscribeOptions& options,
                   std::uint64_t from_lsn, EventHandler handler);
  ~SubscriptionImpl() override;

  // Starts the thread, unless the subscription was stopped already.
  void start();
  void stop() override;
  // stop(), recording that the log was closed under it (if it was running).
  void stop_for_close();
  std::uint64_t position() const override;
  Status status() const override;

 private:
  void run();
  Status follow();
  bool hand_over(const EventView& event);
  void wait_for_events(std::uint64_t next_lsn);
  void finish(const Status& status);

  const ReadContext context_;
  const std::uint64_t from_lsn_;
  const EventFilter filter_;
  EventHandler handler_;
  std::atomic<std::uint64_t> position_;

  // Set under wake_mu_ (so a sleeping thread cannot miss it), read anywhere.
  std::atomic<bool> stopping_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;

  mutable std::mutex status_mu_;
  Status status_;
  bool finished_ = false;  // the thread has left run(); guarded by status_mu_

  std::mutex thread_mu_;  // serializes start/stop (user and Log may race)
  std::thread thread_;
};

}  // namespace cairn::engine
