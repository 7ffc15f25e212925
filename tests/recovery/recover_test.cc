// Goal: recovery (SPEC.md section 10) end to end on the crash model, through
// recovery::recover() and through Log::open: the clean-shutdown fast path, the
// torn tail (zero-fill, quarantine copy, report, continue), idempotence also
// after a crash inside recovery, refusal of damage to acknowledged data with
// file and position, the directory checks of 10.3 (tmp leftovers, empty and
// header-damaged last segments, missing and foreign segments), strict mode,
// dry runs that change nothing, and verify scans.
// Method: logs of 64 KiB segments built with single-threaded Durability::sync
// appends (so each record's prior_durable_lsn is its own LSN and proves every
// record before it), then bytes changed with MemFileSystem::corrupt/set_size.
// A log "left by a process kill" is a snapshot taken while it is open, copied
// into a fresh MemFileSystem: every byte durable, no recovery point.
#include "recovery/recover.h"

#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "tests/recovery/recovery_support.h"
#include "tests/support/test_log.h"

using namespace cairn;
using namespace cairn::test;
using namespace cairn::recovery_test;
using recovery::RecoveredLog;
using recovery::RecoveryOptions;
using testing::CrashPolicy;
using testing::MemFileSystem;

namespace {

struct TestLog {
  std::shared_ptr<MemFileSystem> fs;
  std::vector<AppendedEvent> model;
  std::vector<SegmentLayout> layouts;  // as built, before any damage
};

std::size_t default_size(std::size_t i) { return 250 + (i * 37) % 200; }

// Appends `count` one-event records with Durability::sync. clean: close()
// writes the recovery point. Otherwise the process dies with the log open
// (a snapshot of the open log in a fresh crash model: all of it durable).
TestLog make_log(std::size_t count, bool clean = false,
                 const std::function<std::size_t(std::size_t)>& size = default_size) {
  TestLog t;
  auto fs = std::make_shared<MemFileSystem>();
  auto log = open_log(small_options(fs));
  for (std::size_t i = 0; i < count; ++i) {
    t.model.push_back({"s" + std::to_string(i % 3), payload(i, size(i))});
    append_one(*log, t.model.back().stream, t.model.back().data);
  }
  if (clean) {
    REQUIRE(log->close().ok());
    t.fs = fs;
  } else {
    t.fs = rebuild(take_snapshot(*fs));
  }
  t.layouts = layouts_of(take_snapshot(*t.fs));
  return t;
}

RecoveryOptions ropts(bool strict = false, bool dry_run = false, bool verify_all = false) {
  RecoveryOptions o;
  o.directory = kDir;
  o.strict = strict;
  o.dry_run = dry_run;
  o.verify_all = verify_all;
  return o;
}

RecoveredLog recover_ok(io::FileSystem& fs, const RecoveryOptions& o = ropts()) {
  auto r = recovery::recover(fs, o);
  REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
  return std::move(*r);
}

Status recover_error(io::FileSystem& fs, const RecoveryOptions& o = ropts()) {
  auto r = recovery::recover(fs, o);
  REQUIRE_MESSAGE(!r.has_value(), "recovery was expected to refuse");
  return r.error();
}

bool report_has(const std::vector<std::string>& report, const std::string& words) {
  return std::any_of(report.begin(), report.end(), [&](const std::string& line) {
    return line.find(words) != std::string::npos;
  });
}

std::string report_text(const std::vector<std::string>& report) {
  std::string s;
  for (const auto& line : report) {
    s += line + "\n";
  }
  return s;
}

std::string file(MemFileSystem& fs, const std::string& name) {
  auto bytes = fs.read_file(dir_path(name));
  REQUIRE_MESSAGE(bytes.has_value(), bytes.status().to_string());
  return *bytes;
}

bool exists(MemFileSystem& fs, const std::string& name) {
  auto e = fs.exists(dir_path(name));
  REQUIRE(e.has_value());
  return *e;
}

// End of the last non-zero byte of `bytes` in [from, to), or `from`.
std::uint64_t nonzero_end(const std::string& bytes, std::uint64_t from, std::uint64_t to) {
  to = std::min<std::uint64_t>(to, bytes.size());
  for (std::uint64_t i = to; i > from; --i) {
    if (bytes[i - 1] != '\0') {
      return i;
    }
  }
  return from;
}

bool all_zero(const std::string& bytes, std::uint64_t from, std::uint64_t to) {
  return nonzero_end(bytes, from, to) == from;
}

void check_events(Log& log, const std::vector<AppendedEvent>& model, std::size_t expected) {
  const ReadBack got = read_back(log);
  REQUIRE_MESSAGE(got.error.ok(), got.error.to_string());
  std::string why;
  CHECK_MESSAGE(is_prefix_of_model(got.events, model, &why), why);
  CHECK(got.events.size() == expected);
}

void check_corruption_at(const Status& s, const std::string& name, std::uint64_t position) {
  CAPTURE(s.to_string());
  CHECK(s.code() == Errc::corruption);
  CHECK(s.path() == dir_path(name));
  REQUIRE(s.position().has_value());
  CHECK(*s.position() == position);
}

// SPEC.md 10.3: open checks a sealed segment by its seal only. Damage to its
// records is found by whoever reads them first: open (the engine reads the
// whole log to rebuild stream heads) or the reader. Either way: corruption
// naming the file and the record, and no event of the damaged record or
// after it.
void check_log_refuses(const std::shared_ptr<MemFileSystem>& fs, const std::string& name,
                       std::uint64_t position, const std::vector<AppendedEvent>& model,
                       std::size_t events_before) {
  auto log = Log::open(small_options(fs));
  if (!log) {
    check_corruption_at(log.error(), name, position);
    return;
  }
  const ReadBack got = read_back(**log);
  check_corruption_at(got.error, name, position);
  std::string why;
  CHECK_MESSAGE(is_prefix_of_model(got.events, model, &why), why);
  CHECK(got.events.size() == events_before);
}

}  // namespace

// --- the clean-shutdown fast path (10.4 first paragraph) -------------------

TEST_CASE(
    "recover: a clean close uses the recovery point and reads only headers, seals and the point") {
  TestLog t = make_log(300, /*clean=*/true);
  REQUIRE(t.layouts.size() >= 3);
  REQUIRE(exists(*t.fs, format::kRecoveryPointFileName));
  auto counting = std::make_shared<CountingFileSystem>(t.fs);
  RecoveredLog r = recover_ok(*counting);
  CHECK(r.clean_shutdown);
  CHECK_FALSE(r.torn_tail_found);
  CHECK(r.next_lsn == 300);
  REQUIRE(r.segments.size() == t.layouts.size());
  for (std::size_t i = 0; i + 1 < r.segments.size(); ++i) {
    CHECK(r.segments[i].sealed);
    CHECK(r.segments[i].end_lsn == t.layouts[i].end_lsn);
  }
  CHECK_FALSE(r.segments.back().sealed);
  CHECK(r.segments.back().end.position == t.layouts.back().records_end);
  CHECK(r.segments.back().end.next_lsn == 300);
  CHECK(r.segments.back().end.record_count == t.layouts.back().batches.size());
  CHECK(report_has(r.report, "clean shutdown"));
  // Nothing but headers, seals and the two small files was read: no scan.
  CHECK(counting->bytes_read(dir_path(format::kMetaFileName)) == format::kMetaBytes);
  CHECK(counting->bytes_read(dir_path(format::kRecoveryPointFileName)) ==
        format::kRecoveryPointBytes);
  for (std::size_t i = 0; i < t.layouts.size(); ++i) {
    CAPTURE(t.layouts[i].name);
    CHECK(counting->bytes_read(dir_path(t.layouts[i].name)) <=
          format::kSegmentHeaderBytes + format::kSealRecordBytes);
  }
  // Through Log::open: the same, and the log goes on.
  auto log = open_log(small_options(t.fs));
  CHECK(log->recovery_report().find("clean shutdown") != std::string::npos);
  CHECK(append_one(*log, "s0", "after").first_lsn == 300);
  t.model.push_back({"s0", "after"});
  check_events(*log, t.model, 301);
  // Open removed the point before writing (SPEC.md section 8).
  CHECK_FALSE(exists(*t.fs, format::kRecoveryPointFileName));
}

TEST_CASE("recover: after a crash the tail is scanned and the sealed segments are not") {
  TestLog t = make_log(300);
  REQUIRE(t.layouts.size() >= 3);
  auto counting = std::make_shared<CountingFileSystem>(t.fs);
  RecoveredLog r = recover_ok(*counting);
  CHECK_FALSE(r.clean_shutdown);
  CHECK_FALSE(r.torn_tail_found);
  CHECK(r.next_lsn == 300);
  for (std::size_t i = 0; i + 1 < t.layouts.size(); ++i) {
    CHECK(counting->bytes_read(dir_path(t.layouts[i].name)) <=
          format::kSegmentHeaderBytes + format::kSealRecordBytes);
  }
  CHECK(counting->bytes_read(dir_path(t.layouts.back().name)) >=
        t.layouts.back().header.segment_bytes);
  CHECK(report_has(r.report, "tail scanned"));
}

TEST_CASE(
    "recover: a recovery point that does not decode is ignored, reported, and the tail scanned") {
  TestLog t = make_log(40, /*clean=*/true);
  REQUIRE(t.fs->corrupt(dir_path(format::kRecoveryPointFileName), 30, "\x55").ok());
  RecoveredLog r = recover_ok(*t.fs);
  CHECK_FALSE(r.clean_shutdown);
  CHECK(report_has(r.report, "recovery point invalid"));
  CHECK(r.next_lsn == 40);
  CHECK(r.segments.back().end.position == t.layouts.back().records_end);
}

// --- the torn tail (rows 8 and 10.5) ----------------------------------------

TEST_CASE("recover: a torn last record is zero-filled, quarantined and reported; the log goes on") {
  TestLog t = make_log(30);
  REQUIRE(t.layouts.size() == 1);
  const SegmentLayout& seg = t.layouts[0];
  const RecordLayout& last = seg.batches.back();
  const std::uint64_t v = last.position;
  REQUIRE(t.fs->corrupt(dir_path(seg.name), v + 100, "torn!").ok());
  const std::string damaged = file(*t.fs, seg.name);
  const std::uint64_t z = nonzero_end(damaged, v, seg.seal_slot());

  RecoveredLog r = recover_ok(*t.fs);
  CHECK(r.torn_tail_found);
  CHECK_FALSE(r.clean_shutdown);
  CHECK(r.next_lsn == 29);
  REQUIRE(r.segments.size() == 1);
  CHECK(r.segments[0].end.position == v);
  CHECK(r.segments[0].end.next_lsn == 29);
  CHECK(r.segments[0].end.record_count == 29);
  // The report names the file and the position.
  const std::string broken = seg.name + "." + std::to_string(v) + ".broken";
  CAPTURE(report_text(r.report));
  CHECK(report_has(r.report, seg.name + ":" + std::to_string(v) + ": torn tail"));
  CHECK(report_has(r.report, "zero-filled from position " + std::to_string(v)));
  CHECK(report_has(r.report, broken));
  // The quarantine copy holds exactly the discarded bytes, durably.
  REQUIRE(exists(*t.fs, broken));
  CHECK(file(*t.fs, broken) == damaged.substr(v, z - v));
  CHECK(t.fs->is_name_durable(dir_path(broken)));
  // Everything before V untouched; everything from V zero, durably.
  const std::string after = file(*t.fs, seg.name);
  REQUIRE(after.size() == seg.header.segment_bytes);
  CHECK(after.substr(0, v) == damaged.substr(0, v));
  CHECK(all_zero(after, v, after.size()));
  CHECK(t.fs->is_durable(dir_path(seg.name), 0, after.size()));

  auto log = open_log(small_options(t.fs));
  check_events(*log, t.model, 29);
  CHECK(log->next_lsn() == 29);
  CHECK(log->durable_lsn() == 29);
  t.model.resize(29);
  t.model.push_back({"s2", "replacement"});
  CHECK(append_one(*log, "s2", "replacement").first_lsn == 29);
  REQUIRE(log->close().ok());
  auto reopened = open_log(small_options(t.fs));
  check_events(*reopened, t.model, 30);
  CHECK(reopened->next_version("s2").value() == 10);
}

TEST_CASE(
    "recover: garbage after the last record inside the write window is zero-filled, all records "
    "kept") {
  TestLog t = make_log(30);
  const SegmentLayout& seg = t.layouts[0];
  const std::uint64_t v = seg.records_end;
  REQUIRE(t.fs->corrupt(dir_path(seg.name), v + 1000, "garbage").ok());
  RecoveredLog r = recover_ok(*t.fs);
  CHECK(r.torn_tail_found);
  CHECK(r.next_lsn == 30);
  const std::string broken = seg.name + "." + std::to_string(v) + ".broken";
  CHECK(file(*t.fs, broken) == std::string(1000, '\0') + "garbage");
  CHECK(all_zero(file(*t.fs, seg.name), v, seg.header.segment_bytes));
  auto log = open_log(small_options(t.fs));
  check_events(*log, t.model, 30);
  CHECK(append_one(*log, "s0", "x").first_lsn == 30);
}

TEST_CASE("recover: the write window bounds the torn tail: Z - V == W repairs, W + 1 refuses") {
  TestLog t = make_log(30);
  const SegmentLayout& seg = t.layouts[0];
  const std::uint64_t v = seg.records_end;
  const std::uint64_t w = seg.header.write_window_bytes;
  REQUIRE(w == (16u << 10));
  REQUIRE(v + w + 1 < seg.seal_slot());
  const Snapshot intact = take_snapshot(*t.fs);
  {
    auto fs = rebuild(intact);
    REQUIRE(fs->corrupt(dir_path(seg.name), v + w - 1, "\x01").ok());  // Z - V == W
    RecoveredLog r = recover_ok(*fs);
    CHECK(r.torn_tail_found);
    CHECK(r.next_lsn == 30);
    CHECK(file(*fs, seg.name + "." + std::to_string(v) + ".broken").size() == w);
  }
  {
    auto fs = rebuild(intact);
    REQUIRE(fs->corrupt(dir_path(seg.name), v + w, "\x01").ok());  // Z - V == W + 1
    const Snapshot before = take_snapshot(*fs);
    check_corruption_at(recover_error(*fs), seg.name, v);
    CHECK(recover_error(*fs).message().find("write window") != std::string::npos);
    CHECK(take_snapshot(*fs) == before);  // a refusal changes nothing
  }
}

TEST_CASE("recover: garbage in the seal slot of the tail alone is a torn tail") {
  // The scanner goes on at a non-zero seal slot when only zeros lie between
  // (SPEC.md 5.5 step 2) and stops there, but V is the end of the records:
  // the tail continues there, and E is segment_bytes (10.5), so the copy
  // holds [V, segment_bytes). Recovering again finds the same V.
  TestLog t = make_log(30);
  const SegmentLayout& seg = t.layouts[0];
  const std::uint64_t v = seg.records_end;
  REQUIRE(t.fs->corrupt(dir_path(seg.name), seg.seal_slot() + 20, "junk").ok());
  const std::string damaged = file(*t.fs, seg.name);
  RecoveredLog r = recover_ok(*t.fs);
  CHECK(r.torn_tail_found);
  CHECK(r.next_lsn == 30);
  CHECK(r.segments[0].end.position == v);
  CHECK(r.segments[0].end.record_count == 30);
  CHECK(file(*t.fs, seg.name + "." + std::to_string(v) + ".broken") == damaged.substr(v));
  CHECK(all_zero(file(*t.fs, seg.name), seg.records_end, seg.header.segment_bytes));
  CHECK(file(*t.fs, seg.name).substr(0, seg.records_end) == damaged.substr(0, seg.records_end));
  RecoveredLog again = recover_ok(*t.fs);
  CHECK_FALSE(again.torn_tail_found);
  CHECK(again.segments[0].end.position == v);
  {
    auto log = open_log(small_options(t.fs));
    check_events(*log, t.model, 30);
    t.model.push_back({"s0", "next"});
    CHECK(append_one(*log, "s0", "next").first_lsn == 30);
    check_events(*log, t.model, 31);
    CHECK(log->stats().segment_count == 1);  // the record went after the others
    REQUIRE(log->close().ok());
  }
  auto reopened = open_log(small_options(t.fs));
  check_events(*reopened, t.model, 31);
  CHECK(reopened->stats().segment_count == 1);
}

TEST_CASE("recover: a tail file cut short inside a record keeps the records before the cut") {
  TestLog t = make_log(30);
  const SegmentLayout& seg = t.layouts[0];
  const RecordLayout& r27 = seg.batches[27];
  REQUIRE(t.fs->set_size(dir_path(seg.name), r27.position + 60).ok());
  RecoveredLog r = recover_ok(*t.fs);
  CHECK(r.torn_tail_found);
  CHECK(r.next_lsn == 27);
  CHECK(report_has(r.report, "extended"));  // the short file is restored to segment_bytes
  const std::string after = file(*t.fs, seg.name);
  CHECK(after.size() == seg.header.segment_bytes);
  CHECK(all_zero(after, r27.position, after.size()));
  auto log = open_log(small_options(t.fs));
  check_events(*log, t.model, 27);
  CHECK(append_one(*log, "s0", "x").first_lsn == 27);
}

// --- idempotence (I3) --------------------------------------------------------

TEST_CASE("recover: recovering twice gives the same log and the second finds it clean") {
  TestLog t = make_log(30);
  const SegmentLayout& seg = t.layouts[0];
  REQUIRE(t.fs->corrupt(dir_path(seg.name), seg.batches.back().position + 8, "XXXXXXXX").ok());
  RecoveredLog first = recover_ok(*t.fs);
  const Snapshot once = take_snapshot(*t.fs);
  RecoveredLog second = recover_ok(*t.fs);
  CHECK(first.torn_tail_found);
  CHECK_FALSE(second.torn_tail_found);
  CHECK(take_snapshot(*t.fs) == once);
  CHECK(second.next_lsn == first.next_lsn);
  REQUIRE(second.segments.size() == first.segments.size());
  CHECK(second.segments[0].end.position == first.segments[0].end.position);
  CHECK(second.segments[0].end.chain == first.segments[0].end.chain);
  CHECK(second.segments[0].end.record_count == first.segments[0].end.record_count);
}

namespace {

// A damaged directory that makes recovery do every kind of repair: a leftover
// tmp file to remove, a torn last record to quarantine and zero-fill, and a
// tail file cut short to extend.
struct Damaged {
  Snapshot snapshot;
  std::vector<AppendedEvent> model;
  std::string segment;
  std::uint64_t v = 0;
  std::uint64_t segment_bytes = 0;
};

// seal_slot: garbage in the tail's seal slot instead of a torn record (the
// scan then stops at the slot, but the log ends after the last record).
Damaged damaged_log(bool seal_slot = false) {
  TestLog t = make_log(30);
  const SegmentLayout& seg = t.layouts[0];
  const RecordLayout& last = seg.batches.back();
  Damaged d;
  if (seal_slot) {
    REQUIRE(t.fs->corrupt(dir_path(seg.name), seg.seal_slot() + 3, "torn seal").ok());
    d.v = seg.records_end;
  } else {
    REQUIRE(t.fs->corrupt(dir_path(seg.name), last.position + 50, "torn").ok());
    REQUIRE(t.fs->set_size(dir_path(seg.name), last.end() + 512).ok());
    d.v = last.position;
  }
  auto tmp = t.fs->open(dir_path("prepared.3.tmp"), io::OpenMode::create);
  REQUIRE(tmp.has_value());
  const std::string junk(4096, 'p');
  REQUIRE((*tmp)->write_at(0, std::as_bytes(std::span(junk))).ok());
  REQUIRE((*tmp)->sync_data().ok());
  REQUIRE(t.fs->sync_dir(kDir).ok());
  d.snapshot = take_snapshot(*t.fs);
  d.model = t.model;
  d.segment = seg.name;
  d.segment_bytes = seg.header.segment_bytes;
  return d;
}

}  // namespace

TEST_CASE("recover: a crash at every step of recovery, then recovery again, gives the same log") {
  for (const bool seal_slot : {false, true}) {
    CAPTURE(seal_slot);
    const Damaged d = damaged_log(seal_slot);
    // The uninterrupted recovery, and how many counted operations it makes.
    auto reference_fs = rebuild(d.snapshot);
    const std::uint64_t ops_before = reference_fs->op_count();
    RecoveredLog reference = recover_ok(*reference_fs);
    const std::uint64_t repair_ops = reference_fs->op_count() - ops_before;
    const Snapshot expected = take_snapshot(*reference_fs);
    CHECK(reference.torn_tail_found);
    CHECK(reference.next_lsn == (seal_slot ? 30u : 29u));
    CHECK(reference.segments[0].end.position == d.v);
    // remove, sync_dir; quarantine: create, truncate, write, sync, rename,
    // sync_dir; zero-fill write(s), [truncate (extend)], sync.
    CHECK(repair_ops >= 9);
    CHECK_FALSE(expected.count("prepared.3.tmp"));
    REQUIRE(expected.count(d.segment + "." + std::to_string(d.v) + ".broken"));

    std::size_t crashes = 0;
    for (std::uint64_t k = 0; k <= repair_ops; ++k) {
      for (CrashPolicy policy : testing::kContractCrashPolicies) {
        for (std::uint64_t seed = 1; seed <= (policy == CrashPolicy::drop_unsynced ? 1u : 3u);
             ++seed) {
          CAPTURE(k);
          CAPTURE(testing::crash_policy_name(policy));
          CAPTURE(seed);
          auto fs = rebuild(d.snapshot);
          fs->freeze_after_ops(fs->op_count() + k);
          auto cut = recovery::recover(*fs, ropts());
          CHECK(cut.has_value() == (k == repair_ops));
          fs->crash(policy, seed);
          ++crashes;
          RecoveredLog again = recover_ok(*fs);
          CHECK(again.next_lsn == reference.next_lsn);
          REQUIRE(again.segments.size() == 1);
          CHECK(again.segments[0].end.position == d.v);
          CHECK(again.segments[0].end.chain == reference.segments[0].end.chain);
          CHECK(take_snapshot(*fs) == expected);
        }
      }
    }
    MESSAGE("crash points inside recovery: " << repair_ops + 1
                                             << ", crashes simulated: " << crashes);
  }
}

TEST_CASE(
    "recover: a crash at every step of Log::open's repair, then open again, keeps the same "
    "events") {
  const Damaged d = damaged_log();
  const std::string broken = d.segment + "." + std::to_string(d.v) + ".broken";
  std::string expected_broken;
  std::uint64_t open_ops = 0;
  {
    auto fs = rebuild(d.snapshot);
    const std::uint64_t before = fs->op_count();
    auto log = open_log(small_options(fs));
    open_ops = fs->op_count() - before;
    check_events(*log, d.model, 29);
    expected_broken = file(*fs, broken);
  }
  for (std::uint64_t k = 0; k < open_ops; ++k) {
    CAPTURE(k);
    auto fs = rebuild(d.snapshot);
    fs->freeze_after_ops(fs->op_count() + k);
    CHECK_FALSE(Log::open(small_options(fs)).has_value());
    fs->crash(CrashPolicy::drop_unsynced, k);
    auto log = open_log(small_options(fs));
    check_events(*log, d.model, 29);
    CHECK(file(*fs, broken) == expected_broken);
    CHECK(append_one(*log, "s0", "after").first_lsn == 29);
  }
}

// --- refusals: damage to acknowledged data (rows 2, 4, 5; 10.3) -------------

TEST_CASE(
    "recover: damage proven by a later record is refused with the file and the record's position") {
  TestLog t = make_log(30);
  const SegmentLayout& seg = t.layouts[0];
  const Snapshot intact = take_snapshot(*t.fs);
  // A record in the body, in the header, the first record, the last but one.
  struct Hit {
    std::size_t record;
    std::uint64_t offset;
  };
  for (Hit hit : {Hit{10, 120}, Hit{10, 3}, Hit{0, 30}, Hit{28, 60}}) {
    CAPTURE(hit.record);
    CAPTURE(hit.offset);
    auto fs = rebuild(intact);
    const RecordLayout& rec = seg.batches[hit.record];
    REQUIRE(fs->corrupt(dir_path(seg.name), rec.position + hit.offset, "\xA5\x5A").ok());
    const Snapshot before = take_snapshot(*fs);
    const Status s = recover_error(*fs);
    check_corruption_at(s, seg.name, rec.position);
    CHECK(s.message().find("durable") != std::string::npos);
    CHECK(take_snapshot(*fs) == before);  // nothing repaired, nothing quarantined
    auto log = Log::open(small_options(fs));
    REQUIRE_FALSE(log.has_value());
    check_corruption_at(log.error(), seg.name, rec.position);
  }
}

TEST_CASE(
    "recover: a record that verifies but is malformed (non-zero padding) is refused, even last") {
  TestLog t = make_log(30, false, [](std::size_t) { return 302; });  // 7 bytes of padding
  const SegmentLayout& seg = t.layouts[0];
  const RecordLayout& last = seg.batches.back();
  REQUIRE(last.padding_begin() < last.end());
  REQUIRE(t.fs->corrupt(dir_path(seg.name), last.padding_begin(), "\x01").ok());
  const Status s = recover_error(*t.fs);
  check_corruption_at(s, seg.name, last.position);
  CHECK(s.message().find("malformed") != std::string::npos);
}

TEST_CASE("recover: damage in a sealed segment's seal is refused at the seal slot") {
  TestLog t = make_log(300);
  REQUIRE(t.layouts.size() >= 3);
  const SegmentLayout& seg = t.layouts[1];
  REQUIRE(seg.seal.has_value());
  REQUIRE(t.fs->corrupt(dir_path(seg.name), seg.seal_slot() + 60, "\x01").ok());
  check_corruption_at(recover_error(*t.fs), seg.name, seg.seal_slot());
  auto log = Log::open(small_options(t.fs));
  REQUIRE_FALSE(log.has_value());
  check_corruption_at(log.error(), seg.name, seg.seal_slot());
}

TEST_CASE("recover: a sealed segment cut short is refused") {
  TestLog t = make_log(260);
  const SegmentLayout& seg = t.layouts[0];
  REQUIRE(t.fs->set_size(dir_path(seg.name), seg.records_end).ok());
  check_corruption_at(recover_error(*t.fs), seg.name, seg.records_end);
}

TEST_CASE("recover: verify_all scans sealed segments and finds damage that open does not") {
  TestLog t = make_log(260);
  const SegmentLayout& seg = t.layouts[0];
  const RecordLayout& rec = seg.batches[17];
  const Snapshot intact = take_snapshot(*t.fs);
  SUBCASE("a record of a sealed segment") {
    auto fs = rebuild(intact);
    REQUIRE(fs->corrupt(dir_path(seg.name), rec.position + 200, "\x10").ok());
    // Open reads the seal only (SPEC.md 10.3): recovery itself passes.
    RecoveredLog r = recover_ok(*fs, ropts(false, /*dry_run=*/true));
    CHECK(r.next_lsn == 260);
    check_corruption_at(recover_error(*fs, ropts(false, true, /*verify_all=*/true)), seg.name,
                        rec.position);
    check_corruption_at(recover_error(*fs, ropts(/*strict=*/true, true)), seg.name, rec.position);
    check_log_refuses(fs, seg.name, rec.position, t.model, rec.lsn);
  }
  SUBCASE("the zeros between a sealed segment's last record and its seal") {
    REQUIRE(seg.records_end + 8 < seg.seal_slot());
    auto fs = rebuild(intact);
    REQUIRE(fs->corrupt(dir_path(seg.name), seg.seal_slot() - 1, "\x10").ok());
    RecoveredLog r = recover_ok(*fs, ropts(false, true));
    CHECK(r.next_lsn == 260);
    check_corruption_at(recover_error(*fs, ropts(false, true, true)), seg.name, seg.records_end);
    // The reader stops at the zero header and goes on at the next segment:
    // no event is lost or changed, so open and read succeed.
    auto log = open_log(small_options(fs));
    check_events(*log, t.model, 260);
  }
}

TEST_CASE("recover: with a recovery point, verify_all counts its next_lsn as proof") {
  TestLog t = make_log(30, /*clean=*/true);
  const SegmentLayout& seg = t.layouts[0];
  const RecordLayout& last = seg.batches.back();
  REQUIRE(t.fs->corrupt(dir_path(seg.name), last.position + 70, "\x33").ok());
  const Snapshot damaged = take_snapshot(*t.fs);
  // Open trusts the point and does not scan: SPEC.md 10.6, the gap the point
  // closes only for verify and strict.
  {
    auto fs = rebuild(damaged);
    RecoveredLog r = recover_ok(*fs, ropts(false, true));
    CHECK(r.clean_shutdown);
    CHECK_FALSE(r.torn_tail_found);
  }
  {
    auto fs = rebuild(damaged);
    const Status s = recover_error(*fs, ropts(false, true, /*verify_all=*/true));
    check_corruption_at(s, seg.name, last.position);
    CHECK(s.message().find("below 30") != std::string::npos);
    check_corruption_at(recover_error(*fs, ropts(/*strict=*/true)), seg.name, last.position);
    CHECK(take_snapshot(*fs) == damaged);
  }
  // Without the point nothing proves the last record was acknowledged.
  {
    auto fs = rebuild(damaged);
    REQUIRE(fs->remove(dir_path(format::kRecoveryPointFileName)).ok());
    RecoveredLog r = recover_ok(*fs, ropts(false, true, true));
    CHECK(r.torn_tail_found);
    CHECK(r.next_lsn == 29);
  }
}

// --- the directory (10.2, 10.3) ----------------------------------------------

TEST_CASE("recover: leftover tmp files are removed, durably, and reported") {
  TestLog t = make_log(20);
  const std::vector<std::string> tmps = {"prepared.0.tmp", seg_name(12345) + ".tmp",
                                         std::string(format::kRecoveryPointFileName) + ".tmp",
                                         std::string(format::kMetaFileName) + ".tmp",
                                         seg_name(0) + ".4096.broken.tmp"};
  for (const auto& name : tmps) {
    auto f = t.fs->open(dir_path(name), io::OpenMode::create);
    REQUIRE(f.has_value());
    const std::string junk = "leftover";
    REQUIRE((*f)->write_at(0, std::as_bytes(std::span(junk))).ok());
  }
  REQUIRE(t.fs->sync_dir(kDir).ok());
  const Snapshot before = take_snapshot(*t.fs);
  // A dry run reports them and leaves them.
  RecoveredLog dry = recover_ok(*t.fs, ropts(false, true));
  CHECK(take_snapshot(*t.fs) == before);
  for (const auto& name : tmps) {
    CHECK(report_has(dry.report, "leftover " + name + ": would remove"));
  }
  RecoveredLog r = recover_ok(*t.fs);
  for (const auto& name : tmps) {
    CAPTURE(name);
    CHECK(report_has(r.report, "leftover " + name + ": removed"));
    CHECK_FALSE(exists(*t.fs, name));
  }
  CHECK(r.next_lsn == 20);
  t.fs->crash(CrashPolicy::keep_prefix, 7);  // the removals were made durable
  for (const auto& name : tmps) {
    CHECK_FALSE(exists(*t.fs, name));
  }
  auto log = open_log(small_options(t.fs));
  check_events(*log, t.model, 20);
}

TEST_CASE("recover: an empty log and a header-only last segment open clean") {
  SUBCASE("a log with no record") {
    TestLog t = make_log(0);
    RecoveredLog r = recover_ok(*t.fs);
    CHECK_FALSE(r.torn_tail_found);
    CHECK(r.next_lsn == 0);
    REQUIRE(r.segments.size() == 1);
    CHECK(r.segments[0].end.position == format::kSegmentHeaderBlockBytes);
    auto log = open_log(small_options(t.fs));
    CHECK(log->next_lsn() == 0);
    CHECK(append_one(*log, "s", "first").first_lsn == 0);
  }
  for (std::uint64_t cut : {std::uint64_t{format::kSegmentHeaderBytes},
                            std::uint64_t{format::kSegmentHeaderBlockBytes}}) {
    SUBCASE(("a last segment file cut to " + std::to_string(cut) + " bytes").c_str()) {
      TestLog t = make_log(0);
      REQUIRE(t.fs->set_size(dir_path(seg_name(0)), cut).ok());
      // Strict mode refuses to extend the file.
      check_corruption_at(recover_error(*t.fs, ropts(true)), seg_name(0), cut);
      RecoveredLog r = recover_ok(*t.fs);
      CHECK_FALSE(r.torn_tail_found);
      CHECK(r.next_lsn == 0);
      CHECK(report_has(r.report, "extended with zeros"));
      CHECK(file(*t.fs, seg_name(0)).size() == 64u << 10);
      CHECK(t.fs->is_durable(dir_path(seg_name(0)), 0, 64u << 10));
      auto log = open_log(small_options(t.fs));
      CHECK(append_one(*log, "s", "first").first_lsn == 0);
    }
  }
}

namespace {

// A log of two segments whose tail holds no record: a crash right after the
// tail was activated (its records zeroed here to get there).
TestLog log_with_empty_tail() {
  TestLog t = make_log(140);
  REQUIRE(t.layouts.size() == 2);
  const SegmentLayout& tail = t.layouts[1];
  REQUIRE(t.fs->corrupt(dir_path(tail.name), format::kSegmentHeaderBlockBytes,
                        std::string(tail.records_end - format::kSegmentHeaderBlockBytes, '\0'))
              .ok());
  t.model.resize(tail.header.base_lsn);
  t.layouts = layouts_of(take_snapshot(*t.fs));
  REQUIRE(t.layouts[1].batches.empty());
  return t;
}

}  // namespace

TEST_CASE("recover: a header-damaged last segment with no records is set aside as .broken") {
  TestLog t = log_with_empty_tail();
  const SegmentLayout& tail = t.layouts[1];
  REQUIRE(t.fs->corrupt(dir_path(tail.name), 20, "\xEE").ok());  // log_id: checksum mismatch
  const std::string original = file(*t.fs, tail.name);
  const Snapshot damaged = take_snapshot(*t.fs);
  // Strict mode refuses, with the header decoder's error at position 0.
  check_corruption_at(recover_error(*t.fs, ropts(true)), tail.name, 0);
  // A dry run says what it would do.
  RecoveredLog dry = recover_ok(*t.fs, ropts(false, true));
  CHECK(report_has(dry.report, "would set aside"));
  CHECK(take_snapshot(*t.fs) == damaged);

  RecoveredLog r = recover_ok(*t.fs);
  CHECK(report_has(r.report, tail.name + ": header unreadable"));
  CHECK(report_has(r.report, "set aside as " + tail.name + ".broken"));
  REQUIRE(r.segments.size() == 1);
  CHECK(r.segments[0].sealed);
  CHECK(r.next_lsn == tail.header.base_lsn);
  CHECK(file(*t.fs, tail.name + ".broken") == original);
  CHECK(t.fs->is_name_durable(dir_path(tail.name + ".broken")));
  CHECK_FALSE(exists(*t.fs, tail.name));
  // Open activates a new tail after the sealed segment (step 6).
  auto log = open_log(small_options(t.fs));
  check_events(*log, t.model, tail.header.base_lsn);
  CHECK(append_one(*log, "s0", "x").first_lsn == tail.header.base_lsn);
  CHECK(exists(*t.fs, tail.name));
}

TEST_CASE("recover: an empty (0-byte) last segment file is set aside and the log opens") {
  TestLog t = log_with_empty_tail();
  const SegmentLayout& tail = t.layouts[1];
  REQUIRE(t.fs->set_size(dir_path(tail.name), 0).ok());
  RecoveredLog r = recover_ok(*t.fs);
  CHECK(report_has(r.report, "set aside"));
  CHECK(r.next_lsn == tail.header.base_lsn);
  auto log = open_log(small_options(t.fs));
  check_events(*log, t.model, tail.header.base_lsn);
}

TEST_CASE("recover: a header-damaged last segment that holds records is refused") {
  TestLog t = make_log(140);
  const SegmentLayout& tail = t.layouts.back();
  REQUIRE_FALSE(tail.batches.empty());
  REQUIRE(t.fs->corrupt(dir_path(tail.name), 33, "\x01").ok());  // segment_bytes
  check_corruption_at(recover_error(*t.fs), tail.name, 0);
  CHECK_FALSE(exists(*t.fs, tail.name + ".broken"));
}

TEST_CASE("recover: a sealed last segment gets its successor at open (crash before activation)") {
  TestLog t = log_with_empty_tail();
  const SegmentLayout& tail = t.layouts[1];
  REQUIRE(t.fs->remove(dir_path(tail.name)).ok());
  REQUIRE(t.fs->sync_dir(kDir).ok());
  RecoveredLog r = recover_ok(*t.fs);
  REQUIRE(r.segments.size() == 1);
  CHECK(r.segments[0].sealed);
  CHECK(r.next_lsn == tail.header.base_lsn);
  auto log = open_log(small_options(t.fs));
  CHECK(exists(*t.fs, tail.name));
  CHECK(append_one(*log, "s0", "x").first_lsn == tail.header.base_lsn);
}

TEST_CASE("recover: a missing segment is corruption naming the segment after the gap") {
  TestLog t = make_log(420);
  REQUIRE(t.layouts.size() >= 4);
  const Snapshot intact = take_snapshot(*t.fs);
  SUBCASE("in the middle") {
    auto fs = rebuild(intact);
    REQUIRE(fs->remove(dir_path(t.layouts[1].name)).ok());
    const Status s = recover_error(*fs);
    check_corruption_at(s, t.layouts[2].name, 0);
    CHECK(s.message().find("missing segment") != std::string::npos);
    auto log = Log::open(small_options(fs));
    REQUIRE_FALSE(log.has_value());
    check_corruption_at(log.error(), t.layouts[2].name, 0);
  }
  SUBCASE("the first") {
    auto fs = rebuild(intact);
    REQUIRE(fs->remove(dir_path(t.layouts[0].name)).ok());
    check_corruption_at(recover_error(*fs), t.layouts[1].name, 0);
  }
}

TEST_CASE("recover: a segment from another log is corruption at its log_id") {
  TestLog a = make_log(140);
  TestLog b = make_log(140);  // same sizes: same segment names
  REQUIRE(a.layouts.size() == 2);
  REQUIRE(b.layouts.size() == 2);
  REQUIRE(a.layouts[0].name == b.layouts[0].name);
  const Snapshot intact = take_snapshot(*a.fs);
  for (std::size_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    auto fs = rebuild(intact);
    const std::string& name = b.layouts[i].name;
    REQUIRE(fs->corrupt(dir_path(name), 0, file(*b.fs, name)).ok());
    check_corruption_at(recover_error(*fs), name, 16);
    auto log = Log::open(small_options(fs));
    REQUIRE_FALSE(log.has_value());
    check_corruption_at(log.error(), name, 16);
  }
}

TEST_CASE("recover: a segment under another segment's name is corruption at its base_lsn") {
  TestLog t = make_log(140);
  const SegmentLayout& tail = t.layouts[1];
  const std::string renamed = seg_name(tail.header.base_lsn + 1);
  REQUIRE(t.fs->rename(dir_path(tail.name), dir_path(renamed)).ok());
  check_corruption_at(recover_error(*t.fs), renamed, 24);
}

// --- modes --------------------------------------------------------------------

TEST_CASE("recover: strict mode refuses a torn tail and changes nothing") {
  TestLog t = make_log(30);
  const SegmentLayout& seg = t.layouts[0];
  const RecordLayout& last = seg.batches.back();
  REQUIRE(t.fs->corrupt(dir_path(seg.name), last.position + 90, "\x42").ok());
  const Snapshot before = take_snapshot(*t.fs);
  LogOptions o = small_options(t.fs);
  o.recovery_mode = RecoveryMode::strict;
  auto log = Log::open(o);
  REQUIRE_FALSE(log.has_value());
  check_corruption_at(log.error(), seg.name, last.position);
  CHECK(log.error().message().find("strict") != std::string::npos);
  CHECK(take_snapshot(*t.fs) == before);
  // Strict mode opens an undamaged log, after a crash and after a clean close.
  TestLog clean = make_log(30, /*clean=*/true);
  TestLog crashed = make_log(30);
  for (TestLog* x : {&clean, &crashed}) {
    LogOptions so = small_options(x->fs);
    so.recovery_mode = RecoveryMode::strict;
    auto opened = Log::open(so);
    REQUIRE_MESSAGE(opened.has_value(), opened.status().to_string());
    check_events(**opened, x->model, 30);
  }
}

TEST_CASE("recover: strict mode scans sealed segments too (I6)") {
  TestLog t = make_log(300);
  REQUIRE(t.layouts.size() >= 3);
  const SegmentLayout& seg = t.layouts[1];
  const RecordLayout& rec = seg.batches[3];
  REQUIRE(t.fs->corrupt(dir_path(seg.name), rec.position + 1, "\x01").ok());
  check_corruption_at(recover_error(*t.fs, ropts(true)), seg.name, rec.position);
}

TEST_CASE("recover: a dry run decides as recovery would and changes no byte") {
  struct Case {
    const char* what;
    std::function<void(TestLog&)> damage;
    bool torn;
  };
  const std::vector<Case> cases = {
      {"torn last record, short file, leftover tmp",
       [](TestLog& t) {
         const SegmentLayout& seg = t.layouts.back();
         REQUIRE(t.fs->corrupt(dir_path(seg.name), seg.batches.back().position + 9, "?").ok());
         REQUIRE(t.fs->set_size(dir_path(seg.name), seg.records_end + 100).ok());
         auto f = t.fs->open(dir_path("prepared.9.tmp"), io::OpenMode::create);
         REQUIRE(f.has_value());
         REQUIRE(t.fs->sync_dir(kDir).ok());
       },
       true},
      {"garbage in the tail's seal slot",
       [](TestLog& t) {
         const SegmentLayout& seg = t.layouts.back();
         REQUIRE(t.fs->corrupt(dir_path(seg.name), seg.seal_slot(), "slot").ok());
       },
       true},
      {"header-damaged empty tail",
       [](TestLog& t) {
         const SegmentLayout& seg = t.layouts.back();
         REQUIRE(
             t.fs->corrupt(dir_path(seg.name), format::kSegmentHeaderBlockBytes,
                           std::string(seg.records_end - format::kSegmentHeaderBlockBytes, '\0'))
                 .ok());
         REQUIRE(t.fs->corrupt(dir_path(seg.name), 40, "\x01").ok());
       },
       false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    TestLog t = make_log(140);
    c.damage(t);
    const Snapshot before = take_snapshot(*t.fs);
    const std::uint64_t ops = t.fs->op_count();
    RecoveredLog dry = recover_ok(*t.fs, ropts(false, /*dry_run=*/true));
    CHECK(t.fs->op_count() == ops);  // not one mutating operation
    CHECK(take_snapshot(*t.fs) == before);
    CHECK(dry.torn_tail_found == c.torn);
    CHECK(report_has(dry.report, "would"));
    // The real recovery decides the same.
    RecoveredLog real = recover_ok(*t.fs);
    CHECK(real.next_lsn == dry.next_lsn);
    CHECK(real.torn_tail_found == dry.torn_tail_found);
    CHECK(real.segments.size() == dry.segments.size());
    CHECK(real.segments.back().end.position == dry.segments.back().end.position);
  }
}

TEST_CASE(
    "recover: a log reopened with another segment_bytes fills its tail to the tail's own size") {
  // SPEC.md sections 4 and 7: segment_bytes applies to new segments; the
  // tail keeps the size in its header. (The committer once placed records by
  // the option's size and stopped the process on an assertion.)
  auto fs = std::make_shared<MemFileSystem>();
  std::vector<AppendedEvent> model;
  auto append_n = [&](Log& log, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = model.size();
      model.push_back({"s" + std::to_string(at % 3), payload(at, default_size(at))});
      append_one(log, model.back().stream, model.back().data);
    }
  };
  {
    auto log = open_log(small_options(fs));
    append_n(*log, 30);
  }
  LogOptions bigger = small_options(fs);
  bigger.segment_bytes = 128u << 10;
  {
    auto log = open_log(bigger);
    append_n(*log, 300);
    check_events(*log, model, 330);
  }
  const auto layouts = layouts_of(take_snapshot(*fs));
  REQUIRE(layouts.size() >= 2);
  CHECK(layouts[0].header.segment_bytes == 64u << 10);
  CHECK(layouts[0].seal.has_value());
  CHECK(layouts[1].header.segment_bytes == 128u << 10);
  auto log = open_log(small_options(fs));
  check_events(*log, model, 330);
}
