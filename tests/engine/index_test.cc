// Goal: segment indexes are derived data that is written at the seal, used
// when it matches, rebuilt when missing, damaged or stale, and never trusted
// over the log; open reads no more than headers, seals, the recovery point
// and the tail's index; idempotent appends by event id survive restarts and
// rolls; stream heads come from the indexes.
// Method: the in-memory crash model with small segments, plus a file system
// wrapper that counts the bytes read.
#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include "engine/id_filter.h"
#include "engine/segment_index.h"
#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/id_filter_file.h"
#include "format/index_file.h"
#include "format/layout.h"
#include "format/names.h"
#include "format/stream_filter_file.h"
#include "tests/support/forwarding_file_system.h"
#include "tests/support/test_log.h"

using namespace cairn;
using namespace cairn::test;
using testing::MemFileSystem;

namespace {

// Counts the bytes read through it: the measure of what open() touches.
class CountingFileSystem : public ForwardingFileSystem {
 public:
  explicit CountingFileSystem(std::shared_ptr<io::FileSystem> base)
      : ForwardingFileSystem(std::move(base), "counting") {}
  std::atomic<std::uint64_t> bytes_read{0};

 private:
  class CountingFile : public ForwardingFile {
   public:
    CountingFile(std::unique_ptr<io::File> f, std::atomic<std::uint64_t>& n)
        : ForwardingFile(std::move(f)), n_(n) {}
    Result<std::size_t> read_at(std::uint64_t p, std::span<std::byte> out) const override {
      auto r = ForwardingFile::read_at(p, out);
      if (r) {
        n_ += *r;
      }
      return r;
    }

   private:
    std::atomic<std::uint64_t>& n_;
  };

  std::unique_ptr<io::File> wrap(std::unique_ptr<io::File> file) override {
    return std::make_unique<CountingFile>(std::move(file), bytes_read);
  }
};

[[maybe_unused]] std::string index_path(std::uint64_t base) {
  std::string name = format::segment_file_name(base);
  return format::join_path(kDir, name.substr(0, name.size() - 4) + format::kIndexSuffix);
}

// Fills `segments` segments with single-event appends to 10 streams.
std::uint64_t fill(Log& log, int segments) {
  std::uint64_t n = 0;
  while (log.stats().segment_count < static_cast<std::uint64_t>(segments) + 1) {
    append_one(log, "s" + std::to_string(n % 10), payload(n, 400), Durability::async);
    ++n;
  }
  REQUIRE(log.wait_durable(n).ok());
  return n;
}

// `count` payloads of `bytes` bytes and an event over each with a distinct
// id: the event's index in its first four bytes, `tag` in its last. The
// events view the payloads, which a move of the struct leaves in place.
struct IdEvents {
  std::vector<std::string> data;
  std::vector<NewEvent> events;
};
IdEvents events_with_ids(std::uint32_t count, std::size_t bytes, std::uint8_t tag) {
  IdEvents out;
  for (std::uint32_t i = 0; i < count; ++i) {
    out.data.push_back(payload(i, bytes));
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    NewEvent e = event(out.data[i]);
    std::memcpy(e.id.bytes.data(), &i, 4);
    e.id.bytes[15] = tag;
    out.events.push_back(e);
  }
  return out;
}

}  // namespace

TEST_CASE("index: a sealed segment gets an index file that decodes and covers it") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  fill(*log, 1);
  auto bytes = fs->read_file(index_path(0));
  REQUIRE(bytes.has_value());
  auto index = format::decode_index(std::as_bytes(std::span(*bytes)));
  REQUIRE_MESSAGE(index.has_value(), index.status().to_string());
  CHECK(index->base_lsn == 0);
  CHECK(index->end_lsn > 100);
  CHECK(index->sparse.size() > 5);
  CHECK(index->streams.size() == index->end_lsn);  // one record per append
  CHECK(index->sparse.front().position == format::kSegmentHeaderBlockBytes);
}

TEST_CASE(
    "index: open after a clean close reads headers, seals and the tail "
    "index, not the log") {
  auto mem = std::make_shared<MemFileSystem>();
  std::uint64_t events = 0;
  {
    auto log = open_log(small_options(mem));
    events = fill(*log, 12);
    REQUIRE(log->close().ok());
  }
  std::string tail_index;  // the highest base LSN: zero-padded names sort
  const auto names = mem->list(kDir).value();
  for (const auto& name : names) {
    if (name.ends_with(format::kIndexSuffix)) {
      tail_index = std::max(tail_index, name);
    }
  }
  const std::size_t tail_index_bytes = mem->read_file(format::join_path(kDir, tail_index))->size();
  auto counting = std::make_shared<CountingFileSystem>(mem);
  auto log = open_log(small_options(counting));
  const std::uint64_t read = counting->bytes_read;
  MESSAGE("open read " << read << " bytes of a log of " << events << " events in 13 segments");
  // A scan of even one 64 KiB segment would exceed this bound.
  CHECK(read < 13 * (format::kSegmentHeaderBytes + format::kSealRecordBytes) + 40'000);
  // Exactly: the meta file, the recovery point, each segment's header and
  // seal, and the tail's index; no sealed segment's index (the last one's
  // was read at every open for its last time, which a tail with records has).
  CHECK(read == format::kMetaBytes + format::kRecoveryPointBytes +
                    13 * (format::kSegmentHeaderBytes + format::kSealRecordBytes) -
                    format::kSealRecordBytes + tail_index_bytes);
  CHECK(log->next_lsn() == events);
}

TEST_CASE("index: after a crash only the tail segment is scanned at open") {
  auto mem = std::make_shared<MemFileSystem>();
  {
    auto log = open_log(small_options(mem));
    fill(*log, 12);
    // The process dies with the log open: the close in its destructor has
    // no effect (a crash() alone would let it write a recovery point).
    mem->cut_power();
  }
  mem->crash(testing::CrashPolicy::drop_unsynced, 5);
  auto counting = std::make_shared<CountingFileSystem>(mem);
  auto log = open_log(small_options(counting));
  CHECK(counting->bytes_read < 3 * (64u << 10));
}

TEST_CASE(
    "index: missing, damaged and stale index files are rebuilt and never "
    "trusted") {
  auto fs = std::make_shared<MemFileSystem>();
  std::uint64_t events = 0;
  {
    auto log = open_log(small_options(fs));
    events = fill(*log, 3);
    REQUIRE(log->close().ok());
  }
  std::vector<std::string> indexes;
  auto names = fs->list(kDir);
  REQUIRE(names.has_value());
  for (const auto& name : *names) {
    if (name.size() > 4 && name.substr(name.size() - 4) == format::kIndexSuffix) {
      indexes.push_back(format::join_path(kDir, name));
    }
  }
  REQUIRE(indexes.size() >= 3);  // three sealed segments (the tail's comes at close)
  auto original = fs->read_file(indexes[0]);
  auto second = fs->read_file(indexes[1]);
  REQUIRE(original.has_value());
  REQUIRE(second.has_value());
  REQUIRE(fs->remove(indexes[0]).ok());                   // missing
  REQUIRE(fs->corrupt(indexes[1], 100, "garbage").ok());  // damaged
  REQUIRE(fs->corrupt(indexes[2], 0, *second).ok());      // stale: another segment's index
  REQUIRE(fs->set_size(indexes[2], second->size()).ok());
  std::vector<std::string> notices;
  LogOptions o = small_options(fs);
  o.on_notice = [&](std::string_view line) { notices.emplace_back(line); };
  auto log = open_log(o);
  auto all = read_all(*log);
  REQUIRE(all.size() == events);
  for (std::uint64_t i = 0; i < events; ++i) {
    CHECK(all[i].data == payload(i, 400));
  }
  // Every stream's head is found through the rebuilt indexes.
  CHECK(log->next_version("s3").value() == (events + 6) / 10);
  // A read from an LSN inside each segment goes through its offset index.
  for (std::uint64_t from = 0; from < events; from += 17) {
    auto tail = read_all(*log, from);
    REQUIRE(tail.size() == events - from);
    CHECK(tail.front() == all[from]);
  }
  auto rebuilt = fs->read_file(indexes[0]);
  REQUIRE(rebuilt.has_value());
  CHECK(*rebuilt == *original);
  CHECK(fs->read_file(indexes[1]).value() == *second);
  auto noticed = [&](const std::string& path, const char* what) {
    for (const auto& n : notices) {
      if (n.starts_with(path) && n.find(what) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  CHECK(noticed(indexes[1], "rebuilding it from the segment"));             // damaged
  CHECK(noticed(indexes[2], "does not match its segment; rebuilding it"));  // stale
}

TEST_CASE("index: reading from any LSN gives the same events as a full scan") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  const std::uint64_t events = fill(*log, 4);
  auto all = read_all(*log);
  REQUIRE(all.size() == events);
  for (std::uint64_t from = 0; from < events; from += 7) {
    auto tail = read_all(*log, from);
    REQUIRE(tail.size() == events - from);
    CHECK(tail.front() == all[from]);
  }
}

TEST_CASE(
    "idempotency: a retried append returns the original result and "
    "writes nothing") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  std::vector<NewEvent> events = {event("a"), event("b")};
  events[0].id.bytes = {1, 2, 3};
  events[1].id.bytes = {1, 2, 4};
  auto first = log->append("acct", ExpectedVersion::no_stream(), events);
  REQUIRE(first.has_value());
  auto retry = log->append("acct", ExpectedVersion::no_stream(), events);
  REQUIRE_MESSAGE(retry.has_value(), retry.status().to_string());
  CHECK(retry->first_lsn == first->first_lsn);
  CHECK(retry->first_version == 0);
  CHECK(log->next_lsn() == 2);
  // Same ids, different data: refused.
  std::vector<NewEvent> changed = {event("a"), event("B")};
  changed[0].id = events[0].id;
  changed[1].id = events[1].id;
  auto conflict = log->append("acct", ExpectedVersion::any(), changed);
  REQUIRE_FALSE(conflict.has_value());
  CHECK(conflict.error().code() == Errc::invalid_argument);
  CHECK(conflict.error().message().find("different content") != std::string::npos);
}

TEST_CASE(
    "idempotency: retries are recognised after a restart and across "
    "segment rolls") {
  auto fs = std::make_shared<MemFileSystem>();
  const std::string data = payload(7, 300);
  NewEvent e = event(data);
  e.id.bytes = {9, 9, 9};
  AppendResult first{};
  {
    auto log = open_log(small_options(fs));
    first = *log->append("acct", ExpectedVersion::any(), {&e, 1});
    fill(*log, 3);  // the original is now in a sealed segment
    REQUIRE(log->close().ok());
  }
  auto log = open_log(small_options(fs));
  const std::uint64_t before = log->next_lsn();
  auto retry = log->append("acct", ExpectedVersion::any(), {&e, 1});
  REQUIRE_MESSAGE(retry.has_value(), retry.status().to_string());
  CHECK(retry->first_lsn == first.first_lsn);
  CHECK(log->next_lsn() == before);
  // And after a crash (no clean close, no index for the tail on disk).
  append_one(*log, "x", "y");
  fs->cut_power();
  log.reset();
  fs->crash(testing::CrashPolicy::drop_unsynced, 1);
  auto again = open_log(small_options(fs));
  auto retry2 = again->append("acct", ExpectedVersion::any(), {&e, 1});
  REQUIRE(retry2.has_value());
  CHECK(retry2->first_lsn == first.first_lsn);
}

// Segments sealed during the session get the same immutable index as ones
// loaded after a reopen (sorted tables and an id filter): every id in them
// must still be found, and ids not in the log must not be.
TEST_CASE("idempotency: every id is found in segments sealed this session and after a reopen") {
  auto fs = std::make_shared<MemFileSystem>();
  const IdEvents made = events_with_ids(900, 200, 0x5A);
  const std::vector<NewEvent>& events = made.events;
  std::vector<std::uint64_t> lsn_of(events.size());
  const auto retry_all = [&](Log& log) {
    const std::uint64_t before = log.next_lsn();
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto r = log.append("s" + std::to_string(i % 5), ExpectedVersion::any(), {&events[i], 1});
      REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
      REQUIRE(r->first_lsn == lsn_of[i]);
    }
    CHECK(log.next_lsn() == before);
  };
  {
    auto log = open_log(small_options(fs));
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto r = log->append("s" + std::to_string(i % 5), ExpectedVersion::any(), {&events[i], 1});
      REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
      lsn_of[i] = r->first_lsn;
    }
    REQUIRE(log->stats().segment_count >= 4);
    retry_all(*log);
    REQUIRE(log->close().ok());
  }
  auto log = open_log(small_options(fs));
  retry_all(*log);
  // Ids that were never appended are written anew.
  NewEvent fresh = event("fresh");
  fresh.id.bytes[15] = 0xA5;
  const std::uint64_t before = log->next_lsn();
  auto r = log->append("s0", ExpectedVersion::any(), {&fresh, 1});
  REQUIRE(r.has_value());
  CHECK(r->first_lsn == before);
}

TEST_CASE("idempotency: concurrent retries of one append write it once") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  NewEvent e = event("once");
  e.id.bytes = {4, 2};
  std::vector<std::thread> threads;
  std::vector<std::string> outcomes(6);  // "" for the expected result
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      auto r = log->append("s", ExpectedVersion::any(), {&e, 1});
      if (!r) {
        outcomes[t] = r.error().to_string();
      } else if (r->first_lsn != 0) {
        outcomes[t] = "appended again at LSN " + std::to_string(r->first_lsn);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (const std::string& outcome : outcomes) {
    CHECK_MESSAGE(outcome.empty(), outcome);
  }
  CHECK(log->next_lsn() == 1);
}

TEST_CASE(
    "stream heads: expected versions hold after reopen for streams in "
    "sealed segments") {
  auto fs = std::make_shared<MemFileSystem>();
  std::uint64_t events = 0;
  {
    auto log = open_log(small_options(fs));
    append_one(*log, "old-stream", "v0");
    append_one(*log, "old-stream", "v1");
    events = fill(*log, 3) + 2;
    REQUIRE(log->close().ok());
  }
  auto log = open_log(small_options(fs));
  NewEvent e = event("v2");
  CHECK_FALSE(log->append("old-stream", ExpectedVersion::no_stream(), {&e, 1}).has_value());
  auto r = log->append("old-stream", ExpectedVersion::exact(1), {&e, 1});
  REQUIRE(r.has_value());
  CHECK(r->first_version == 2);
  CHECK(log->next_version("never-written").value() == 0);
  CHECK(log->append("never-written", ExpectedVersion::no_stream(), {&e, 1}).has_value());
  CHECK(log->next_lsn() == events + 2);
}

TEST_CASE("time: an explicit recorded time earlier than the log's last is refused") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  append_one(*log, "s", "now");
  NewEvent past = event("past");
  past.time_ns = 1000;
  auto r = log->append("s", ExpectedVersion::any(), {&past, 1});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == Errc::invalid_argument);
  CHECK(log->next_lsn() == 1);
}

// SealedIdFilter (engine/id_filter.h): segments are covered in order, once;
// every added id answers "maybe"; most absent ids answer "no"; levels grow
// so that a full filter keeps its false-positive rate.
TEST_CASE("id filter: covers segments in order, finds every id, rejects most others") {
  const auto id_of = [](std::uint64_t n) {
    EventId id;
    std::memcpy(id.bytes.data(), &n, 8);
    id.bytes[12] = 0x77;
    return id;
  };
  const auto index_with = [&](std::uint64_t first, std::uint64_t count) {
    format::IndexFile f;
    f.base_lsn = first;
    f.end_lsn = first + count;
    for (std::uint64_t i = 0; i < count; ++i) {
      f.ids.push_back(format::IdEntry{id_of(first + i), first + i});
    }
    format::finish_index(f);
    return engine::SegmentIndex(std::move(f));
  };
  engine::SealedIdFilter filter;
  CHECK(filter.covered() == 0);
  CHECK_FALSE(filter.may_contain(format::id_hash(id_of(1))));
  const engine::SegmentIndex a = index_with(0, 50'000);
  const engine::SegmentIndex b = index_with(50'000, 150'000);  // past the first level
  CHECK_FALSE(filter.add(1, b));                               // out of order: refused
  CHECK(filter.covered() == 0);
  REQUIRE(filter.add(0, a));
  CHECK_FALSE(filter.add(0, a));  // never twice
  REQUIRE(filter.add(1, b));
  CHECK(filter.covered() == 2);
  for (std::uint64_t i = 0; i < 200'000; ++i) {
    REQUIRE(filter.may_contain(format::id_hash(id_of(i))));
  }
  std::uint64_t false_positives = 0;
  for (std::uint64_t i = 1'000'000; i < 1'100'000; ++i) {
    false_positives += filter.may_contain(format::id_hash(id_of(i))) ? 1 : 0;
  }
  CHECK(false_positives < 3'000);  // two levels at about 1% each, at most
  CHECK(filter.memory_bytes() > 0);
}

// Goal: with an index cache that has room for one sealed index, every lookup
// that needs a dropped index loads it again: retries by id, stream reads
// (forward and backward), stream heads, reads from an LSN and by time. A
// cache that dropped an index without reloading it, or a per-segment id
// filter that skipped a segment holding the id, fails here.
TEST_CASE("index cache: with room for one sealed index, every lookup still finds what it should") {
  auto fs = std::make_shared<MemFileSystem>();
  constexpr std::uint32_t kEvents = 900;
  constexpr int kStreams = 5;
  const IdEvents made = events_with_ids(kEvents, 200, 0x3C);
  const std::vector<std::string>& data = made.data;
  const std::vector<NewEvent>& events = made.events;
  const auto stream_of = [](std::size_t i) { return "s" + std::to_string(i % kStreams); };
  std::vector<std::uint64_t> lsn_of(kEvents);
  LogOptions tight = small_options(fs);
  tight.index_cache_bytes = 1;  // every load drops the index loaded before it
  {
    auto log = open_log(tight);
    for (std::size_t i = 0; i < kEvents; ++i) {
      auto r = log->append(stream_of(i), ExpectedVersion::any(), {&events[i], 1});
      REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
      lsn_of[i] = r->first_lsn;
    }
    REQUIRE(log->stats().segment_count >= 5);
    REQUIRE(log->close().ok());
  }
  auto log = open_log(tight);
  // Stream heads of streams untouched since open come from the indexes.
  for (int s = 0; s < kStreams; ++s) {
    auto v = log->next_version("s" + std::to_string(s));
    REQUIRE(v.has_value());
    CHECK(*v == kEvents / kStreams);
  }
  // Whole streams, forward and backward.
  for (int s = 0; s < kStreams; ++s) {
    std::vector<std::string> want;
    for (std::size_t i = s; i < kEvents; i += kStreams) {
      want.push_back(data[i]);
    }
    ReadOptions o;
    o.stream = "s" + std::to_string(s);
    auto forward = log->read(o);
    REQUIRE(forward.has_value());
    CHECK(data_of(drain(**forward)) == want);
    o.direction = Direction::backward;
    o.from_version = kFromEnd;
    auto backward = log->read(o);
    REQUIRE(backward.has_value());
    std::vector<std::string> got = data_of(drain(**backward));
    std::reverse(got.begin(), got.end());
    CHECK(got == want);
  }
  // Reads from an LSN in the middle of sealed segments seek by the index.
  for (std::uint64_t from : {std::uint64_t{1}, std::uint64_t{kEvents / 3}, lsn_of[kEvents - 7]}) {
    CHECK(data_of(read_all(*log, from)) ==
          std::vector<std::string>(data.begin() + static_cast<std::ptrdiff_t>(from), data.end()));
  }
  // Every retry is recognised and writes nothing; a fresh id is written.
  const std::uint64_t before = log->next_lsn();
  for (std::size_t i = 0; i < kEvents; i += 7) {
    auto r = log->append(stream_of(i), ExpectedVersion::any(), {&events[i], 1});
    REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
    CHECK(r->first_lsn == lsn_of[i]);
  }
  CHECK(log->next_lsn() == before);
  NewEvent fresh = event("fresh");
  fresh.id.bytes[15] = 0xC3;
  auto r = log->append("s0", ExpectedVersion::any(), {&fresh, 1});
  REQUIRE(r.has_value());
  CHECK(r->first_lsn == before);
  // The cache dropped indexes and held about one at a time.
  const LogStats tight_stats = log->stats();
  CHECK(tight_stats.index_evictions > 0);
  CHECK(tight_stats.index_loads > tight_stats.segment_count);
  REQUIRE(log->close().ok());

  // With no limit (the default): the first id check reads every sealed
  // index to fill the log-wide filter without keeping them; the retries
  // then load and keep the ones they search.
  // Without the filter saved at close, so that the fill runs.
  REQUIRE(fs->remove(std::string(kDir) + "/" + format::kIdFilterFileName).ok());
  auto roomy = open_log(small_options(fs));
  NewEvent another = event("another");
  another.id.bytes[15] = 0xC4;
  auto written = roomy->append("s1", ExpectedVersion::any(), {&another, 1});
  REQUIRE(written.has_value());
  CHECK(written->first_lsn == before + 1);
  const LogStats after_fill = roomy->stats();
  CHECK(after_fill.index_loads >= after_fill.segment_count - 1);
  for (std::size_t i = 0; i < kEvents; i += 7) {
    auto again = roomy->append(stream_of(i), ExpectedVersion::any(), {&events[i], 1});
    REQUIRE(again.has_value());
    CHECK(again->first_lsn == lsn_of[i]);
  }
  const LogStats roomy_stats = roomy->stats();
  CHECK(roomy_stats.index_evictions == 0);
  CHECK(after_fill.index_cache_bytes * 2 < roomy_stats.index_cache_bytes);
  CHECK(tight_stats.index_cache_bytes * 2 < roomy_stats.index_cache_bytes);
}

// Goal: the cache drops and reloads indexes while other threads use them:
// readers holding a dropped index keep it, a segment sealed while an append
// checks its id is searched even if its index was dropped at once. Run
// under TSan in CI.
TEST_CASE("index cache: stream readers and retries race with rolls and evictions") {
  auto fs = std::make_shared<MemFileSystem>();
  LogOptions o = small_options(fs);
  o.index_cache_bytes = 1;
  auto log = open_log(o);
  constexpr std::uint32_t kEvents = 600;
  const IdEvents made = events_with_ids(kEvents, 300, 0x77);
  const std::vector<std::string>& data = made.data;
  const std::vector<NewEvent>& events = made.events;
  std::atomic<std::uint32_t> written{0};
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    for (std::uint32_t i = 0; i < kEvents; ++i) {
      auto r = log->append("w" + std::to_string(i % 3), ExpectedVersion::any(), {&events[i], 1});
      if (!r || r->first_lsn != i) {
        failed = true;
        return;
      }
      written = i + 1;
    }
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      while (written.load() < kEvents && !failed) {
        const std::uint32_t n = written.load();
        if (n == 0) {
          continue;
        }
        // Every event of a stream read so far is in order and complete.
        ReadOptions ro;
        ro.stream = "w" + std::to_string(t);
        auto reader = log->read(ro);
        if (!reader) {
          failed = true;
          return;
        }
        const std::vector<Event> got = drain(**reader);
        for (std::size_t k = 0; k < got.size(); ++k) {
          if (got[k].version != k || got[k].data != data[k * 3 + t]) {
            failed = true;
          }
        }
        // A retry of an acknowledged append gets its LSN back.
        const std::uint32_t i = n - 1 - (n - 1) % 3 + 0;
        auto again =
            log->append("w" + std::to_string(i % 3), ExpectedVersion::any(), {&events[i], 1});
        if (!again || again->first_lsn != i) {
          failed = true;
        }
      }
    });
  }
  writer.join();
  for (auto& r : readers) {
    r.join();
  }
  CHECK_FALSE(failed.load());
  CHECK(log->next_lsn() == kEvents);
  CHECK(log->stats().index_evictions > 0);
}

// Goal: the saved id filter (decision 0016) spares the first id check after
// open from reading every sealed index, without ever hiding an id: after a
// clean close it reads none; after a crash it reads only the segments
// sealed since the file was written; a damaged or foreign file is ignored
// (a notice) and the filter is filled from the indexes. Every retry is still
// recognised in each case: a filter that wrongly said "no" would write it
// twice.
TEST_CASE(
    "id filter file: saved at close, caught up after a crash, ignored when it does not match") {
  auto mem = std::make_shared<MemFileSystem>();
  constexpr std::uint32_t kEvents = 1200;
  const IdEvents made = events_with_ids(kEvents, 200, 0x6D);
  const std::vector<NewEvent>& events = made.events;
  std::vector<std::uint64_t> lsn_of(kEvents);
  LogOptions options = small_options(mem);
  options.index_cache_bytes = 1;
  const auto append_range = [&](Log& log, std::uint32_t from, std::uint32_t to) {
    for (std::uint32_t i = from; i < to; ++i) {
      auto r = log.append("s" + std::to_string(i % 4), ExpectedVersion::any(), {&events[i], 1});
      REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
      lsn_of[i] = r->first_lsn;
    }
  };
  // Index files read by the first id check: a new id, written anew. The
  // stream's head is resolved first, by an append without an id (it reads
  // the indexes too); with room for one index in the cache, the check then
  // finds at most one of them still in memory.
  std::uint8_t fresh_tag = 0;
  const auto loads_of_first_check = [&](Log& log) {
    const std::string no_id = "head of the fresh stream";
    append_one(log, "fresh", no_id);
    const std::uint64_t before = log.stats().index_loads;
    NewEvent fresh = event("fresh");
    fresh.id.bytes[14] = ++fresh_tag;
    fresh.id.bytes[15] = 0xD6;
    const std::uint64_t next = log.next_lsn();
    auto r = log.append("fresh", ExpectedVersion::any(), {&fresh, 1});
    REQUIRE(r.has_value());
    CHECK(r->first_lsn == next);
    return log.stats().index_loads - before;
  };
  const auto retries_found = [&](Log& log, std::uint32_t to) {
    const std::uint64_t before = log.next_lsn();
    for (std::uint32_t i = 0; i < to; i += 5) {
      auto r = log.append("s" + std::to_string(i % 4), ExpectedVersion::any(), {&events[i], 1});
      REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
      REQUIRE(r->first_lsn == lsn_of[i]);
    }
    CHECK(log.next_lsn() == before);
  };
  {
    auto log = open_log(options);
    append_range(*log, 0, 600);
    REQUIRE(log->close().ok());
  }
  auto saved = mem->exists(std::string(kDir) + "/" + format::kIdFilterFileName);
  REQUIRE(saved.has_value());
  REQUIRE(*saved);
  std::uint64_t sealed_before_crash = 0;
  {
    auto log = open_log(options);
    CHECK(loads_of_first_check(*log) == 0);  // the file covers every sealed segment
    retries_found(*log, 600);
    append_range(*log, 600, kEvents);  // seals more segments
    sealed_before_crash = log->stats().segment_count - 1;
    REQUIRE(log->wait_durable(log->next_lsn()).ok());
    mem->cut_power();  // the process dies with the log open: its close has no effect
  }
  mem->crash(testing::CrashPolicy::drop_unsynced, 9);
  std::uint64_t filled_after_crash = 0;
  {
    auto log = open_log(options);
    // The file from the clean close covers a prefix; only the rest is read.
    filled_after_crash = loads_of_first_check(*log);
    CHECK(filled_after_crash > 0);
    CHECK(filled_after_crash + 1 < sealed_before_crash);
    retries_found(*log, kEvents);
    REQUIRE(log->close().ok());
  }
  SUBCASE("a damaged file is ignored") {
    auto file =
        mem->open(std::string(kDir) + "/" + format::kIdFilterFileName, io::OpenMode::read_write);
    REQUIRE(file.has_value());
    const std::byte flip[1] = {std::byte{0x5A}};
    REQUIRE((*file)->write_at(100, flip).ok());
  }
  SUBCASE("a file that covers more than the log is ignored") {
    // The saved filter of this log, then the log loses its last segments:
    // another directory's state. Simulated by a file naming another end.
    auto file =
        mem->open(std::string(kDir) + "/" + format::kIdFilterFileName, io::OpenMode::read_write);
    REQUIRE(file.has_value());
    std::vector<std::byte> bytes(format::kIdFilterHeaderBytes);
    REQUIRE((*file)->read_at(0, bytes).has_value());
    format::store_u64(bytes.data() + 32,
                      format::load_u64(bytes.data() + 32) + 1);  // covered_end_lsn
    format::store_u64(bytes.data() + 56, format::xxh3({bytes.data(), 56}, format::kIdFilterMagic));
    REQUIRE((*file)->write_at(0, bytes).ok());
  }
  std::vector<std::string> notices;
  LogOptions o = options;
  o.on_notice = [&](std::string_view line) { notices.emplace_back(line); };
  auto log = open_log(o);
  const std::uint64_t sealed = log->stats().segment_count - 1;
  CHECK(loads_of_first_check(*log) + 1 >= sealed);  // filled from every index (one may be cached)
  bool named = false;
  for (const auto& n : notices) {
    named = named || n.find(format::kIdFilterFileName) != std::string::npos;
  }
  CHECK(named);
  retries_found(*log, kEvents);
}

// Decision 0017: the first append to a stream after open looks its head up
// segment by segment, newest first; without the segments' stream filters
// that reads every sealed index file. They are saved in streams.filter.
TEST_CASE(
    "stream filter file: the first new stream after open reads no index; an old stream's head "
    "is still found; a file that does not match is ignored") {
  auto mem = std::make_shared<MemFileSystem>();
  LogOptions options = small_options(mem);
  options.index_cache_bytes = 1;  // nothing stays cached: every index use is a load
  const std::string file_path = std::string(kDir) + "/" + format::kStreamFilterFileName;
  std::vector<std::string> notices;
  options.on_notice = [&](std::string_view line) { notices.emplace_back(line); };
  int fresh = 0;
  // Index loads of the first append to a stream no segment holds; it must
  // be written as the stream's version 0.
  const auto loads_of_new_stream = [&](Log& log) {
    const std::uint64_t before = log.stats().index_loads;
    const std::string stream = "fresh-" + std::to_string(++fresh);
    NewEvent e = event("first");
    auto r = log.append(stream, ExpectedVersion::no_stream(), {&e, 1});
    REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
    CHECK(r->first_version == 0);
    return log.stats().index_loads - before;
  };
  // "old" has its first event in the first segment and none after it
  // until this check appends one: its head must be found through every
  // later segment's filter, and a wrong exact version refused.
  std::uint64_t old_last = 0;  // the last version of "old"
  const auto old_head_found = [&](Log& log) {
    NewEvent e = event("again");
    auto wrong = log.append("old", ExpectedVersion::exact(old_last + 5), {&e, 1});
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.status().code() == Errc::wrong_expected_version);
    auto r = log.append("old", ExpectedVersion::exact(old_last), {&e, 1});
    REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
    CHECK(r->first_version == ++old_last);
  };
  {
    auto log = open_log(options);
    append_one(*log, "old", "only event");
    fill(*log, 12);
    REQUIRE(log->close().ok());
  }
  auto saved = mem->read_file(file_path);
  REQUIRE(saved.has_value());
  const auto first_save = std::as_bytes(std::span(*saved));
  const std::vector<std::byte> first_bytes(first_save.begin(), first_save.end());
  std::uint64_t sealed_before_crash = 0;
  {
    auto log = open_log(options);
    CHECK(loads_of_new_stream(*log) == 0);  // every sealed segment's filter came from the file
    std::uint64_t before = log->stats().index_loads;
    old_head_found(*log);
    CHECK(log->stats().index_loads - before <= 2);  // its segment, and at most a false positive
    // A stream read asks the same filters: "old" is in the first segment
    // (and the tail); every other sealed index is skipped.
    before = log->stats().index_loads;
    ReadOptions read_old;
    read_old.stream = "old";
    auto reader = log->read(read_old);
    REQUIRE(reader.has_value());
    CHECK(data_of(drain(**reader)) == std::vector<std::string>{"only event", "again"});
    CHECK(log->stats().index_loads - before <= 2);
    fill(*log, 24);  // seals 12 more, whose filters the file lacks
    sealed_before_crash = log->stats().segment_count - 1;
    mem->cut_power();  // dies with the log open: no save at close
  }
  mem->crash(testing::CrashPolicy::drop_unsynced, 5);
  {
    auto log = open_log(options);
    const std::uint64_t caught_up = loads_of_new_stream(*log);
    CHECK(caught_up > 0);  // only the segments sealed after the file
    CHECK(caught_up + 8 < sealed_before_crash);
    // That lookup read 8 or more indexes, so it saved the file at once,
    // covering every sealed segment: by appending their frames to the
    // file, whose earlier bytes stay as they were, and fdatasyncing it (no
    // rename, so nothing for a power cut to undo; the open below checks).
    auto bytes = mem->read_file(file_path);
    REQUIRE(bytes.has_value());
    const auto now = std::as_bytes(std::span(*bytes));
    REQUIRE(now.size() > first_bytes.size());
    CHECK(std::equal(first_bytes.begin(), first_bytes.end(), now.begin()));
    auto decoded = format::decode_stream_filters(now);
    REQUIRE(decoded.has_value());
    CHECK(decoded->stopped.empty());
    CHECK(decoded->segments.size() == log->stats().segment_count - 1);
    REQUIRE(log->wait_durable(log->next_lsn()).ok());
    mem->cut_power();
  }
  mem->crash(testing::CrashPolicy::drop_unsynced, 6);
  {
    auto log = open_log(options);
    CHECK(loads_of_new_stream(*log) == 0);
    old_head_found(*log);
    REQUIRE(log->close().ok());
  }
  // A notice about reading the file ("<path>: frame 0 does not match..."),
  // not a failed save (a close after the power cut may try one, and fail).
  const auto file_named = [&] {
    bool named = false;
    for (const auto& n : notices) {
      named = named ||
              (n.find(std::string(format::kStreamFilterFileName) + ": ") != std::string::npos &&
               !n.starts_with("could not save"));
    }
    return named;
  };
  CHECK_FALSE(file_named());
  // The file's first frame is unusable: every sealed segment's filter comes
  // from its index (no early return in a subcase: doctest would then not
  // discover the subcases after it).
  const auto none_used = [&] {
    auto log = open_log(options);
    const std::uint64_t sealed = log->stats().segment_count - 1;
    // Read from every index instead (one may be in memory since open).
    CHECK(loads_of_new_stream(*log) + 1 >= sealed);
    CHECK(file_named());
    old_head_found(*log);
  };
  // The file's bytes now, to change and write back with write_back().
  const auto file_bytes = [&] {
    auto bytes = mem->read_file(file_path);
    REQUIRE(bytes.has_value());
    const auto all = std::as_bytes(std::span(*bytes));
    return std::vector<std::byte>(all.begin(), all.end());
  };
  const auto write_back = [&](std::span<const std::byte> bytes) {
    auto file = mem->open(file_path, io::OpenMode::read_write);
    REQUIRE(file.has_value());
    REQUIRE((*file)->write_at(0, bytes).ok());
    REQUIRE((*file)->sync_data().ok());
  };
  // The file as saved now, decoded (it must decode).
  const auto saved_filters = [&] {
    auto decoded = format::decode_stream_filters(file_bytes());
    REQUIRE(decoded.has_value());
    return std::move(*decoded);
  };
  // An open that names the file in a notice, reads at most `most_loads`
  // indexes for a new stream, finds the old stream's head, and closes
  // (saving the file again).
  const auto open_noticing = [&](std::uint64_t most_loads) {
    auto log = open_log(options);
    CHECK(loads_of_new_stream(*log) <= most_loads);
    CHECK(file_named());
    old_head_found(*log);
    REQUIRE(log->close().ok());
  };
  // A frame changed on purpose gets its checksum again, so that only the
  // engine's match against the log can refuse it.
  const auto restamp_frame = [](std::byte* frame, std::uint64_t log_id) {
    const std::size_t checked =
        format::kStreamFilterFrameHeaderBytes + 8 * format::load_u64(frame + 24);
    format::store_u64(frame + checked,
                      format::xxh3({frame, checked}, format::kStreamFilterMagic ^ log_id));
  };
  SUBCASE("a frame in the middle that does not match, and frames past the log's segments") {
    // As if segment 3 had been recovered into a tail and sealed again
    // differently: frames 0-2 still count, 3 and after come from the
    // indexes, and the next save cuts the file at frame 3 (dropping the
    // two frames of segments the log does not have) and appends.
    std::vector<std::byte> b = file_bytes();
    auto before = format::decode_stream_filters(b);
    REQUIRE(before.has_value());
    const std::size_t frames = before->segments.size();
    REQUIRE(frames > 12);
    const std::uint64_t log_id = before->log_id;
    std::byte* third = b.data() + before->frame_ends[2];
    format::store_u64(third + 16, format::load_u64(third + 16) ^ 1);  // its end chain
    restamp_frame(third, log_id);
    const std::uint64_t end = before->segments.back().end_lsn;
    const std::vector<format::StreamFilterFrame> extra{{end, end + 10, 0x1234, {}},
                                                       {end + 10, end + 20, 0x5678, {}}};
    format::append_stream_filter_frames(log_id, extra, b);
    write_back(b);
    {
      auto log = open_log(options);
      const std::uint64_t loads = loads_of_new_stream(*log);
      CHECK(loads > 0);
      CHECK(loads <= frames - 3 + 1);  // frames 0-2 were used
      CHECK(file_named());             // "streams.filter: frame 3 does not match the log; ..."
      old_head_found(*log);
      REQUIRE(log->close().ok());
    }
    const auto after = saved_filters();
    CHECK(after.stopped.empty());
    CHECK(after.segments.size() == frames);  // the two extra frames are gone
    CHECK(after.segments[3] == before->segments[3]);
    auto log = open_log(options);
    CHECK(loads_of_new_stream(*log) == 0);
  }
  SUBCASE("bytes after the last frame") {
    // Every frame still counts; the next save cuts the bytes off even
    // though it has no frame to add (SPEC.md 13.2).
    auto file = mem->open(file_path, io::OpenMode::read_write);
    REQUIRE(file.has_value());
    auto size = (*file)->size();
    REQUIRE(size.has_value());
    const std::byte junk[10] = {std::byte{1}, std::byte{2}, std::byte{3}};
    REQUIRE((*file)->write_at(*size, junk).ok());
    open_noticing(0);  // "streams.filter: frame N at byte B: ..."
    CHECK(mem->read_file(file_path)->size() == *size);
    CHECK(saved_filters().stopped.empty());
  }
  SUBCASE("a save torn inside its last frame") {
    // The frames before it still count: only the last sealed segment's
    // index is read, and the next save overwrites the torn bytes.
    auto file = mem->open(file_path, io::OpenMode::read_write);
    REQUIRE(file.has_value());
    auto size = (*file)->size();
    REQUIRE(size.has_value());
    REQUIRE((*file)->truncate(*size - 5).ok());
    open_noticing(2);  // "streams.filter: frame N at byte B: ..."
    const auto decoded = saved_filters();
    CHECK(decoded.stopped.empty());
    auto log = open_log(options);
    CHECK(decoded.segments.size() == log->stats().segment_count - 1);
    CHECK(loads_of_new_stream(*log) == 0);
  }
  SUBCASE("a damaged file") {
    auto file = mem->open(file_path, io::OpenMode::read_write);
    REQUIRE(file.has_value());
    const std::byte flip[1] = {std::byte{0x5A}};
    REQUIRE((*file)->write_at(format::kStreamFilterHeaderBytes + 40, flip).ok());  // frame 0
    none_used();
  }
  SUBCASE("a file whose first segment's chain is not the log's") {
    // As if saved from another history of the same log id: every field
    // valid, the checksums restamped, one segment's end chain different.
    auto file = mem->open(file_path, io::OpenMode::read_write);
    REQUIRE(file.has_value());
    auto size = (*file)->size();
    REQUIRE(size.has_value());
    std::vector<std::byte> bytes(*size);
    REQUIRE((*file)->read_at(0, bytes).has_value());
    std::byte* frame = bytes.data() + format::kStreamFilterHeaderBytes;
    format::store_u64(frame + 16, format::load_u64(frame + 16) ^ 1);  // its end chain
    restamp_frame(frame, format::load_u64(bytes.data() + 16));
    REQUIRE((*file)->write_at(0, bytes).ok());
    none_used();
  }
  SUBCASE("a last frame whose end LSN alone is not its segment's") {
    // Base LSN and end chain match; the end LSN one more (no frame after
    // it, so the file decodes). The frame is not used, and the next save
    // writes it again with the segment's end LSN.
    std::vector<std::byte> b = file_bytes();
    auto before = format::decode_stream_filters(b);
    REQUIRE(before.has_value());
    const std::size_t frames = before->segments.size();
    REQUIRE(frames >= 2);
    std::byte* last = b.data() + before->frame_ends[frames - 2];
    REQUIRE(format::load_u64(last + 8) == before->segments.back().end_lsn);
    format::store_u64(last + 8, format::load_u64(last + 8) + 1);
    restamp_frame(last, before->log_id);
    write_back(b);
    // That segment's filter comes from its index (which open may have
    // loaded already); the others' from the file.
    open_noticing(1);  // "streams.filter: frame N does not match the log; ..."
    const auto decoded = saved_filters();
    REQUIRE(decoded.segments.size() == frames);
    CHECK(decoded.segments.back().end_lsn == before->segments.back().end_lsn);
  }
}
