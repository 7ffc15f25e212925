// Several batches in flight (LogOptions::batches_in_flight): their
// write_and_syncs overlap, they are acknowledged strictly in LSN order even
// when a later one completes first, a failure of an earlier one leaves the
// later one unacknowledged, and the batches in flight stay within the write
// window. A gate in front of the crash model holds each write_and_sync until
// the test releases it, so the interleaving is chosen, not hoped for.
#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "tests/support/forwarding_file_system.h"
#include "tests/support/test_log.h"

using namespace cairn;
using namespace cairn::test;
using testing::MemFileSystem;

namespace {

// Holds every write_and_sync of segment files until released, in any order.
class Gate {
 public:
  struct Call {
    std::uint64_t bytes = 0;
    bool released = false;
    Status result;  // what the call returns once released (OK: forwarded)
  };

  // Called by the committer: waits until the test releases this call.
  Status pass(std::uint64_t bytes) {
    std::unique_lock lock(mu_);
    calls_.push_back(Call{bytes, false, Status()});
    const std::size_t me = calls_.size() - 1;
    cv_.notify_all();
    cv_.wait(lock, [&] { return calls_[me].released || open_; });
    return calls_[me].result;
  }
  // Waits until `n` calls are held (or a second passes) and returns how many.
  std::size_t wait_for_calls(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return calls_.size() >= n; });
    return calls_.size();
  }
  std::size_t held_now() {
    std::lock_guard lock(mu_);
    std::size_t held = 0;
    for (const Call& c : calls_) {
      held += c.released ? 0 : 1;
    }
    return held;
  }
  std::uint64_t bytes_of(std::size_t i) {
    std::lock_guard lock(mu_);
    return calls_.at(i).bytes;
  }
  void release(std::size_t i, Status result = Status()) {
    std::lock_guard lock(mu_);
    calls_.at(i).released = true;
    calls_.at(i).result = std::move(result);
    cv_.notify_all();
  }
  void open() {  // lets every call through from now on
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool armed() {
    std::lock_guard lock(mu_);
    return armed_;
  }
  void arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call> calls_;
  bool open_ = false;
  bool armed_ = false;
};

class GatedFile final : public ForwardingFile {
 public:
  GatedFile(std::unique_ptr<io::File> base, Gate& gate)
      : ForwardingFile(std::move(base)), gate_(gate) {}
  Status write_and_sync(std::span<const io::WriteOp> ops) override {
    if (gate_.armed()) {
      std::uint64_t bytes = 0;
      for (const auto& op : ops) {
        bytes += op.bytes.size();
      }
      CAIRN_TRY(gate_.pass(bytes));
    }
    return ForwardingFile::write_and_sync(ops);
  }

 private:
  Gate& gate_;
};

class GatedFileSystem final : public ForwardingFileSystem {
 public:
  GatedFileSystem(std::shared_ptr<io::FileSystem> base, Gate& gate)
      : ForwardingFileSystem(std::move(base), "gated"), gate_(gate) {}

 private:
  std::unique_ptr<io::File> wrap(std::unique_ptr<io::File> file) override {
    return std::make_unique<GatedFile>(std::move(file), gate_);
  }
  Gate& gate_;
};

struct Fixture {
  std::shared_ptr<MemFileSystem> mem = std::make_shared<MemFileSystem>();
  Gate gate;
  std::unique_ptr<Log> log;

  explicit Fixture(std::uint32_t in_flight, std::uint32_t window = 1u << 20,
                   std::size_t event_max = 1024, std::size_t batch_max = 8 << 10) {
    LogOptions o = small_options(std::make_shared<GatedFileSystem>(mem, gate));
    o.segment_bytes = 1 << 20;  // no roll in these tests: a roll is alone in flight
    o.write_window_bytes = window;
    o.event_bytes_max = event_max;
    o.batch_bytes_max = batch_max;
    o.batches_in_flight = in_flight;
    log = open_log(o);
    gate.arm();
  }
  ~Fixture() {
    gate.open();
    log.reset();
  }
  // An async append of one event; returns its LSN.
  std::uint64_t append_async(const std::string& data) {
    NewEvent e = event(data);
    auto r = log->append("s", ExpectedVersion::any(), {&e, 1}, Durability::async);
    REQUIRE(r.has_value());
    return r->first_lsn;
  }
};

// Appends until the gate holds `n` calls: the first append's batch is taken
// at once; each later one when a slot is free.
void fill_flights(Fixture& f, std::size_t n, std::vector<std::string>& data,
                  std::size_t bytes = 100) {
  for (std::size_t i = 0; i < n; ++i) {
    data.push_back(payload(i, bytes));
    f.append_async(data.back());
    REQUIRE(f.gate.wait_for_calls(i + 1) == i + 1);
  }
}

}  // namespace

TEST_CASE("pipeline: two batches are written at once, published in LSN order") {
  Fixture f(2);
  std::vector<std::string> data;
  fill_flights(f, 2, data);
  CHECK(f.gate.held_now() == 2);  // both write_and_syncs are in progress together
  // The later batch completes first: nothing is acknowledged yet.
  f.gate.release(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(f.log->durable_lsn() == 0);
  CHECK(read_all(*f.log).empty());  // not readable before the earlier batch either
  f.gate.release(0);
  REQUIRE(f.log->wait_durable(2).ok());
  CHECK(f.log->durable_lsn() == 2);
  const auto events = read_all(*f.log);
  REQUIRE(events.size() == 2);
  CHECK(events[0].data == data[0]);
  CHECK(events[1].data == data[1]);
}

TEST_CASE("pipeline: with batches_in_flight = 1 the next batch waits for the first") {
  Fixture f(1);
  std::vector<std::string> data;
  fill_flights(f, 1, data);
  data.push_back(payload(9, 100));
  f.append_async(data.back());
  CHECK(f.gate.wait_for_calls(2) == 1);  // the second batch is not started
  f.gate.release(0);
  REQUIRE(f.gate.wait_for_calls(2) == 2);
  f.gate.release(1);
  REQUIRE(f.log->wait_durable(2).ok());
}

TEST_CASE("pipeline: a failed earlier batch poisons; the later one is never acknowledged") {
  Fixture f(2);
  std::vector<std::string> data;
  fill_flights(f, 2, data);
  f.gate.release(1);  // the later one succeeds first...
  f.gate.release(0, Status::error(Errc::io_error, "injected: gate"));  // ...the earlier fails
  const Status s = f.log->wait_durable(2);
  CHECK(s.code() == Errc::io_error);
  CHECK(f.log->durable_lsn() == 0);
  CHECK(f.log->poison_cause().code() == Errc::io_error);
  NewEvent e = event("after");
  CHECK(f.log->append("s", ExpectedVersion::any(), {&e, 1}).error().code() == Errc::poisoned);
}

TEST_CASE("pipeline: the batches in flight stay within the write window") {
  // Records of ~2.1 KiB and a 5,000-byte window: two fit in flight together,
  // a third waits although a slot is free.
  Fixture f(4, 5000, 2048, 4096);
  std::vector<std::string> data;
  fill_flights(f, 2, data, 2000);
  data.push_back(payload(3, 2000));
  f.append_async(data.back());
  CHECK(f.gate.wait_for_calls(3) == 2);
  f.gate.release(0);
  REQUIRE(f.gate.wait_for_calls(3) == 3);
  f.gate.open();
  REQUIRE(f.log->wait_durable(3).ok());
  CHECK(read_all(*f.log).size() == 3);
}
