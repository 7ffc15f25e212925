// Goal: group commit under concurrency keeps LSNs dense and in order, stream
// versions dense, readers never see a gap or an unpublished event, and no
// append is acknowledged before its bytes are durable.
// Method: many threads append events of random sizes (sync and async) while
// reader threads read the global log; the in-memory crash model tells which
// bytes have been fdatasynced. Runs under TSan in CI (scripts/test.sh).
#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "format/checksum.h"
#include "format/layout.h"
#include "format/names.h"
#include "format/scanner.h"
#include "tests/support/test_log.h"

using namespace cairn;
using namespace cairn::test;
using testing::MemFileSystem;

namespace {

// Finds the record that holds `lsn` in the current image of the segments and
// asks the crash model whether exactly those bytes are durable.
bool record_is_durable(MemFileSystem& fs, std::uint64_t log_id, std::uint64_t lsn) {
  auto names = fs.list(kDir);
  REQUIRE(names.has_value());
  std::uint64_t base = 0;
  std::string name;
  for (const auto& n : *names) {
    auto b = format::parse_segment_file_name(n);
    if (b && *b <= lsn && *b >= base) {
      base = *b;
      name = n;
    }
  }
  const std::string path = format::join_path(kDir, name);
  auto image = fs.read_file(path);
  REQUIRE(image.has_value());
  const auto bytes = std::as_bytes(std::span(*image));
  const std::uint64_t seed = format::record_seed(log_id, base);
  format::RecordScanner scanner(bytes, 0, seed, base, format::ScanState::segment_start(base, seed));
  format::RecordView view;
  while (scanner.next(view)) {
    if (view.header.lsn <= lsn && lsn < view.header.lsn + view.header.event_count) {
      return fs.is_durable(path, view.position, view.record_bytes);
    }
  }
  return false;
}

std::uint64_t log_id_of(MemFileSystem& fs) {
  auto names = fs.list(kDir);
  REQUIRE(names.has_value());
  auto image = fs.read_file(format::join_path(kDir, format::segment_file_name(0)));
  REQUIRE(image.has_value());
  std::uint64_t id = 0;
  for (int i = 0; i < 8; ++i) {
    id |= std::uint64_t{static_cast<unsigned char>((*image)[16 + i])} << (8 * i);
  }
  return id;
}

}  // namespace

TEST_CASE("concurrency: appenders and readers see dense LSNs, and no ack precedes durability") {
  auto fs = std::make_shared<MemFileSystem>();
  LogOptions o = small_options(fs);
  o.prepare_segments_in_background = true;
  auto log = open_log(o);
  const std::uint64_t log_id = log_id_of(*fs);
  constexpr int kWriters = 8;
  constexpr int kAppends = 250;
  std::atomic<bool> writers_done{false};
  std::atomic<int> not_durable_acks{0};
  std::mutex mu;
  std::map<std::string, std::string> written;  // data -> stream

  auto writer = [&](int t) {
    std::mt19937_64 rng(t);
    for (int i = 0; i < kAppends; ++i) {
      const std::string stream = "w" + std::to_string(t % 3);
      const std::string data =
          std::to_string(t) + "/" + std::to_string(i) + "/" + payload(rng(), rng() % 700);
      {
        std::lock_guard lock(mu);
        written[data] = stream;
      }
      const bool sync = rng() % 4 != 0;
      NewEvent e = event(data);
      auto r = log->append(stream, ExpectedVersion::any(), {&e, 1},
                           sync ? Durability::sync : Durability::async);
      REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
      if (sync && i % 10 == 0 && !record_is_durable(*fs, log_id, r->first_lsn)) {
        ++not_durable_acks;
      }
    }
  };
  auto reader = [&] {
    while (!writers_done) {
      auto events = read_all(*log);
      for (std::size_t i = 0; i < events.size(); ++i) {
        REQUIRE(events[i].lsn == i);
      }
      CHECK(events.size() <= log->next_lsn());
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back(writer, t);
  }
  std::thread r1(reader), r2(reader);
  for (auto& t : threads) {
    t.join();
  }
  writers_done = true;
  r1.join();
  r2.join();
  CHECK(not_durable_acks == 0);
  REQUIRE(log->wait_durable(log->next_lsn()).ok());
  auto events = read_all(*log);
  REQUIRE(events.size() == static_cast<std::size_t>(kWriters * kAppends));
  std::map<std::string, std::uint64_t> versions;
  for (std::size_t i = 0; i < events.size(); ++i) {
    REQUIRE(events[i].lsn == i);
    auto it = written.find(events[i].data);
    REQUIRE(it != written.end());
    CHECK(it->second == events[i].stream);
    CHECK(events[i].version == versions[events[i].stream]++);
  }
  const LogStats stats = log->stats();
  MESSAGE("batches " << stats.batch_count << ", fsyncs " << stats.fsync_count << " for "
                     << events.size() << " events");
  CHECK(stats.fsync_count < events.size());  // group commit did group
  REQUIRE(log->close().ok());
}

TEST_CASE("concurrency: exactly one of many racing appends with the same expected version wins") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  append_one(*log, "contested", "v0");
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> winners{0};
    std::atomic<int> conflicts{0};
    const std::uint64_t expected = static_cast<std::uint64_t>(round);
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&] {
        NewEvent e = event("try");
        auto r = log->append("contested", ExpectedVersion::exact(expected), {&e, 1});
        if (r) {
          ++winners;
        } else if (r.error().code() == Errc::wrong_expected_version) {
          ++conflicts;
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    CHECK(winners == 1);
    CHECK(conflicts == 5);
  }
  CHECK(log->next_version("contested").value() == 21);
}
