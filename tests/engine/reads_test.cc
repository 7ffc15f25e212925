// Goal: Log::read and Log::lsn_after_time as ReadOptions documents them —
// stream reads forward and backward from any version with limits, global
// reads backward, "as of" reads at exact LSN and time boundaries, category
// and type filters — across many segments, before and after a reopen.
// Method: the in-memory crash model with 64 KiB segments; events carry
// explicit, increasing times so that time boundaries are exact; every read
// is checked against a model built from read_all().
#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <iterator>
#include <map>

#include "format/layout.h"
#include "format/names.h"
#include "tests/support/test_log.h"

using namespace cairn;
using namespace cairn::test;
using testing::MemFileSystem;

namespace {

constexpr std::uint64_t kEnd = ~0ull;
constexpr std::int64_t kTime0 = 1'700'000'000'000'000'000;

// Event i: stream "<category>-<n>" (three categories, a few streams each),
// type "even"/"odd", time kTime0 + 10 * i (so t - 1 and t + 1 never match).
std::string stream_of(int i) {
  static const char* categories[] = {"account-", "order-", "user-"};
  return std::string(categories[i % 3]) + std::to_string(i % 7);
}
std::int64_t time_of(std::uint64_t lsn) { return kTime0 + 10 * static_cast<std::int64_t>(lsn); }

// Appends `n` single-event appends, 300 bytes each: with 64 KiB segments
// that is a roll every ~180 events.
void fill_log(Log& log, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string data = payload(i, 300);
    NewEvent e = event(data, i % 2 ? "odd" : "even");
    e.time_ns = time_of(static_cast<std::uint64_t>(i));
    auto r = log.append(stream_of(i), ExpectedVersion::any(), {&e, 1});
    REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
  }
}

std::vector<Event> read(Log& log, const ReadOptions& options) {
  auto reader = log.read(options);
  REQUIRE_MESSAGE(reader.has_value(), reader.status().to_string());
  std::vector<Event> out;
  EventView v;
  while (true) {
    auto more = (*reader)->next(v);
    REQUIRE_MESSAGE(more.has_value(), more.status().to_string());
    if (!*more) {
      break;
    }
    out.push_back(Event::from_view(v));
  }
  return out;
}

std::vector<std::uint64_t> lsns(const std::vector<Event>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) {
    out.push_back(e.lsn);
  }
  return out;
}

// The model: LSNs of the events that satisfy `keep`, ascending.
template <class Keep>
std::vector<std::uint64_t> model(const std::vector<Event>& all, Keep keep) {
  std::vector<std::uint64_t> out;
  for (const auto& e : all) {
    if (keep(e)) {
      out.push_back(e.lsn);
    }
  }
  return out;
}

std::vector<std::uint64_t> reversed(std::vector<std::uint64_t> v) {
  std::reverse(v.begin(), v.end());
  return v;
}

std::vector<std::uint64_t> first_n(std::vector<std::uint64_t> v, std::size_t n) {
  v.resize(std::min(v.size(), n));
  return v;
}

ReadOptions stream_read(const std::string& stream, std::uint64_t from_version,
                        Direction direction = Direction::forward) {
  ReadOptions o;
  o.stream = stream;
  o.from_version = from_version;
  o.direction = direction;
  return o;
}

ReadOptions backward_from(std::uint64_t lsn) {
  ReadOptions o;
  o.direction = Direction::backward;
  o.from_lsn = lsn;
  return o;
}

// Stream reads over every stream, versions checked, from a few versions.
void check_stream_reads(Log& log, const std::vector<Event>& all) {
  for (int s = 0; s < 21; ++s) {
    const std::string stream = stream_of(s);
    const auto whole = model(all, [&](const Event& e) { return e.stream == stream; });
    REQUIRE(whole.size() > 10);
    const auto forward = read(log, stream_read(stream, 0));
    CHECK(lsns(forward) == whole);
    for (std::size_t v = 0; v < forward.size(); ++v) {
      CHECK(forward[v].version == v);
      CHECK(forward[v].stream == stream);
    }
    CHECK(lsns(read(log, stream_read(stream, kEnd, Direction::backward))) == reversed(whole));
    const std::uint64_t mid = whole.size() / 2;
    const std::vector<std::uint64_t> tail(whole.begin() + mid, whole.end());
    const std::vector<std::uint64_t> head(whole.begin(), whole.begin() + mid + 1);
    CHECK(lsns(read(log, stream_read(stream, mid))) == tail);
    CHECK(lsns(read(log, stream_read(stream, mid, Direction::backward))) == reversed(head));
    CHECK(read(log, stream_read(stream, whole.size())).empty());
    // Past the head backward means "from the head".
    CHECK(lsns(read(log, stream_read(stream, whole.size() + 5, Direction::backward))) ==
          reversed(whole));
  }
}

}  // namespace

TEST_CASE("reads: stream reads across many segments, forward and backward from any version") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  fill_log(*log, 1500);
  REQUIRE(log->stats().segment_count >= 6);
  const auto all = read_all(*log);
  REQUIRE(all.size() == 1500);
  check_stream_reads(*log, all);
  CHECK(read(*log, stream_read("no-such-stream", 0)).empty());
  CHECK(read(*log, stream_read("no-such-stream", kEnd, Direction::backward)).empty());
  // After a reopen, sealed segments are read from their files.
  REQUIRE(log->close().ok());
  log.reset();
  auto reopened = open_log(small_options(fs));
  check_stream_reads(*reopened, all);
}

TEST_CASE("reads: limits on stream and global reads, both directions") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  fill_log(*log, 600);
  const auto all = read_all(*log);
  const std::string stream = stream_of(4);
  const auto whole = model(all, [&](const Event& e) { return e.stream == stream; });
  for (std::uint64_t limit : {0ull, 1ull, 7ull, 1000ull}) {
    CAPTURE(limit);
    ReadOptions o = stream_read(stream, 0);
    o.limit = limit;
    CHECK(lsns(read(*log, o)) == first_n(whole, limit));
    o = stream_read(stream, kEnd, Direction::backward);
    o.limit = limit;
    CHECK(lsns(read(*log, o)) == first_n(reversed(whole), limit));
    o = ReadOptions{};
    o.from_lsn = 250;
    o.limit = limit;
    CHECK(lsns(read(*log, o)) ==
          first_n(model(all, [](const Event& e) { return e.lsn >= 250; }), limit));
    o = backward_from(kEnd);
    o.limit = limit;
    CHECK(lsns(read(*log, o)) == first_n(reversed(lsns(all)), limit));
  }
}

TEST_CASE("reads: the global log backward, from the end or from any LSN") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  fill_log(*log, 900);
  const auto all = read_all(*log);
  const auto backward = read(*log, backward_from(kEnd));
  CHECK(lsns(backward) == reversed(lsns(all)));
  for (std::size_t i = 0; i < all.size(); i += 97) {
    CHECK(backward[all.size() - 1 - i] == all[i]);  // byte-identical events
  }
  for (std::uint64_t from : {0ull, 1ull, 179ull, 180ull, 181ull, 500ull, 899ull, 900ull, 5000ull}) {
    CAPTURE(from);
    CHECK(lsns(read(*log, backward_from(from))) ==
          reversed(model(all, [&](const Event& e) { return e.lsn <= from; })));
  }
  auto empty = open_log(small_options(std::make_shared<MemFileSystem>()));
  CHECK(read(*empty, backward_from(kEnd)).empty());
}

TEST_CASE("reads: backward reads of segments larger than one chunk, and of multi-event appends") {
  auto fs = std::make_shared<MemFileSystem>();
  LogOptions o = small_options(fs);
  o.segment_bytes = 2 << 20;  // several 256 KiB chunks per segment
  o.write_window_bytes = 64 << 10;
  auto log = open_log(o);
  for (int i = 0; i < 1200; ++i) {
    // Appends of 1 to 5 events: a batch's events come back in reverse too.
    std::vector<std::string> data;
    std::vector<NewEvent> events;
    for (int k = 0; k <= i % 5; ++k) {
      data.push_back(payload(i * 8 + k, 900));
    }
    for (const auto& d : data) {
      events.push_back(event(d));
    }
    auto r = log->append(stream_of(i), ExpectedVersion::any(), events);
    REQUIRE(r.has_value());
  }
  REQUIRE(log->stats().segment_count >= 2);
  const auto all = read_all(*log);
  CHECK(lsns(read(*log, backward_from(kEnd))) == reversed(lsns(all)));
  const auto stream = read(*log, stream_read(stream_of(3), kEnd, Direction::backward));
  REQUIRE(!stream.empty());
  for (std::size_t i = 0; i < stream.size(); ++i) {
    CHECK(stream[i].version == stream.size() - 1 - i);
  }
}

TEST_CASE("reads: as of an LSN, at exact boundaries") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  fill_log(*log, 600);
  const auto all = read_all(*log);
  for (std::uint64_t until : {0ull, 1ull, 180ull, 181ull, 599ull, 600ull}) {
    CAPTURE(until);
    const auto below = [&](const Event& e) { return e.lsn < until; };
    ReadOptions o;
    o.until_lsn = until;
    CHECK(lsns(read(*log, o)) == model(all, below));
    o = backward_from(kEnd);
    o.until_lsn = until;
    CHECK(lsns(read(*log, o)) == reversed(model(all, below)));
    const std::string stream = stream_of(5);
    o = stream_read(stream, 0);
    o.until_lsn = until;
    const auto in_stream =
        model(all, [&](const Event& e) { return below(e) && e.stream == stream; });
    CHECK(lsns(read(*log, o)) == in_stream);
    o = stream_read(stream, kEnd, Direction::backward);
    o.until_lsn = until;
    CHECK(lsns(read(*log, o)) == reversed(in_stream));
  }
}

TEST_CASE("reads: as of a time: an event's own time includes it, one ns earlier excludes it") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  fill_log(*log, 600);
  const auto all = read_all(*log);
  const std::string stream = stream_of(2);
  for (std::uint64_t k : {0ull, 1ull, 2ull, 179ull, 300ull, 599ull}) {
    for (std::int64_t t : {time_of(k), time_of(k) - 1}) {
      CAPTURE(k);
      CAPTURE(t - kTime0);
      const auto at_t = [&](const Event& e) { return e.time_ns <= t; };
      CHECK(model(all, at_t).size() == (t == time_of(k) ? k + 1 : k));
      ReadOptions o;
      o.until_time_ns = t;
      CHECK(lsns(read(*log, o)) == model(all, at_t));
      o = backward_from(kEnd);
      o.until_time_ns = t;
      CHECK(lsns(read(*log, o)) == reversed(model(all, at_t)));
      const auto in_stream =
          model(all, [&](const Event& e) { return at_t(e) && e.stream == stream; });
      o = stream_read(stream, 0);
      o.until_time_ns = t;
      CHECK(lsns(read(*log, o)) == in_stream);
      o = stream_read(stream, kEnd, Direction::backward);
      o.until_time_ns = t;
      CHECK(lsns(read(*log, o)) == reversed(in_stream));
    }
  }
  ReadOptions before_all;
  before_all.until_time_ns = kTime0 - 1;
  CHECK(read(*log, before_all).empty());
}

TEST_CASE("reads: times stamped by the log bound as-of reads like explicit ones") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  for (int i = 0; i < 50; ++i) {
    append_one(*log, "s", payload(i, 20));
  }
  const auto all = read_all(*log);
  for (std::size_t i = 1; i < all.size(); ++i) {
    REQUIRE(all[i].time_ns >= all[i - 1].time_ns);  // non-decreasing in LSN order
  }
  const std::int64_t t = all[25].time_ns;
  ReadOptions o = stream_read("s", 0);
  o.until_time_ns = t;
  CHECK(lsns(read(*log, o)) == model(all, [&](const Event& e) { return e.time_ns <= t; }));
}

TEST_CASE("reads: category and type filters on global reads, both directions") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  fill_log(*log, 600);
  const auto all = read_all(*log);
  struct Case {
    std::string prefix;
    std::string type;
  };
  for (const Case& c : {Case{"account-", ""}, Case{"", "odd"}, Case{"order-", "even"},
                        Case{"user-1", ""}, Case{"nothing-", ""}, Case{"", "none"}}) {
    CAPTURE(c.prefix);
    CAPTURE(c.type);
    const auto keep = [&](const Event& e) {
      return e.stream.starts_with(c.prefix) && (c.type.empty() || e.type == c.type);
    };
    ReadOptions o;
    o.stream_prefix = c.prefix;
    o.event_type = c.type;
    CHECK(lsns(read(*log, o)) == model(all, keep));
    o.limit = 5;
    CHECK(lsns(read(*log, o)) == first_n(model(all, keep), 5));
    o = backward_from(400);
    o.stream_prefix = c.prefix;
    o.event_type = c.type;
    o.until_time_ns = time_of(300);
    CHECK(lsns(read(*log, o)) ==
          reversed(model(all, [&](const Event& e) { return keep(e) && e.lsn <= 300; })));
  }
}

TEST_CASE("reads: lsn_after_time at and around every boundary") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  auto none = log->lsn_after_time(kTime0);
  REQUIRE(none.has_value());
  CHECK(*none == 0);  // an empty log
  fill_log(*log, 400);
  const auto after = [&](std::int64_t t) {
    auto r = log->lsn_after_time(t);
    REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
    return *r;
  };
  CHECK(after(INT64_MIN) == 0);
  CHECK(after(kTime0 - 1) == 0);
  for (std::uint64_t k : {0ull, 1ull, 179ull, 180ull, 181ull, 398ull}) {
    CAPTURE(k);
    CHECK(after(time_of(k)) == k + 1);
    CHECK(after(time_of(k) - 1) == k);
    CHECK(after(time_of(k) + 1) == k + 1);
  }
  CHECK(after(time_of(399)) == 400);
  CHECK(after(INT64_MAX) == log->next_lsn());
}

TEST_CASE("reads: events that share a time (one multi-event append) are all in or all out") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  std::vector<NewEvent> batch(4, event("x"));
  for (auto& e : batch) {
    e.time_ns = kTime0 + 100;
  }
  NewEvent before = event("a");
  before.time_ns = kTime0;
  REQUIRE(log->append("s", ExpectedVersion::any(), {&before, 1}).has_value());
  REQUIRE(log->append("s", ExpectedVersion::any(), batch).has_value());
  CHECK(log->lsn_after_time(kTime0 + 99).value() == 1);
  CHECK(log->lsn_after_time(kTime0 + 100).value() == 5);
  ReadOptions o = stream_read("s", kEnd, Direction::backward);
  o.until_time_ns = kTime0 + 99;
  CHECK(lsns(read(*log, o)) == std::vector<std::uint64_t>{0});
  o.until_time_ns = kTime0 + 100;
  CHECK(lsns(read(*log, o)) == std::vector<std::uint64_t>{4, 3, 2, 1, 0});
}

TEST_CASE("reads: stream reads on the real posix and io_uring backends match the global log") {
  // The stream reader reads its records in groups through
  // FileSystem::read_many (one io_uring submission per group), first 512
  // bytes each, then as much as the largest record seen; records larger
  // than that are read again whole. Mixed sizes and multi-event records
  // exercise each path.
  for_each_real_backend("reads", [](const std::shared_ptr<io::FileSystem>& real,
                                    const std::filesystem::path& dir) {
    auto log = open_log(small_options(real, dir.string()));
    for (int i = 0; i < 900; ++i) {
      const int events = 1 + i % 3;
      std::vector<std::string> data;
      std::vector<NewEvent> batch;
      for (int k = 0; k < events; ++k) {
        data.push_back(payload(i * 10 + k, 20 + (i * 37 + k * 300) % 900));
      }
      for (const auto& d : data) {
        batch.push_back(event(d));
      }
      REQUIRE(log->append("s" + std::to_string(i % 5), ExpectedVersion::any(), batch).has_value());
    }
    const std::vector<Event> all = read_all(*log);
    for (int s = 0; s < 5; ++s) {
      const std::string stream = "s" + std::to_string(s);
      std::vector<Event> expected;
      std::copy_if(all.begin(), all.end(), std::back_inserter(expected),
                   [&](const Event& e) { return e.stream == stream; });
      REQUIRE(expected.size() > 300);
      ReadOptions o;
      o.stream = stream;
      CHECK(read(*log, o) == expected);
      o.from_version = 100;
      o.limit = 7;
      CHECK(read(*log, o) == std::vector<Event>(expected.begin() + 100, expected.begin() + 107));
      o.direction = Direction::backward;
      o.from_version = kEnd;
      o.limit = ~0ull;
      std::vector<Event> reversed(expected.rbegin(), expected.rend());
      CHECK(read(*log, o) == reversed);
    }
    REQUIRE(log->close().ok());
  });
}

// Forward reads of sealed segments go through a shared read-only mapping
// (LogOptions::map_sealed_segments) on the real backends. Checked against
// what was appended, with mapping on and off, from several LSNs, and with a
// reader that starts in the tail and crosses into it after it is sealed.
TEST_CASE("reads: forward reads through mapped sealed segments match what was appended") {
  for_each_real_backend("mapped", [](const std::shared_ptr<io::FileSystem>& real,
                                     const std::filesystem::path& dir) {
    LogOptions options = small_options(real, dir.string());
    auto log = open_log(options);
    std::vector<std::string> appended;
    const auto append_some = [&](int n) {
      for (int i = 0; i < n; ++i) {
        const auto k = appended.size();
        appended.push_back(payload(k, 20 + (k * 37) % 900));
        append_one(*log, "s" + std::to_string(k % 7), appended.back());
      }
    };
    append_some(20);
    // A reader opened while its segment is the tail; it reads on after that
    // segment is sealed and mapped.
    auto early = log->read_from(0);
    REQUIRE(early.has_value());
    EventView v;
    std::vector<std::string> early_data;
    for (int i = 0; i < 10; ++i) {
      auto more = (*early)->next(v);
      REQUIRE(more.has_value());
      REQUIRE(*more);
      early_data.emplace_back(v.data);
    }
    append_some(600);  // several rolls of 64 KiB segments
    for (auto& data : data_of(drain(**early))) {
      early_data.push_back(std::move(data));
    }
    CHECK(early_data == appended);
    const std::vector<Event> mapped_all = read_all(*log);
    CHECK(data_of(mapped_all) == appended);
    for (std::size_t views : {1u, 5u, 256u}) {
      auto reader = log->read_from(0);
      REQUIRE(reader.has_value());
      CHECK(drain_many(**reader, views) == mapped_all);  // views valid across segment ends
    }
    for (std::uint64_t from : {1ull, 137ull, 401ull, 619ull}) {
      CHECK(data_of(read_all(*log, from)) ==
            std::vector<std::string>(appended.begin() + static_cast<long>(from), appended.end()));
    }
    REQUIRE(log->close().ok());
    log.reset();
    options.map_sealed_segments = false;
    auto unmapped = open_log(options);
    CHECK(read_all(*unmapped) == mapped_all);
    auto reader = unmapped->read_from(0);
    REQUIRE(reader.has_value());
    CHECK(drain_many(**reader, 256) == mapped_all);
    REQUIRE(unmapped->close().ok());
  });
}

// The forward reader's read_at path (MemFileSystem does not map): segments
// of several 1 MiB read chunks, records that straddle a chunk's end, and
// records larger than a chunk (the buffer grows to fit), read from the
// start, from LSNs inside later chunks, and by a reader that follows the
// tail while it grows.
TEST_CASE("reads: forward reads across read chunks, records straddling them, records larger") {
  auto fs = std::make_shared<MemFileSystem>();
  LogOptions o = small_options(fs);
  o.segment_bytes = 8 << 20;
  o.write_window_bytes = 3 << 20;
  o.event_bytes_max = 2 << 20;
  o.batch_bytes_max = 3 << 20;
  auto log = open_log(o);
  auto follower = log->read_from(0);
  REQUIRE(follower.has_value());
  std::vector<std::string> appended;
  std::vector<std::string> followed;
  for (int i = 0; i < 60; ++i) {
    // Mostly 10-200 KiB, every seventh 1.5 MiB: larger than a read chunk.
    const std::size_t bytes = i % 7 == 3 ? (3u << 19) : 10'000 + (i * 7919) % 190'000;
    appended.push_back(payload(i, bytes));
    append_one(*log, "s" + std::to_string(i % 3), appended.back());
    if (i % 5 == 0) {
      for (auto& data : data_of(drain(**follower))) {
        followed.push_back(std::move(data));
      }
    }
  }
  REQUIRE(log->stats().segment_count >= 2);
  for (auto& data : data_of(drain(**follower))) {
    followed.push_back(std::move(data));
  }
  CHECK(followed == appended);
  for (std::uint64_t from : {0ull, 5ull, 17ull, 31ull, 59ull}) {
    const std::vector<std::string> want(appended.begin() + static_cast<long>(from), appended.end());
    CHECK(data_of(read_all(*log, from)) == want);
    // next_many() must end its call before a buffer refill or growth: the
    // views it handed out point into that buffer.
    for (std::size_t views : {2u, 64u}) {
      auto reader = log->read_from(from);
      REQUIRE(reader.has_value());
      CHECK(data_of(drain_many(**reader, views)) == want);
    }
  }
}

// next_many() against next(): multi-event batches (a start inside a batch,
// fewer views than a batch holds), many segments, a reader that follows the
// tail, and the number of calls (it must hand out many events per call, not
// one). The stream reader, which keeps the default, returns one per call.
TEST_CASE("reads: next_many hands out the events of next(), many per call, from any LSN") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  auto follower = log->read_from(0);
  REQUIRE(follower.has_value());
  std::vector<Event> followed;
  std::vector<std::string> data;
  for (int i = 0; i < 300; ++i) {
    std::vector<NewEvent> batch;
    const int events = 1 + i % 5;
    for (int k = 0; k < events; ++k) {
      data.push_back(payload(data.size(), 300 + (data.size() * 31) % 400));
    }
    for (auto it = data.end() - events; it != data.end(); ++it) {
      batch.push_back(event(*it));
    }
    REQUIRE(log->append("s" + std::to_string(i % 4), ExpectedVersion::any(), batch).has_value());
    if (i % 50 == 0) {
      for (Event& e : drain_many(**follower, 7)) {
        followed.push_back(std::move(e));
      }
    }
  }
  for (Event& e : drain_many(**follower, 7)) {
    followed.push_back(std::move(e));
  }
  const std::vector<Event> all = read_all(*log);
  REQUIRE(data_of(all) == data);
  REQUIRE(log->stats().segment_count >= 5);
  CHECK(followed == all);
  for (std::uint64_t from : {0ull, 1ull, 2ull, 3ull, 301ull, 899ull, 900ull}) {
    for (std::size_t views : {1u, 3u, 64u}) {
      CAPTURE(from);
      CAPTURE(views);
      auto reader = log->read_from(from);
      REQUIRE(reader.has_value());
      std::size_t calls = 0;
      const std::vector<Event> got = drain_many(**reader, views, &calls);
      CHECK(got == read_all(*log, from));
      // Full calls, plus at most one short call per segment end and the
      // final empty one.
      const std::size_t most = got.size() / views + log->stats().segment_count + 2;
      CHECK(calls <= most);
    }
  }
  ReadOptions stream;
  stream.stream = "s1";
  auto reader = log->read(stream);
  REQUIRE(reader.has_value());
  std::size_t calls = 0;
  const std::vector<Event> s1 = drain_many(**reader, 64, &calls);
  CHECK(s1.size() > 100);
  CHECK(calls == s1.size() + 1);
  ReadOptions again;
  again.stream = "s1";
  auto by_next = log->read(again);
  REQUIRE(by_next.has_value());
  CHECK(drain(**by_next) == s1);
}

// Damage after some events: next_many() hands out the events before it,
// then reports the damage, and keeps reporting it (never a damaged event).
TEST_CASE("reads: next_many stops before damage and then reports it") {
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  std::vector<std::string> data;
  for (int i = 0; i < 400; ++i) {
    data.push_back(payload(i, 100));
    append_one(*log, "s", data.back());
  }
  REQUIRE(log->stats().segment_count >= 2);
  // A byte in the middle of the first (sealed) segment, inside some record.
  const std::string path = format::join_path(kDir, format::segment_file_name(0));
  REQUIRE(fs->corrupt(path, 32 << 10, "X").ok());
  auto reader = log->read_from(0);
  REQUIRE(reader.has_value());
  std::vector<EventView> views(64);
  std::vector<std::string> got;
  Result<std::size_t> n = std::size_t{0};
  while (true) {
    n = (*reader)->next_many(views);
    if (!n.has_value() || *n == 0) {
      break;
    }
    for (std::size_t i = 0; i < *n; ++i) {
      got.emplace_back(views[i].data);
    }
  }
  REQUIRE(!n.has_value());
  CHECK(n.error().code() == Errc::corruption);
  CHECK(n.error().to_string().find(path) != std::string::npos);
  CHECK(got.size() > 100);  // the events before the damaged record
  CHECK(got.size() < 300);
  CHECK(got ==
        std::vector<std::string>(data.begin(), data.begin() + static_cast<long>(got.size())));
  auto again = (*reader)->next_many(views);
  REQUIRE(!again.has_value());
  CHECK(again.error().code() == Errc::corruption);
}
