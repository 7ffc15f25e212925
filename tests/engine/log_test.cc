// Goal: the Log's contract from the outside — open/create, append, read,
// reopen, segment rolls at exact boundaries, limits, locking, refusal of
// foreign directories, expected versions, poisoning.
// Method: the in-memory crash model (deterministic, fast) with small
// segments; a few cases on the real file system in a temp directory.
#include <cairn/log.h>
#include <cairn/testing/fault_file_system.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "format/codec.h"
#include "format/layout.h"
#include "format/names.h"
#include "tests/support/test_log.h"

using namespace cairn;
using namespace cairn::test;
using testing::CrashPolicy;
using testing::MemFileSystem;

namespace {

std::string segment_path(std::uint64_t base) {
  return format::join_path(kDir, format::segment_file_name(base));
}

std::size_t segment_count(MemFileSystem& fs) {
  auto names = fs.list(kDir);
  REQUIRE(names.has_value());
  std::size_t n = 0;
  for (const auto& name : *names) {
    n += format::parse_segment_file_name(name).has_value() ? 1 : 0;
  }
  return n;
}

}  // namespace

TEST_CASE("log: a new directory gets a meta file and a first segment of segment_bytes") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  CHECK(fs->exists(format::join_path(kDir, format::kMetaFileName)).value());
  auto seg = fs->read_file(segment_path(0));
  REQUIRE(seg.has_value());
  CHECK(seg->size() == 64u << 10);
  CHECK(log->next_lsn() == 0);
  CHECK(log->durable_lsn() == 0);
}

TEST_CASE("log: events read back byte-identical with dense LSNs and stream versions") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  for (int i = 0; i < 20; ++i) {
    auto r = append_one(*log, i % 2 ? "odd" : "even", payload(i, 10 + i));
    CHECK(r.first_lsn == static_cast<std::uint64_t>(i));
    CHECK(r.first_version == static_cast<std::uint64_t>(i / 2));
  }
  auto events = read_all(*log);
  REQUIRE(events.size() == 20);
  for (int i = 0; i < 20; ++i) {
    CHECK(events[i].lsn == static_cast<std::uint64_t>(i));
    CHECK(events[i].stream == (i % 2 ? "odd" : "even"));
    CHECK(events[i].version == static_cast<std::uint64_t>(i / 2));
    CHECK(events[i].data == payload(i, 10 + i));
    CHECK(events[i].type == "t");
    CHECK(events[i].time_ns > 0);
  }
  CHECK(read_all(*log, 15).size() == 5);
  CHECK(log->durable_lsn() == 20);
}

TEST_CASE("log: a multi-event append gets consecutive LSNs and stream versions atomically") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  append_one(*log, "a", "first");
  std::vector<std::string> data = {"x", "", "zzz"};
  std::vector<NewEvent> events;
  for (auto& d : data) {
    events.push_back(event(d, "multi"));
  }
  events[1].metadata = "meta";
  events[2].id.bytes[0] = 7;
  auto r = log->append("a", ExpectedVersion::exact(0), events);
  REQUIRE(r.has_value());
  CHECK(r->first_lsn == 1);
  CHECK(r->first_version == 1);
  CHECK(r->count == 3);
  auto all = read_all(*log);
  REQUIRE(all.size() == 4);
  CHECK(all[2].metadata == "meta");
  CHECK(all[2].data.empty());
  CHECK(all[3].id.bytes[0] == 7);
  CHECK(all[3].version == 3);
}

TEST_CASE("log: reopen after close returns every event and continues the LSNs") {
  auto fs = std::make_shared<MemFileSystem>();
  {
    auto log = open_log(small_options(fs));
    for (int i = 0; i < 100; ++i) {
      append_one(*log, "s" + std::to_string(i % 7), payload(i, 300));
    }
    REQUIRE(log->close().ok());
  }
  CHECK(fs->exists(format::join_path(kDir, format::kRecoveryPointFileName)).value());
  auto log = open_log(small_options(fs));
  CHECK(log->recovery_report().find("clean shutdown") != std::string::npos);
  CHECK(log->next_lsn() == 100);
  CHECK(log->next_version("s3").value() == 14);
  auto r = append_one(*log, "s3", "after");
  CHECK(r.first_lsn == 100);
  CHECK(r.first_version == 14);
  auto all = read_all(*log);
  REQUIRE(all.size() == 101);
  for (int i = 0; i < 100; ++i) {
    CHECK(all[i].data == payload(i, 300));
  }
}

// SPEC.md section 8: the recovery point goes at the first append, not at
// open, so reading a log (a projection's rebuild, `cairn read`) changes no
// file of it and leaves the next open as fast as this one.
TEST_CASE("log: opening and closing a log without appending writes nothing") {
  auto fs = std::make_shared<MemFileSystem>();
  const std::string point = format::join_path(kDir, format::kRecoveryPointFileName);
  {
    auto log = open_log(small_options(fs));
    for (int i = 0; i < 200; ++i) {
      append_one(*log, "s" + std::to_string(i % 5), payload(i, 400));
    }
    REQUIRE(log->close().ok());
  }
  REQUIRE(segment_count(*fs) > 1);
  const std::string point_bytes = fs->read_file(point).value();

  SUBCASE("reads, stream heads and close: no operation on any file") {
    const std::uint64_t ops = fs->op_count();
    for (int round = 0; round < 2; ++round) {
      auto log = open_log(small_options(fs));
      CHECK(log->recovery_report().find("clean shutdown") != std::string::npos);
      CHECK(read_all(*log).size() == 200);
      CHECK(log->next_version("s3").value() == 40);
      REQUIRE(log->close().ok());
      CHECK(fs->op_count() == ops);
    }
    CHECK(fs->read_file(point).value() == point_bytes);
  }
  SUBCASE("a power cut after such an open finds the point again") {
    {
      auto log = open_log(small_options(fs));
      CHECK(read_all(*log).size() == 200);
      fs->cut_power();
    }
    fs->crash(CrashPolicy::tear_sectors, 3);
    auto log = open_log(small_options(fs));
    CHECK(log->recovery_report().find("clean shutdown") != std::string::npos);
    CHECK(read_all(*log).size() == 200);
  }
  SUBCASE("a missing tail index is written again, the point is kept") {
    auto names = fs->list(kDir).value();
    std::string last_index;
    for (const auto& name : names) {
      if (name.ends_with(".idx")) {
        last_index = std::max(last_index, name);  // zero-padded base LSNs sort
      }
    }
    REQUIRE(!last_index.empty());
    REQUIRE(fs->remove(format::join_path(kDir, last_index)).ok());
    {
      auto log = open_log(small_options(fs));
      REQUIRE(log->close().ok());
    }
    CHECK(fs->exists(format::join_path(kDir, last_index)).value());
    CHECK(fs->read_file(point).value() == point_bytes);
    const std::uint64_t ops = fs->op_count();
    auto log = open_log(small_options(fs));
    CHECK(log->recovery_report().find("clean shutdown") != std::string::npos);
    REQUIRE(log->close().ok());
    CHECK(fs->op_count() == ops);
  }
  SUBCASE("the first append removes the point, durably, before it writes") {
    auto log = open_log(small_options(fs));
    CHECK(fs->exists(point).value());
    append_one(*log, "s0", "after");
    CHECK_FALSE(fs->exists(point).value());
    SUBCASE("then a clean close writes a new one") {
      REQUIRE(log->close().ok());
      CHECK(fs->read_file(point).value() != point_bytes);
      auto again = open_log(small_options(fs));
      CHECK(again->recovery_report().find("clean shutdown") != std::string::npos);
      CHECK(read_all(*again).size() == 201);
    }
    SUBCASE("then a power cut that keeps only synced bytes and names") {
      fs->cut_power();
      log.reset();
      fs->crash(CrashPolicy::drop_unsynced, 4);
      CHECK_FALSE(fs->exists(point).value());
      auto again = open_log(small_options(fs));
      CHECK(again->recovery_report().find("tail scanned") != std::string::npos);
      CHECK(read_all(*again).size() == 201);
    }
  }
  SUBCASE("a refused append or a retry writes nothing and keeps it") {
    auto log = open_log(small_options(fs));
    const std::uint64_t ops = fs->op_count();
    auto r = log->append("s0", ExpectedVersion::exact(7), std::vector<NewEvent>{event("x")});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == Errc::wrong_expected_version);
    REQUIRE(log->close().ok());
    CHECK(fs->op_count() == ops);
    CHECK(fs->read_file(point).value() == point_bytes);
  }
  SUBCASE("an append after close is refused and leaves it") {
    auto log = open_log(small_options(fs));
    REQUIRE(log->close().ok());
    auto r = log->append("s0", ExpectedVersion::any(), std::vector<NewEvent>{event("late")});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == Errc::closed);
    CHECK(fs->read_file(point).value() == point_bytes);
  }
}

// The removal may have half happened (unlinked, not yet fsynced): it is not
// retried, since a second try would find no file and skip the fsync, and a
// power cut could then bring back a point behind acknowledged events.
TEST_CASE("log: a failed removal of the recovery point poisons the log") {
  for (auto op : {testing::FaultFileSystem::Op::remove, testing::FaultFileSystem::Op::sync_dir}) {
    CAPTURE(testing::FaultFileSystem::op_name(op));
    auto mem = std::make_shared<MemFileSystem>();
    {
      auto log = open_log(small_options(mem));
      append_one(*log, "s", "before");
      REQUIRE(log->close().ok());
    }
    {
      auto fault = std::make_shared<testing::FaultFileSystem>(mem, 5);
      auto log = open_log(small_options(fault));
      fault->fail_nth(op, 1);
      auto r = log->append("s", ExpectedVersion::any(), std::vector<NewEvent>{event("lost")});
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code() == Errc::io_error);
      CHECK(log->poison_cause().code() == Errc::io_error);
      auto again = log->append("s", ExpectedVersion::any(), std::vector<NewEvent>{event("no")});
      REQUIRE_FALSE(again.has_value());
      CHECK(again.error().code() == Errc::poisoned);
      CHECK(log->durable_lsn() == 1);
      CHECK(log->close().code() == Errc::io_error);
      mem->cut_power();
    }
    mem->crash(CrashPolicy::drop_unsynced, 6);
    auto reopened = open_log(small_options(mem));
    auto all = read_all(*reopened);
    REQUIRE(all.size() == 1);
    CHECK(all[0].data == "before");
    CHECK(append_one(*reopened, "s", "after").first_lsn == 1);
  }
}

TEST_CASE("log: after a power loss that drops unsynced data every synced event is there") {
  auto fs = std::make_shared<MemFileSystem>();
  {
    auto log = open_log(small_options(fs));
    for (int i = 0; i < 150; ++i) {
      append_one(*log, "s", payload(i, 500));
    }
    fs->cut_power();  // the process dies with the log open: its close has no effect
  }
  fs->crash(CrashPolicy::drop_unsynced, 1);
  auto log = open_log(small_options(fs));
  auto all = read_all(*log);
  REQUIRE(all.size() == 150);
  for (int i = 0; i < 150; ++i) {
    CHECK(all[i].data == payload(i, 500));
  }
  CHECK(log->next_version("s").value() == 150);
}

TEST_CASE("log: a segment rolls exactly when the next record does not fit before the seal slot") {
  // Record bytes = 48 header + 16 prefix + 1 stream + 40 event header + 1 type
  // + data, rounded up to 8: data 1014 -> 1120 bytes, data 774 -> 880.
  // Records fit in 64 KiB - 4096 (header block) - 80 (seal) = 61360 bytes
  // = 54 * 1120 + 880, so 55 records fill the segment to the byte.
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  for (int i = 0; i < 54; ++i) {
    append_one(*log, "s", payload(i, 1014));
  }
  append_one(*log, "s", payload(54, 774));
  CHECK(segment_count(*fs) == 1);
  append_one(*log, "s", "x");
  CHECK(segment_count(*fs) == 2);
  CHECK(fs->exists(segment_path(55)).value());
  REQUIRE(log->close().ok());
  auto reopened = open_log(small_options(fs));
  auto all = read_all(*reopened);
  REQUIRE(all.size() == 56);
  CHECK(all[54].data == payload(54, 774));
  CHECK(all[55].data == "x");
  CHECK(all[55].lsn == 55);
}

TEST_CASE("log: one byte of data less than the boundary keeps the record in the segment") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  for (int i = 0; i < 54; ++i) {
    append_one(*log, "s", payload(i, 1014));
  }
  append_one(*log, "s", payload(54, 775));  // 881 -> 888 bytes: does not fit
  CHECK(segment_count(*fs) == 2);
  CHECK(read_all(*log).size() == 55);
}

TEST_CASE("log: an event of exactly event_bytes_max is accepted and one byte more is refused") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  // type "t" (1 byte) + data.
  auto ok = append_one(*log, "s", std::string(1023, 'm'));
  CHECK(ok.first_lsn == 0);
  const std::string big_data(1024, 'm');
  NewEvent big = event(big_data);
  auto r = log->append("s", ExpectedVersion::any(), {&big, 1});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == Errc::invalid_argument);
  CHECK(r.error().message().find("event_bytes_max") != std::string::npos);
  CHECK(log->next_lsn() == 1);
  CHECK(read_all(*log).back().data == std::string(1023, 'm'));
}

TEST_CASE("log: many small events across many segments survive reopen") {
  auto fs = std::make_shared<MemFileSystem>();
  {
    auto log = open_log(small_options(fs));
    for (int i = 0; i < 5000; ++i) {
      append_one(*log, "stream-" + std::to_string(i % 50), std::to_string(i), Durability::async);
    }
    REQUIRE(log->wait_durable(5000).ok());
    REQUIRE(log->close().ok());
  }
  auto log = open_log(small_options(fs));
  auto all = read_all(*log);
  REQUIRE(all.size() == 5000);
  for (int i = 0; i < 5000; ++i) {
    REQUIRE(all[i].data == std::to_string(i));
    REQUIRE(all[i].version == static_cast<std::uint64_t>(i / 50));
  }
  CHECK(segment_count(*fs) > 2);
}

TEST_CASE("log: bad options are refused with invalid_argument naming the option") {
  auto fs = std::make_shared<MemFileSystem>();
  struct Case {
    const char* name;
    void (*mutate)(LogOptions&);
  };
  const Case cases[] = {
      {"directory", [](LogOptions& o) { o.directory.clear(); }},
      {"event_bytes_max", [](LogOptions& o) { o.event_bytes_max = 0; }},
      {"batch_bytes_max", [](LogOptions& o) { o.batch_bytes_max = 100; }},
      {"write_window_bytes", [](LogOptions& o) { o.write_window_bytes = 4096; }},
      {"segment_bytes", [](LogOptions& o) { o.segment_bytes = 4096; }},
      {"segment_bytes", [](LogOptions& o) { o.segment_bytes = (64 << 10) + 1; }},
      {"segment_bytes",
       [](LogOptions& o) {
         o.event_bytes_max = 60 << 10;
         o.batch_bytes_max = 62 << 10;
         o.write_window_bytes = 64 << 10;
       }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    LogOptions o = small_options(fs);
    c.mutate(o);
    auto log = Log::open(o);
    REQUIRE_FALSE(log.has_value());
    CHECK(log.error().code() == Errc::invalid_argument);
    CHECK(log.error().message().find(c.name) != std::string::npos);
  }
}

TEST_CASE("log: a second open of the same directory fails with busy") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  auto second = Log::open(small_options(fs));
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code() == Errc::busy);
  REQUIRE(log->close().ok());
  CHECK(Log::open(small_options(fs)).has_value());
}

TEST_CASE("log: a directory holding other files is refused as not a Cairn log") {
  auto fs = std::make_shared<MemFileSystem>();
  REQUIRE(fs->create_dir(kDir).ok());
  auto f = fs->open(format::join_path(kDir, "notes.txt"), io::OpenMode::create);
  REQUIRE(f.has_value());
  auto log = Log::open(small_options(fs));
  REQUIRE_FALSE(log.has_value());
  CHECK(log.error().code() == Errc::invalid_argument);
  CHECK(log.error().message().find("not a Cairn log") != std::string::npos);
  // The refused directory is left as it was: no lock file.
  CHECK_FALSE(*fs->exists(format::join_path(kDir, format::kLockFileName)));
  CHECK(fs->list(kDir)->size() == 1);
}

// SPEC.md section 10: derived files left without a log (an operator who
// removed the segments and the meta file) do not make a directory "not a
// Cairn log"; it is empty and a new log is created there.
TEST_CASE("log: a directory holding only derived files counts as empty") {
  for (const char* name : {format::kIdFilterFileName, format::kStreamFilterFileName,
                           format::kLockFileName, "00000000000000000000.idx"}) {
    CAPTURE(name);
    auto fs = std::make_shared<MemFileSystem>();
    REQUIRE(fs->create_dir(kDir).ok());
    REQUIRE(fs->open(format::join_path(kDir, name), io::OpenMode::create).has_value());
    auto log = Log::open(small_options(fs));
    REQUIRE_MESSAGE(log.has_value(), log.status().to_string());
    CHECK((*log)->next_lsn() == 0);
  }
}

TEST_CASE("log: a log of another format version is refused naming both versions") {
  auto fs = std::make_shared<MemFileSystem>();
  { open_log(small_options(fs))->close().ignore(); }
  format::MetaRecord meta;
  meta.format_version = 2;
  meta.log_id = 99;
  std::array<std::byte, format::kMetaBytes> bytes;
  format::encode_meta(meta, bytes);
  REQUIRE(fs->corrupt(format::join_path(kDir, format::kMetaFileName), 0,
                      {reinterpret_cast<const char*>(bytes.data()), bytes.size()})
              .ok());
  auto log = Log::open(small_options(fs));
  REQUIRE_FALSE(log.has_value());
  CHECK(log.error().code() == Errc::invalid_argument);
  CHECK(log.error().message().find("version 2") != std::string::npos);
  CHECK(log.error().message().find("version 1") != std::string::npos);
  // The log's own lock file (there before this open) stays.
  CHECK(*fs->exists(format::join_path(kDir, format::kLockFileName)));
}

TEST_CASE("log: a file given as the directory is refused with invalid_argument") {
  auto fs = std::make_shared<MemFileSystem>();
  REQUIRE(fs->open(kDir, io::OpenMode::create).has_value());
  auto log = Log::open(small_options(fs));
  REQUIRE_FALSE(log.has_value());
  CHECK(log.error().code() == Errc::invalid_argument);
  CHECK(log.error().to_string().find("not a directory") != std::string::npos);
  CHECK(log.error().to_string().find(kDir) != std::string::npos);
}

TEST_CASE("log: create_if_missing=false refuses a missing directory with not_found") {
  auto fs = std::make_shared<MemFileSystem>();
  LogOptions o = small_options(fs);
  o.create_if_missing = false;
  auto log = Log::open(o);
  REQUIRE_FALSE(log.has_value());
  CHECK(log.error().code() == Errc::not_found);
  // An empty directory: refused the same way, and left empty.
  REQUIRE(fs->create_dir(kDir).ok());
  log = Log::open(o);
  REQUIRE_FALSE(log.has_value());
  CHECK(log.error().code() == Errc::not_found);
  CHECK(fs->list(kDir)->empty());
}

TEST_CASE("log: a wrong expected version writes nothing and names the actual version") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  NewEvent e = event("a");
  REQUIRE(log->append("acct", ExpectedVersion::no_stream(), {&e, 1}).has_value());
  auto conflict = log->append("acct", ExpectedVersion::no_stream(), {&e, 1});
  REQUIRE_FALSE(conflict.has_value());
  CHECK(conflict.error().code() == Errc::wrong_expected_version);
  CHECK(conflict.error().message().find("version 0") != std::string::npos);
  CHECK_FALSE(log->append("acct", ExpectedVersion::exact(5), {&e, 1}).has_value());
  CHECK_FALSE(log->append("new", ExpectedVersion::stream_exists(), {&e, 1}).has_value());
  CHECK(log->append("acct", ExpectedVersion::exact(0), {&e, 1}).has_value());
  CHECK(log->append("acct", ExpectedVersion::stream_exists(), {&e, 1}).has_value());
  CHECK(log->next_lsn() == 3);
  CHECK(read_all(*log).size() == 3);
}

TEST_CASE(
    "log: a failed fdatasync poisons the log; durable events stay readable; reopen recovers") {
  auto mem = std::make_shared<MemFileSystem>();
  auto fault = std::make_shared<testing::FaultFileSystem>(mem, 7);
  LogOptions o = small_options(fault);
  auto log = open_log(o);
  for (int i = 0; i < 5; ++i) {
    append_one(*log, "s", payload(i, 100));
  }
  CHECK(log->poison_cause().ok());
  fault->fail_nth(testing::FaultFileSystem::Op::sync, 1);
  NewEvent e = event("lost");
  auto failed = log->append("s", ExpectedVersion::any(), {&e, 1});
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().code() == Errc::io_error);
  CHECK(failed.error().message().find("injected") != std::string::npos);
  auto later = log->append("s", ExpectedVersion::any(), {&e, 1});
  REQUIRE_FALSE(later.has_value());
  CHECK(later.error().code() == Errc::poisoned);
  CHECK(log->poison_cause().code() == Errc::io_error);  // the cause, not "poisoned"
  CHECK(log->durable_lsn() == 5);
  auto readable = read_all(*log);
  CHECK(readable.size() == 5);
  CHECK_FALSE(log->close().ok());
  log.reset();
  mem->crash(CrashPolicy::drop_unsynced, 3);
  auto reopened = open_log(small_options(mem));
  auto all = read_all(*reopened);
  REQUIRE(all.size() >= 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(all[i].data == payload(i, 100));
  }
  CHECK(append_one(*reopened, "s", "again").first_lsn == all.size());
}

TEST_CASE("log: running out of space while preparing a segment poisons with no_space") {
  auto mem = std::make_shared<MemFileSystem>();
  auto fault = std::make_shared<testing::FaultFileSystem>(mem, 11);
  auto log = open_log(small_options(fault));
  fault->enospc_after_bytes(fault->bytes_written() + 40'000);
  Status last;
  for (int i = 0; i < 200 && last.ok(); ++i) {
    const std::string data = payload(i, 1000);
    NewEvent e = event(data);
    last = log->append("s", ExpectedVersion::any(), {&e, 1}).status();
  }
  REQUIRE_FALSE(last.ok());
  CHECK((last.code() == Errc::no_space || last.code() == Errc::poisoned));
  NewEvent e = event("after");
  CHECK(log->append("s", ExpectedVersion::any(), {&e, 1}).error().code() == Errc::poisoned);
  CHECK(log->poison_cause().code() == Errc::no_space);
}

TEST_CASE("log: async appends return before durability and wait_durable makes them durable") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  AppendResult last{};
  for (int i = 0; i < 300; ++i) {
    last = append_one(*log, "s", payload(i, 64), Durability::async);
  }
  REQUIRE(log->wait_durable(last.end_lsn()).ok());
  CHECK(log->durable_lsn() >= 300);
  CHECK(read_all(*log).size() == 300);
}

TEST_CASE("log: Durability::none events are readable and become durable on wait_durable") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  const auto syncs_before = fs->sync_count();
  auto r = append_one(*log, "s", "cache", Durability::none);
  // The committer writes it without an fdatasync.
  for (int i = 0; i < 1000 && read_all(*log).empty(); ++i) {
  }
  CHECK(log->durable_lsn() == 0);
  CHECK(fs->sync_count() == syncs_before);
  REQUIRE(log->wait_durable(r.end_lsn()).ok());
  CHECK(log->durable_lsn() == 1);
}

TEST_CASE("log: the real file system round-trips through close and reopen") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cairn-log-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  LogOptions o;
  o.directory = dir.string();
  o.segment_bytes = 8 << 20;
  {
    auto log = open_log(o);
    for (int i = 0; i < 3000; ++i) {
      append_one(*log, "s", payload(i, 4000), Durability::async);
    }
    REQUIRE(log->wait_durable(3000).ok());
    REQUIRE(log->close().ok());
  }
  auto log = open_log(o);
  auto all = read_all(*log);
  REQUIRE(all.size() == 3000);
  CHECK(all[2999].data == payload(2999, 4000));
  CHECK(log->stats().segment_count >= 2);
  REQUIRE(log->close().ok());
  std::filesystem::remove_all(dir);
}

// Decision 0020 on real files and default options (background segment
// preparation included): an idle session leaves every file as it was.
TEST_CASE("log: a session without appends changes no file on the posix and io_uring backends") {
  for_each_real_backend(
      "idle", [](const std::shared_ptr<io::FileSystem>& real, const std::filesystem::path& dir) {
        LogOptions o;
        o.directory = dir.string();
        o.file_system = real;
        o.segment_bytes = 8 << 20;  // 2500 events of 4000 bytes fill two
        {
          auto log = open_log(o);
          for (int i = 0; i < 2500; ++i) {
            append_one(*log, "s" + std::to_string(i % 5), payload(i, 4000), Durability::async);
          }
          REQUIRE(log->wait_durable(2500).ok());
          REQUIRE(log->close().ok());
        }
        using Snapshot = std::map<std::string, std::pair<std::uintmax_t, std::int64_t>>;
        auto snapshot = [&] {
          Snapshot files;
          for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            files[entry.path().filename().string()] = {
                entry.file_size(), entry.last_write_time().time_since_epoch().count()};
          }
          return files;
        };
        const Snapshot before = snapshot();
        REQUIRE(before.count(format::kRecoveryPointFileName) == 1);
        {
          auto log = open_log(o);
          CHECK(read_all(*log).size() == 2500);
          CHECK(log->next_version("s1").value() == 500);
          CHECK(log->stats().segment_count >= 2);
          REQUIRE(log->close().ok());
        }
        CHECK(snapshot() == before);
      });
}

TEST_CASE(
    "log: a failed fdatasync or a full disk poisons the log on the posix and io_uring backends") {
  for_each_real_backend(
      "poison", [](const std::shared_ptr<io::FileSystem>& real, const std::filesystem::path& dir) {
        for (bool enospc : {false, true}) {
          std::filesystem::remove_all(dir);
          auto fault = std::make_shared<testing::FaultFileSystem>(real, 3);
          LogOptions o = small_options(fault, dir.string());
          auto log = open_log(o);
          append_one(*log, "s", "durable");
          if (enospc) {
            fault->enospc_after_bytes(fault->bytes_written() + 10);
          } else {
            fault->fail_nth(testing::FaultFileSystem::Op::sync, 1);
          }
          const std::string data(200, 'x');
          NewEvent e = event(data);
          auto failed = log->append("s", ExpectedVersion::any(), {&e, 1});
          REQUIRE_FALSE(failed.has_value());
          CHECK(failed.error().code() == (enospc ? Errc::no_space : Errc::io_error));
          CHECK(log->append("s", ExpectedVersion::any(), {&e, 1}).error().code() == Errc::poisoned);
          CHECK(read_all(*log).size() == 1);  // durable events stay readable
          log.reset();
          fault->clear_faults();
          auto reopened = open_log(small_options(real, dir.string()));
          auto all = read_all(*reopened);
          REQUIRE(all.size() >= 1);
          CHECK(all[0].data == "durable");
          CHECK(append_one(*reopened, "s", "after").first_lsn == all.size());
          REQUIRE(reopened->close().ok());
        }
      });
}
