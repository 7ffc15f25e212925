// Goal: issue 4 item 6 / invariant I4. Every change to acknowledged data is
// detected and reported with the right file and position; every change to
// the torn-tail region is repaired; no read ever returns an event whose bytes
// differ from what was appended. And a tail cut at any byte recovers exactly
// the longest valid prefix.
//
// Method: one small log of three 64 KiB segments (two sealed, one tail),
// built with single-threaded Durability::sync appends of one event each, so
// that each record's prior_durable_lsn is its own LSN and proves every record
// before it durable; only the last record of the log is unproven. The files
// are snapshotted while the log is open (a process kill: no recovery point,
// so open scans the tail). Each case copies the snapshot into a fresh
// MemFileSystem, changes bytes of one segment, opens it with Log::open,
// reads everything back, and compares with what SPEC.md section 10 says:
//
//   where the bytes changed                      | expected
//   ---------------------------------------------+-------------------------------
//   segment header [0, 64), any segment          | open fails at <segment>:0 with
//                                                | the header decoder's error
//                                                | (10.3): corruption, or
//                                                | (the magic included)
//                                                | [0, 8) (section 3 order)
//   header block padding [64, 4096)              | nothing reads it (section 4,
//                                                | 12): open and read succeed,
//                                                | every event
//   a record of a sealed segment                 | corruption at <segment>:<record>
//                                                | from open or from the reader
//                                                | (10.3 reads only seals at open);
//                                                | verify (recover with verify_all)
//                                                | refuses at the same place
//   the zeros between a sealed segment's records | open and read succeed (the
//   and its seal                                 | reader stops at the zero header
//                                                | and trusts the seal); verify
//                                                | refuses at the end of the
//                                                | records (row 2: zero_header)
//   the seal of a sealed segment                 | open fails at <segment>:<slot>
//   a tail record followed by another record     | open fails at <tail>:<record>
//                                                | (row 5; padding: row 4)
//   the padding of the last record               | open fails at <tail>:<record>
//                                                | (row 4: the checksums verify,
//                                                | the record is malformed)
//   any other byte of the last record            | torn tail (row 8): open
//                                                | succeeds with every event but
//                                                | the last
//   the zeros after the last record, Z - V <= W  | torn tail: every event kept
//   the zeros after the last record, Z - V > W   | open fails at <tail>:V (row 6)
//   the tail's seal slot                         | torn tail: every event kept
//                                                | (V is the end of the records,
//                                                | 10.4)
//
// Coverage. The default sweep is bounded: about 3 s of CPU at -O2 and 12 s
// in the CI's ASan+UBSan build, for this whole file. It visits (numbers for
// this fixture, printed by MESSAGE):
//   * every byte and every 8-byte word of each segment header, each seal and
//     the tail's seal slot, the first 48 bytes of each gap before a seal, the
//     headers of the tail records the decision turns on (the first, the last
//     but one, the last), the whole last record, and every tail record's
//     padding;
//   * one rotating header byte (offset 7i mod 48) and one rotating header word
//     (word i mod 6) of every other record, so every offset of the header is
//     hit in several records, and one rotating padding byte of each sealed
//     record;
//   * every 199th byte and every 199th word (offset per segment) of record
//     bodies, header block padding, the rest of the gaps and the tail's zero
//     region, plus the first and last byte of each tail record's body and of
//     each such region, and the boundaries V, V + 47, V + 48, V + W - 1,
//     V + W of the tail;
// about 3 200 flipped bytes and 600 zeroed words (a zeroed word that was
// already zero must change nothing). Tail cuts: about 1 800 of the 12 900
// positions (see cuts()).
//
// CAIRN_CORRUPTION_EXHAUSTIVE=1 visits every byte (196 608 flips) and every
// word (24 576) of the three segments and cuts the tail at every byte
// (12 945); about 95 s of CPU at -O2. It passed when this test was written.

#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "recovery/recover.h"
#include "tests/recovery/recovery_support.h"
#include "tests/support/test_log.h"

using namespace cairn;
using namespace cairn::test;
using namespace cairn::recovery_test;

namespace {

// Bodies, header block padding and the tail's zero region are sampled every
// kStride-th byte (a prime, so that it walks through the offsets of records
// of every size).
constexpr std::uint64_t kStride = 199;

struct Fixture {
  Snapshot snapshot;
  std::vector<SegmentLayout> layouts;
  std::vector<AppendedEvent> model;
  std::uint64_t window = 0;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture f;
    auto fs = std::make_shared<MemFileSystem>();
    auto log = open_log(small_options(fs));
    // 3 segments: two sealed (about 160 records each) and a tail of about 25.
    for (std::size_t i = 0; i < 345; ++i) {
      f.model.push_back({"stream-" + std::to_string(i % 5), payload(i, 150 + (i * 53) % 251)});
      append_one(*log, f.model.back().stream, f.model.back().data);
    }
    f.snapshot = take_snapshot(*fs);  // the log is still open: no recovery point
    f.layouts = layouts_of(f.snapshot);
    f.window = f.layouts.back().header.write_window_bytes;
    return f;
  }();
  return f;
}

// A fresh crash model holding the snapshot, with `name` replaced by `bytes`.
std::shared_ptr<MemFileSystem> rebuild_with(const Snapshot& snapshot, const std::string& name,
                                            const std::string& bytes) {
  auto fs = std::make_shared<MemFileSystem>();
  REQUIRE(fs->create_dir(kDir).ok());
  REQUIRE(fs->sync_dir(format::parent_path(kDir)).ok());
  for (const auto& [n, b] : snapshot) {
    const std::string& content = n == name ? bytes : b;
    auto file = fs->open(dir_path(n), io::OpenMode::create);
    REQUIRE(file.has_value());
    if (!content.empty()) {
      REQUIRE((*file)->write_at(0, std::as_bytes(std::span(content))).ok());
    }
    REQUIRE((*file)->sync_data().ok());
  }
  REQUIRE(fs->sync_dir(kDir).ok());
  return fs;
}

enum class Expect {
  all_events,        // open and read succeed with every event
  all_but_last,      // torn tail: every event but the last
  refuse_at_open,    // open fails: code, file, position
  refuse_when_read,  // open may pass (sealed segment: seal only), reading must fail
};

struct Expected {
  Expect what = Expect::all_events;
  Errc code = Errc::corruption;
  std::string path;
  std::uint64_t position = 0;
  std::size_t events_before = 0;  // refuse_when_read: events read before the damage
  // Sealed segments: what recover(verify_all) says (nullopt: passes).
  std::optional<std::uint64_t> verify_position;
};

struct Counters {
  std::size_t cases = 0;
  std::size_t refused = 0;
  std::size_t repaired = 0;
  std::size_t unchanged = 0;
};

bool in(std::uint64_t p, std::uint64_t begin, std::uint64_t end) { return p >= begin && p < end; }

// What SPEC.md says about bytes [a, b) of segment `s` changed (the bytes
// that differ from the snapshot; non-empty).
Expected expect(const Fixture& f, std::size_t s, std::uint64_t a, std::uint64_t b) {
  const SegmentLayout& seg = f.layouts[s];
  const bool last = s + 1 == f.layouts.size();
  const std::string path = dir_path(seg.name);
  Expected e;
  e.path = path;
  if (a < format::kSegmentHeaderBytes) {
    e.what = Expect::refuse_at_open;
    e.position = 0;
    e.code = Errc::corruption;  // a wrong magic in a segment is damage too
    return e;
  }
  if (b <= format::kSegmentHeaderBlockBytes) {
    return e;  // header block padding: nobody reads it
  }
  REQUIRE(a >= format::kSegmentHeaderBlockBytes);  // changes never straddle 4096
  if (!last) {
    for (const RecordLayout& r : seg.batches) {
      if (in(a, r.position, r.end())) {
        REQUIRE(b <= r.end());
        e.what = Expect::refuse_when_read;
        e.position = r.position;
        e.events_before = r.lsn;
        e.verify_position = r.position;
        return e;
      }
    }
    if (a < seg.seal_slot()) {
      REQUIRE(b <= seg.seal_slot());
      e.verify_position = seg.records_end;  // row 2: zero_header at the end of the records
      return e;
    }
    e.what = Expect::refuse_at_open;
    e.position = seg.seal_slot();
    e.verify_position = seg.seal_slot();
    return e;
  }
  const RecordLayout& final_record = seg.batches.back();
  for (const RecordLayout& r : seg.batches) {
    if (!in(a, r.position, r.end())) {
      continue;
    }
    REQUIRE(b <= r.end());
    const bool only_padding = a >= r.padding_begin();
    if (&r != &final_record || only_padding) {
      e.what = Expect::refuse_at_open;  // row 5 (a later record proves it), or row 4
      e.position = r.position;
      return e;
    }
    e.what = Expect::all_but_last;  // row 8
    return e;
  }
  if (a < seg.seal_slot()) {
    const std::uint64_t v = seg.records_end;
    if (b - v > f.window) {             // Z = b: the last non-zero byte ends there
      e.what = Expect::refuse_at_open;  // row 6
      e.position = v;
      return e;
    }
    return e;  // row 8: garbage inside the window, every record kept
  }
  return e;  // seal slot garbage alone: row 8
}

void check_case(const Fixture& f, std::size_t s, std::uint64_t position, const std::string& mutated,
                Counters& n) {
  const SegmentLayout& seg = f.layouts[s];
  const std::string& original = f.snapshot.at(seg.name);
  // The bytes that actually changed.
  std::uint64_t a = mutated.size();
  std::uint64_t b = 0;
  for (std::uint64_t i = position; i < position + 8 && i < mutated.size(); ++i) {
    if (mutated[i] != original[i]) {
      a = std::min(a, i);
      b = i + 1;
    }
  }
  ++n.cases;
  Expected e;
  if (a < b) {
    e = expect(f, s, a, b);
  } else {
    ++n.unchanged;
  }
  const std::size_t total = f.model.size();
  auto fs = rebuild_with(f.snapshot, seg.name, mutated);
  if (e.verify_position) {
    // verify: a dry run that scans every segment. It changes nothing.
    recovery::RecoveryOptions o;
    o.directory = kDir;
    o.dry_run = true;
    o.verify_all = true;
    auto v = recovery::recover(*fs, o);
    REQUIRE_FALSE(v.has_value());
    CHECK(v.error().code() == Errc::corruption);
    CHECK(v.error().path() == e.path);
    CHECK(v.error().position() == e.verify_position);
  }
  auto log = Log::open(small_options(fs));
  if (e.what == Expect::refuse_at_open) {
    ++n.refused;
    REQUIRE_FALSE_MESSAGE(log.has_value(), "open should have refused");
    CHECK(log.error().code() == e.code);
    CHECK(log.error().path() == e.path);
    CHECK(log.error().position() == e.position);
    return;
  }
  if (e.what == Expect::refuse_when_read && !log.has_value()) {
    ++n.refused;
    CHECK(log.error().code() == Errc::corruption);
    CHECK(log.error().path() == e.path);
    CHECK(log.error().position() == e.position);
    return;
  }
  REQUIRE_MESSAGE(log.has_value(), log.status().to_string());
  const ReadBack got = read_back(**log);
  std::string why;
  CHECK_MESSAGE(is_prefix_of_model(got.events, f.model, &why), why);  // never a changed event
  switch (e.what) {
    case Expect::all_events:
      CHECK_MESSAGE(got.error.ok(), got.error.to_string());
      CHECK(got.events.size() == total);
      break;
    case Expect::all_but_last:
      ++n.repaired;
      CHECK_MESSAGE(got.error.ok(), got.error.to_string());
      CHECK(got.events.size() == total - 1);
      CHECK((*log)->next_lsn() == total - 1);
      break;
    case Expect::refuse_when_read:
      ++n.refused;
      CHECK(got.error.code() == Errc::corruption);
      CHECK(got.error.path() == e.path);
      CHECK(got.error.position() == e.position);
      CHECK(got.events.size() == e.events_before);
      break;
    case Expect::refuse_at_open:
      break;
  }
  if (e.what == Expect::all_events && a < b) {
    ++n.repaired;  // changed bytes that are not data: zero-filled or ignored
  }
}

// CAIRN_CORRUPTION_EXHAUSTIVE=1 visits every byte and every word of every
// segment and cuts the tail at every byte (a soak: a few minutes).
bool exhaustive() {
  const char* v = std::getenv("CAIRN_CORRUPTION_EXHAUSTIVE");
  return v != nullptr && std::string(v) == "1";
}

// The positions of segment `s` the sweep visits, each with whether the
// 8-byte word there (the position is then a multiple of 8) is zeroed too.
std::map<std::uint64_t, bool> positions(const Fixture& f, std::size_t s) {
  const SegmentLayout& seg = f.layouts[s];
  const bool last = s + 1 == f.layouts.size();
  std::map<std::uint64_t, bool> out;
  auto byte = [&](std::uint64_t p) { out.try_emplace(p, false); };
  auto word = [&](std::uint64_t p) { out[p] = true; };
  // Every byte, and every word.
  auto every = [&](std::uint64_t begin, std::uint64_t end) {
    for (std::uint64_t p = begin; p < end; ++p) {
      if (p % 8 == 0 && p + 8 <= end) {
        word(p);
      } else {
        byte(p);
      }
    }
  };
  if (exhaustive()) {
    every(0, seg.header.segment_bytes);
    return out;
  }
  // Every kStride-th byte and word (offset per segment), and (with ends)
  // the first and the last byte.
  auto sampled = [&](std::uint64_t begin, std::uint64_t end, bool ends = true) {
    for (std::uint64_t p = begin; p < end; ++p) {
      if ((p + s * 17) % kStride == 0) {
        byte(p);
      }
      if (p % 8 == 0 && p + 8 <= end && (p / 8 + s) % kStride == 0) {
        word(p);
      }
    }
    if (ends && begin < end) {
      byte(begin);
      byte(end - 1);
    }
  };
  every(0, format::kSegmentHeaderBytes);
  sampled(format::kSegmentHeaderBytes, format::kSegmentHeaderBlockBytes);
  const std::size_t records = seg.batches.size();
  for (std::size_t i = 0; i < records; ++i) {
    const RecordLayout& r = seg.batches[i];
    // Tail records the decision turns on: the first (proven by the second),
    // the last but one (proven by the last), the last (unproven).
    const bool key = last && (i == 0 || i + 2 >= records);
    if (key) {
      every(r.position, r.position + format::kRecordHeaderBytes);
    } else {
      // One rotating header byte and word per record: every offset is hit
      // in several records.
      byte(r.position + (i * 7) % format::kRecordHeaderBytes);
      word(r.position + (i % 6) * 8);
    }
    if (last && i + 1 == records) {
      every(r.position + format::kRecordHeaderBytes, r.end());  // the whole last record
      continue;
    }
    sampled(r.position + format::kRecordHeaderBytes, r.padding_begin(), /*ends=*/last);
    if (last) {
      every(r.padding_begin(), r.end());
    } else if (r.padding_begin() < r.end()) {
      byte(r.padding_begin() + i % (r.end() - r.padding_begin()));
    }
  }
  const std::uint64_t slot = seg.seal_slot();
  const std::uint64_t v = seg.records_end;
  if (!last) {
    // The gap before the seal (less than one record): its first header's
    // worth of bytes, then sampled.
    every(v, std::min(slot, v + format::kRecordHeaderBytes));
    sampled(std::min(slot, v + format::kRecordHeaderBytes), slot);
  } else {
    sampled(v, slot);
    for (std::uint64_t p : {v, v + 47, v + 48, v + f.window - 1, v + f.window, slot - 1}) {
      byte(p);
    }
  }
  every(slot, seg.header.segment_bytes);
  return out;
}

// Tail cut positions: one in 8, the residue rotating with the record
// (c = i mod 8 in record i), so that every alignment of a cut against the
// record and its body occurs; every byte of the header and the first body
// byte (a partial header, then short data) of the last four records; and
// the last byte before and the end of every record.
std::vector<std::uint64_t> cuts(const SegmentLayout& tail) {
  std::vector<std::uint64_t> out;
  const std::size_t records = tail.batches.size();
  for (std::uint64_t c = format::kSegmentHeaderBlockBytes; c <= tail.records_end; ++c) {
    bool take = exhaustive();
    for (std::size_t i = 0; i < records && !take; ++i) {
      const RecordLayout& r = tail.batches[i];
      if (c < r.position || c > r.end()) {
        continue;
      }
      take = (c < r.end() && c % 8 == i % 8) || c + 1 >= r.end() ||
             (i + 4 >= records && c <= r.position + format::kRecordHeaderBytes);
    }
    if (take) {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("corruption: the fixture is three segments, two sealed, with an unproven last record") {
  const Fixture& f = fixture();
  REQUIRE(f.layouts.size() == 3);
  CHECK(f.layouts[0].seal.has_value());
  CHECK(f.layouts[1].seal.has_value());
  CHECK_FALSE(f.layouts[2].seal.has_value());
  CHECK(f.layouts[2].batches.size() >= 10);
  CHECK_FALSE(f.snapshot.count(format::kRecoveryPointFileName));
  // Every record but the first of a segment is proven by the next one:
  // single-threaded sync appends stamp prior_durable_lsn = own LSN.
  for (const auto& seg : f.layouts) {
    for (const auto& r : seg.batches) {
      CHECK(r.prior_durable_lsn == r.lsn);
    }
  }
  const std::uint64_t v = f.layouts[2].records_end;
  CHECK(v + f.window + 1 < f.layouts[2].seal_slot());  // both sides of row 6 are reachable
  // Records with and without padding, in every segment.
  std::size_t padded = 0;
  for (const auto& seg : f.layouts) {
    for (const auto& r : seg.batches) {
      padded += r.padding_begin() < r.end() ? 1 : 0;
    }
  }
  CHECK(padded > 100);
  CHECK(f.layouts[2].batches.back().padding_begin() < f.layouts[2].batches.back().end());
}

TEST_CASE(
    "corruption: a flipped byte or a zeroed word anywhere is refused or repaired as SPEC.md says") {
  const Fixture& f = fixture();
  const auto start = std::chrono::steady_clock::now();
  Counters flips;
  Counters words;
  for (std::size_t s = 0; s < f.layouts.size(); ++s) {
    const SegmentLayout& seg = f.layouts[s];
    const std::string& original = f.snapshot.at(seg.name);
    for (const auto& [p, zero_word] : positions(f, s)) {
      CAPTURE(seg.name);
      CAPTURE(p);
      std::string flipped = original;
      flipped[p] = static_cast<char>(flipped[p] ^ 0xFF);
      check_case(f, s, p, flipped, flips);
      if (zero_word) {
        REQUIRE(p % 8 == 0);
        std::string zeroed = original;
        std::fill_n(zeroed.begin() + static_cast<std::ptrdiff_t>(p), 8, '\0');
        check_case(f, s, p, zeroed, words);
      }
    }
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  MESSAGE("flipped bytes: " << flips.cases << " (" << flips.refused << " refused, "
                            << flips.repaired << " repaired or ignored); zeroed words: "
                            << words.cases << " (" << words.refused << " refused, "
                            << words.repaired << " repaired or ignored, " << words.unchanged
                            << " already zero); " << ms << " ms");
  CHECK(flips.refused > 0);
  CHECK(flips.repaired > 0);
  CHECK(words.refused > 0);
}

TEST_CASE("corruption: a tail cut at any byte recovers exactly the longest valid prefix") {
  const Fixture& f = fixture();
  const SegmentLayout& tail = f.layouts.back();
  const std::string& original = f.snapshot.at(tail.name);
  const std::size_t before_tail = tail.header.base_lsn;
  const auto start = std::chrono::steady_clock::now();
  std::size_t count = 0;
  for (const std::uint64_t cut : cuts(tail)) {
    CAPTURE(cut);
    std::size_t kept = 0;
    while (kept < tail.batches.size() && tail.batches[kept].end() <= cut) {
      ++kept;
    }
    auto fs = rebuild_with(f.snapshot, tail.name, original.substr(0, cut));
    auto log = Log::open(small_options(fs));
    REQUIRE_MESSAGE(log.has_value(), log.status().to_string());
    ++count;
    CHECK((*log)->next_lsn() == before_tail + kept);
    const ReadBack got = read_back(**log);
    CHECK_MESSAGE(got.error.ok(), got.error.to_string());
    std::string why;
    CHECK_MESSAGE(is_prefix_of_model(got.events, f.model, &why), why);
    CHECK(got.events.size() == before_tail + kept);
    // The tail is whole again: its size restored, nothing after the records.
    auto bytes = fs->read_file(dir_path(tail.name));
    REQUIRE(bytes.has_value());
    CHECK(bytes->size() == tail.header.segment_bytes);
    const std::uint64_t end =
        kept == 0 ? format::kSegmentHeaderBlockBytes : tail.batches[kept - 1].end();
    CHECK(bytes->find_first_not_of('\0', end) == std::string::npos);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  MESSAGE("tail cuts: " << count << " of the " << tail.records_end - 4096 + 1
                        << " positions from 4096 to " << tail.records_end << "; " << ms << " ms");
}
