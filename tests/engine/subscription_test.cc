// Goal: Log::subscribe as Subscription documents it — catch-up that turns
// into a live subscription with no gap and no duplicate at the switch-over
// under concurrent appends, many subscribers at once, only durable events,
// filters, a checkpoint (position()) that resumes exactly, a slow subscriber
// that does not slow the writer, a prompt stop(), and a clean end when the
// log closes or a read fails.
// Method: the in-memory crash model with 64 KiB segments (so subscriptions
// cross segment rolls); handlers record LSNs, and the test thread compares
// them with the exact expected sequence. Runs under TSan in CI.
#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <thread>

#include "format/layout.h"
#include "format/names.h"
#include "tests/support/test_log.h"

using namespace cairn;
using namespace cairn::test;
using testing::MemFileSystem;
using namespace std::chrono_literals;

namespace {

// What one subscription handed over. The handler runs on the subscription's
// thread; the test thread waits on it and reads it.
class Collector {
 public:
  // Optional work done in the handler after recording (e.g. a slow sleep);
  // returning false ends the subscription.
  std::function<bool(const EventView&)> then = [](const EventView&) { return true; };

  EventHandler handler() {
    return [this](const EventView& e) {
      {
        std::lock_guard lock(mu_);
        lsns_.push_back(e.lsn);
      }
      cv_.notify_all();
      return then(e);
    };
  }
  // Waits (at most 20 s) until `n` events arrived.
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return lsns_.size() >= n; });
  }
  std::vector<std::uint64_t> lsns() {
    std::lock_guard lock(mu_);
    return lsns_;
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return lsns_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::uint64_t> lsns_;
};

std::vector<std::uint64_t> range(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> v(to - from);
  std::iota(v.begin(), v.end(), from);
  return v;
}

std::unique_ptr<Subscription> subscribe(Log& log, Collector& collector,
                                        const SubscribeOptions& options = {}) {
  auto s = log.subscribe(options, collector.handler());
  REQUIRE_MESSAGE(s.has_value(), s.status().to_string());
  return std::move(*s);
}

// `threads` appenders, each appending `per_thread` events of 200 bytes to
// its own stream "w<k>"; failures are counted, not asserted, off the test
// thread.
class Appenders {
 public:
  Appenders(Log& log, int threads, int per_thread, Durability durability = Durability::sync) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([&log, t, per_thread, durability, this] {
        const std::string stream = "w" + std::to_string(t);
        for (int i = 0; i < per_thread; ++i) {
          const std::string data = payload(t * 100000 + i, 200);
          NewEvent e = event(data);
          if (!log.append(stream, ExpectedVersion::any(), {&e, 1}, durability)) {
            failures_ += 1;
          }
        }
      });
    }
  }
  ~Appenders() { join(); }
  void join() {
    for (auto& t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
  }
  int failures() const { return failures_.load(); }

 private:
  std::vector<std::thread> threads_;
  std::atomic<int> failures_{0};
};

void append_n(Log& log, const std::string& stream, int n, std::string_view type = "t") {
  for (int i = 0; i < n; ++i) {
    const std::string data = payload(i, 100);
    NewEvent e = event(data, type);
    REQUIRE(log.append(stream, ExpectedVersion::any(), {&e, 1}).has_value());
  }
}

// Waits (at most 20 s) until the subscription has passed `lsn_end`: events
// its filter skips advance position() without a handler call to wait on.
bool wait_position(const Subscription& sub, std::uint64_t lsn_end) {
  for (int i = 0; i < 2000 && sub.position() < lsn_end; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  return sub.position() == lsn_end;
}

template <class F>
std::chrono::milliseconds time_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace

TEST_CASE(
    "subscription: catch-up turns live with no gap and no duplicate under concurrent appends") {
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    auto fs = std::make_shared<MemFileSystem>();
    auto log = open_log(small_options(fs));
    append_n(*log, "history", 100);
    Collector collector;
    std::unique_ptr<Subscription> sub;
    {
      // Subscribe while the appenders run, so the switch-over from catch-up
      // to live happens in the middle of concurrent appends.
      Appenders appenders(*log, 4, 300);
      std::this_thread::sleep_for(std::chrono::milliseconds(round * 3));
      sub = subscribe(*log, collector);
      appenders.join();
      REQUIRE(appenders.failures() == 0);
    }
    const std::uint64_t total = 100 + 4 * 300;
    REQUIRE(log->next_lsn() == total);
    REQUIRE(collector.wait_for(total));
    std::this_thread::sleep_for(20ms);  // room for a duplicate to show up
    sub->stop();
    CHECK(collector.lsns() == range(0, total));
    CHECK(sub->position() == total);
    CHECK(sub->status().ok());
  }
}

TEST_CASE("subscription: many subscribers at once, from different LSNs, with filters") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  append_n(*log, "w0", 50);
  constexpr int kSubscribers = 8;
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<std::unique_ptr<Subscription>> subs;
  std::vector<SubscribeOptions> options(kSubscribers);
  for (int i = 0; i < kSubscribers; ++i) {
    options[i].from_lsn = static_cast<std::uint64_t>(i * 40);
    if (i % 4 == 1) {
      options[i].stream = "w1";
    }
    collectors.push_back(std::make_unique<Collector>());
  }
  {
    Appenders appenders(*log, 3, 200);
    for (int i = 0; i < kSubscribers; ++i) {
      subs.push_back(subscribe(*log, *collectors[i], options[i]));
    }
    appenders.join();
    REQUIRE(appenders.failures() == 0);
  }
  const auto all = read_all(*log);
  REQUIRE(all.size() == 650);
  for (int i = 0; i < kSubscribers; ++i) {
    CAPTURE(i);
    std::vector<std::uint64_t> expected;
    for (const auto& e : all) {
      if (e.lsn >= options[i].from_lsn &&
          (options[i].stream.empty() || e.stream == options[i].stream)) {
        expected.push_back(e.lsn);
      }
    }
    REQUIRE(collectors[i]->wait_for(expected.size()));
    CHECK(wait_position(*subs[i], 650));  // skipped events advance the checkpoint too
    subs[i]->stop();
    CHECK(collectors[i]->lsns() == expected);
  }
}

TEST_CASE("subscription: filters by stream, category and type") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  Collector by_stream, by_category, by_type, by_both;
  SubscribeOptions o;
  o.stream = "account-1";
  auto s1 = subscribe(*log, by_stream, o);
  o = {};
  o.stream_prefix = "account-";
  auto s2 = subscribe(*log, by_category, o);
  o = {};
  o.event_type = "Deposited";
  auto s3 = subscribe(*log, by_type, o);
  o.stream_prefix = "order-";
  auto s4 = subscribe(*log, by_both, o);
  append_n(*log, "account-1", 3, "Deposited");  // 0..2
  append_n(*log, "account-2", 2, "Withdrawn");  // 3..4
  append_n(*log, "order-1", 2, "Deposited");    // 5..6
  append_n(*log, "account-10", 1, "Opened");    // 7
  REQUIRE(by_stream.wait_for(3));
  REQUIRE(by_category.wait_for(6));
  REQUIRE(by_type.wait_for(5));
  REQUIRE(by_both.wait_for(2));
  for (auto* s : {s1.get(), s2.get(), s3.get(), s4.get()}) {
    CHECK(wait_position(*s, 8));
    s->stop();
  }
  CHECK(by_stream.lsns() == std::vector<std::uint64_t>{0, 1, 2});
  CHECK(by_category.lsns() == std::vector<std::uint64_t>{0, 1, 2, 3, 4, 7});
  CHECK(by_type.lsns() == std::vector<std::uint64_t>{0, 1, 2, 5, 6});
  CHECK(by_both.lsns() == std::vector<std::uint64_t>{5, 6});
}

TEST_CASE("subscription: a subscriber that sleeps in its handler does not slow the writer") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  Collector slow, fast;
  slow.then = [](const EventView&) {
    std::this_thread::sleep_for(20ms);
    return true;
  };
  auto slow_sub = subscribe(*log, slow);
  auto fast_sub = subscribe(*log, fast);
  // 300 events at 20 ms each would hold the writer for 6 s if it waited.
  const auto elapsed = time_of([&] { append_n(*log, "s", 300); });
  CHECK(elapsed < 3000ms);
  CHECK(slow.size() < 150);
  REQUIRE(fast.wait_for(300));
  // stop() waits for the handler call in progress only.
  CHECK(time_of([&] { slow_sub->stop(); }) < 1000ms);
  const std::size_t handled = slow.size();
  CHECK(slow_sub->position() == handled);
  CHECK(slow.lsns() == range(0, handled));
  fast_sub->stop();
  CHECK(fast.lsns() == range(0, 300));
}

TEST_CASE("subscription: stop() is prompt and the handler is not called after it") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  append_n(*log, "s", 20);
  Collector collector;
  auto sub = subscribe(*log, collector);
  REQUIRE(collector.wait_for(20));
  std::this_thread::sleep_for(30ms);  // now waiting for new durable events
  CHECK(time_of([&] { sub->stop(); }) < 500ms);
  append_n(*log, "s", 5);
  std::this_thread::sleep_for(150ms);
  CHECK(collector.size() == 20);
  sub->stop();  // again: a no-op
  CHECK(sub->status().ok());
}

TEST_CASE("subscription: the checkpoint resumes without a gap or a duplicate") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  const std::uint64_t total = 2 * 500;
  Appenders appenders(*log, 2, 500, Durability::async);
  std::vector<std::uint64_t> seen;
  std::uint64_t from = 0;
  // Three legs: the handler ends the first, stop() the second, the third
  // runs to the end; each resumes from the previous position().
  for (int leg = 0; leg < 3; ++leg) {
    CAPTURE(leg);
    Collector collector;
    std::atomic<int> handled{0};
    if (leg == 0) {
      collector.then = [&](const EventView&) { return ++handled < 300; };
    }
    SubscribeOptions o;
    o.from_lsn = from;
    auto sub = subscribe(*log, collector, o);
    if (leg == 0) {
      REQUIRE(collector.wait_for(300));
      std::this_thread::sleep_for(20ms);
      CHECK(collector.size() == 300);  // the handler said stop
      CHECK(sub->position() == from + 300);
    } else if (leg == 1) {
      REQUIRE(collector.wait_for(200));
      sub->stop();
    } else {
      appenders.join();
      REQUIRE(log->wait_durable(total).ok());
      REQUIRE(collector.wait_for(total - from));
    }
    sub->stop();
    CHECK(sub->status().ok());
    const auto got = collector.lsns();
    CHECK(got == range(from, from + got.size()));
    CHECK(sub->position() == from + got.size());
    seen.insert(seen.end(), got.begin(), got.end());
    from = sub->position();
  }
  CHECK(appenders.failures() == 0);
  CHECK(seen == range(0, total));
}

TEST_CASE("subscription: only durable events are delivered") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  std::atomic<int> not_durable{0};
  Collector collector;
  collector.then = [&](const EventView& e) {
    if (e.lsn >= log->durable_lsn()) {
      not_durable += 1;
    }
    return true;
  };
  auto sub = subscribe(*log, collector);
  {
    Appenders appenders(*log, 3, 300, Durability::async);
    appenders.join();
    REQUIRE(appenders.failures() == 0);
  }
  REQUIRE(collector.wait_for(900));
  CHECK(not_durable == 0);
  // Durability::none events arrive once something makes them durable.
  for (int i = 0; i < 5; ++i) {
    append_one(*log, "none", payload(i, 10), Durability::none);
  }
  std::this_thread::sleep_for(200ms);
  CHECK(collector.size() == 900);
  REQUIRE(log->wait_durable(log->next_lsn()).ok());
  REQUIRE(collector.wait_for(905));
  CHECK(not_durable == 0);
  sub->stop();
  CHECK(collector.lsns() == range(0, collector.size()));
}

TEST_CASE("subscription: from an LSN not yet written, and after a reopen") {
  auto fs = std::make_shared<MemFileSystem>();
  {
    auto log = open_log(small_options(fs));
    append_n(*log, "s", 10);
    Collector collector;
    SubscribeOptions o;
    o.from_lsn = 50;
    auto sub = subscribe(*log, collector, o);
    append_n(*log, "s", 60);
    REQUIRE(collector.wait_for(20));
    sub->stop();
    CHECK(collector.lsns() == range(50, 70));
    append_n(*log, "big", 400);  // several sealed segments for the reopen
  }
  auto log = open_log(small_options(fs));
  Collector collector;
  auto sub = subscribe(*log, collector);
  REQUIRE(collector.wait_for(470));
  append_n(*log, "s", 5);
  REQUIRE(collector.wait_for(475));
  sub->stop();
  CHECK(collector.lsns() == range(0, 475));
}

TEST_CASE("subscription: closing the log ends live subscriptions; they may outlive it") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  append_n(*log, "s", 5);
  Collector a, b;
  auto sub_a = subscribe(*log, a);
  auto sub_b = subscribe(*log, b);
  REQUIRE(a.wait_for(5));
  CHECK(time_of([&] { REQUIRE(log->close().ok()); }) < 1000ms);
  CHECK(sub_a->status().code() == Errc::closed);
  CHECK(sub_b->status().code() == Errc::closed);
  auto refused = log->subscribe({}, a.handler());
  REQUIRE(!refused.has_value());
  CHECK(refused.error().code() == Errc::closed);
  log.reset();
  sub_a->stop();  // after the Log is gone: a no-op
  CHECK(sub_a->position() == 5);
  sub_a.reset();
  sub_b.reset();
  CHECK(a.size() == 5);
}

TEST_CASE(
    "subscription: a handler that returns false or throws ends it; a read error is its status") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  append_n(*log, "s", 400);  // segment 0 is sealed
  Collector ends, throws;
  ends.then = [](const EventView& e) { return e.lsn < 9; };
  throws.then = [](const EventView& e) -> bool {
    if (e.lsn == 3) {
      throw std::runtime_error("application bug");
    }
    return true;
  };
  auto sub_ends = subscribe(*log, ends);
  auto sub_throws = subscribe(*log, throws);
  REQUIRE(ends.wait_for(10));
  REQUIRE(throws.wait_for(4));
  std::this_thread::sleep_for(50ms);
  CHECK(ends.lsns() == range(0, 10));
  CHECK(sub_ends->position() == 10);
  CHECK(sub_ends->status().ok());
  CHECK(throws.lsns() == range(0, 4));
  CHECK(sub_throws->position() == 3);  // the event it threw on was not handled
  CHECK(!sub_throws->status().ok());

  // Damage in the body of the first record of a sealed segment.
  const std::string path = format::join_path(kDir, format::segment_file_name(0));
  REQUIRE(
      fs->corrupt(path, format::kSegmentHeaderBlockBytes + format::kRecordHeaderBytes + 8, "XXXX")
          .ok());
  Collector damaged;
  auto sub_damaged = subscribe(*log, damaged);
  for (int i = 0; i < 100 && sub_damaged->status().ok(); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(sub_damaged->status().code() == Errc::corruption);
  CHECK(damaged.size() == 0);  // never a damaged event
  ReadOptions backward;
  backward.direction = Direction::backward;
  backward.from_lsn = ~0ull;
  auto reader = log->read(backward);
  REQUIRE(reader.has_value());
  EventView v;
  Result<bool> more = true;
  while (more.has_value() && *more) {
    more = (*reader)->next(v);
  }
  REQUIRE(!more.has_value());
  CHECK(more.error().code() == Errc::corruption);
}

namespace {

// The versions a subscription handed over, recorded by its handler.
struct VersionLog {
  std::mutex mu;
  std::vector<std::uint64_t> versions;
  std::vector<std::string> streams;
  void attach(Collector& collector) {
    collector.then = [this](const EventView& e) {
      std::lock_guard lock(mu);
      versions.push_back(e.version);
      streams.emplace_back(e.stream);
      return true;
    };
  }
  std::vector<std::uint64_t> snapshot() {
    std::lock_guard lock(mu);
    return versions;
  }
};

SubscribeOptions from_version(const std::string& stream, std::uint64_t version) {
  SubscribeOptions o;
  o.stream = stream;
  o.from_version = version;
  return o;
}

}  // namespace

TEST_CASE("subscription: from a stream version, across sealed segments and into live appends") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  for (int round = 0; round < 40; ++round) {  // "a" interleaved with "b", several segments
    append_n(*log, "a", 3);
    append_n(*log, "b", 7);
  }
  const std::uint64_t a_head = 40 * 3 - 1;
  for (std::uint64_t start : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{57}, a_head}) {
    CAPTURE(start);
    Collector collector;
    VersionLog seen;
    seen.attach(collector);
    auto sub = subscribe(*log, collector, from_version("a", start));
    REQUIRE(collector.wait_for(a_head + 1 - start));
    sub->stop();  // joins: the handler has recorded the last version too
    CHECK(seen.snapshot() == range(start, a_head + 1));
    CHECK(std::all_of(seen.streams.begin(), seen.streams.end(),
                      [](const std::string& s) { return s == "a"; }));
  }
  // A reopen: the start is found in the persisted stream indexes.
  log.reset();
  log = open_log(small_options(fs));
  Collector collector;
  VersionLog seen;
  seen.attach(collector);
  auto sub = subscribe(*log, collector, from_version("a", 100));
  REQUIRE(collector.wait_for(a_head + 1 - 100));
  append_n(*log, "b", 3);
  append_n(*log, "a", 2);  // live: versions 120, 121
  REQUIRE(collector.wait_for(a_head + 3 - 100));
  sub->stop();
  CHECK(seen.snapshot() == range(100, a_head + 3));
}

TEST_CASE("subscription: from a stream version not written yet waits for it") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  append_n(*log, "a", 5);  // versions 0..4
  Collector collector;
  VersionLog seen;
  seen.attach(collector);
  auto sub = subscribe(*log, collector, from_version("a", 7));
  auto none = subscribe(*log, collector, from_version("never", 0));
  append_n(*log, "a", 2);  // 5, 6: older than asked, not delivered
  std::this_thread::sleep_for(50ms);
  CHECK(collector.size() == 0);
  append_n(*log, "a", 3);  // 7, 8, 9
  REQUIRE(collector.wait_for(3));
  std::this_thread::sleep_for(20ms);
  sub->stop();
  none->stop();
  CHECK(seen.snapshot() == range(7, 10));
  CHECK(none->status().ok());
}

TEST_CASE("subscription: from a stream version while that stream is being appended to") {
  // The start is resolved while the version may be becoming durable: no
  // version at or after it may be missed, none before it delivered.
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  const int total = 600;
  std::thread writer([&] { append_n(*log, "a", total); });
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<std::unique_ptr<VersionLog>> seen;
  std::vector<std::unique_ptr<Subscription>> subs;
  std::vector<std::uint64_t> starts;
  for (std::uint64_t start = 0; start < total; start += 37) {
    collectors.push_back(std::make_unique<Collector>());
    seen.push_back(std::make_unique<VersionLog>());
    seen.back()->attach(*collectors.back());
    subs.push_back(subscribe(*log, *collectors.back(), from_version("a", start)));
    starts.push_back(start);
    std::this_thread::sleep_for(1ms);
  }
  writer.join();
  for (std::size_t i = 0; i < subs.size(); ++i) {
    CAPTURE(starts[i]);
    REQUIRE(collectors[i]->wait_for(total - starts[i]));
    subs[i]->stop();
    CHECK(seen[i]->snapshot() == range(starts[i], total));
  }
}

TEST_CASE("subscription: from_version needs a stream and excludes from_lsn") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  Collector collector;
  SubscribeOptions no_stream;
  no_stream.from_version = 0;
  auto a = log->subscribe(no_stream, collector.handler());
  REQUIRE(!a.has_value());
  CHECK(a.error().code() == Errc::invalid_argument);
  SubscribeOptions both = from_version("a", 0);
  both.from_lsn = 3;
  auto b = log->subscribe(both, collector.handler());
  REQUIRE(!b.has_value());
  CHECK(b.error().code() == Errc::invalid_argument);
}
