// The one decoder (format/scanner.h), attacked the way LevelDB's log_test.cc
// attacks its reader: flip every byte, cut at every byte, zero records,
// re-checksum edited fields to reach the checks behind the checksums. Each
// test name is the claim it checks.
#include "format/scanner.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/layout.h"
#include "format/record.h"
#include "tests/support/segment_image.h"

namespace cairn::format {
namespace {

using test_support::BatchOptions;
using test_support::ImageOptions;
using test_support::make_event;
using test_support::RecordField;
using test_support::scan_bytes;
using test_support::scan_image;
using test_support::ScanResult;
using test_support::SegmentImage;
using test_support::WrittenRecord;

constexpr std::uint64_t kFirst = kSegmentHeaderBlockBytes;

// Five batches of different sizes (each with padding), then either the seal
// in its slot (a whole segment) or `tail` zero bytes.
SegmentImage make_image(bool sealed, std::size_t tail = 0, ImageOptions options = {}) {
  SegmentImage image(options);
  image.add_batch("orders-1", {make_event(0, 31)});
  image.add_batches(2, 3);
  image.add_batch("accounts", {make_event(10, 0, 0), make_event(11, 1, 0)});
  image.add_batch("s", {make_event(12, 5, 5)}, BatchOptions{std::nullopt, std::nullopt, 4});
  if (sealed) {
    image.add_seal();
  } else {
    image.add_zero_tail(tail);
  }
  return image;
}

// End of the last batch record (where the zeros before the seal slot start).
std::uint64_t batches_end(const SegmentImage& image) {
  std::uint64_t end = kFirst;
  for (const WrittenRecord& w : image.records()) {
    if (w.kind == RecordKind::batch) {
      end = w.end();
    }
  }
  return end;
}

std::size_t batch_count(const SegmentImage& image) {
  std::size_t n = 0;
  for (const WrittenRecord& w : image.records()) {
    n += w.kind == RecordKind::batch ? 1 : 0;
  }
  return n;
}

// The scan yielded exactly the first `k` written records, byte-identical and
// at their positions.
void check_yielded_first(const ScanResult& r, const SegmentImage& image, std::size_t k) {
  REQUIRE(r.records.size() == k);
  for (std::size_t i = 0; i < k; ++i) {
    CAPTURE(i);
    const WrittenRecord& w = image.record(i);
    CHECK(r.records[i].position == w.position);
    CHECK(r.records[i].record_bytes == w.record_bytes);
    CHECK(r.records[i].header.lsn == w.lsn);
    CHECK(r.records[i].bytes == w.bytes);
  }
}

// Index of the written record that contains `position`, or records().size().
std::size_t record_containing(const SegmentImage& image, std::uint64_t position) {
  for (std::size_t i = 0; i < image.records().size(); ++i) {
    if (position >= image.record(i).position && position < image.record(i).end()) {
      return i;
    }
  }
  return image.records().size();
}

TEST_CASE("scanner: a sealed image yields every record byte-identical, then stops sealed") {
  SegmentImage image = make_image(true);
  REQUIRE(image.size() == image.options().segment_bytes);
  REQUIRE(image.records().back().position == image.seal_position());
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, image.records().size());
  CHECK(r.stop == ScanStop::sealed);
  CHECK_FALSE(scan_stop_is_damage(r.stop));
  CHECK(r.state.position == image.end_position());
  CHECK(r.state.next_lsn == image.next_lsn());
  CHECK(r.state.chain == image.chain());
  CHECK(r.state.record_count == image.batch_count());
  CHECK(r.records.back().header.kind == static_cast<std::uint16_t>(RecordKind::seal));

  // The events read back are the events written, at their LSNs and versions.
  std::vector<Event> read;
  for (const auto& rec : r.records) {
    if (rec.header.kind != static_cast<std::uint16_t>(RecordKind::batch)) {
      continue;
    }
    BatchReader reader(
        std::span<const std::byte>(rec.bytes).subspan(kRecordHeaderBytes, rec.header.body_bytes),
        rec.header.lsn, rec.header.event_count);
    EventView v;
    while (reader.next(v)) {
      read.push_back(Event::from_view(v));
    }
  }
  CHECK(read == image.events_of_first(image.records().size()));
  CHECK(read.size() == image.next_lsn());
}

TEST_CASE("scanner: an unsealed image stops with zero_header at the end of its last record") {
  SegmentImage image = make_image(false, 4096);
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, image.records().size());
  CHECK(r.stop == ScanStop::zero_header);
  CHECK_FALSE(scan_stop_is_damage(r.stop));
  CHECK(r.state.position == image.end_position());
  CHECK(r.state.next_lsn == image.next_lsn());
  CHECK(r.state.chain == image.chain());
  CHECK(r.state.record_count == image.records().size());
}

TEST_CASE(
    "scanner: a preallocated segment with no records stops with zero_header at the first "
    "position") {
  ImageOptions options;
  options.preallocate = true;
  SegmentImage image(options);
  CHECK(image.size() == options.segment_bytes);
  ScanResult r = scan_image(image);
  CHECK(r.records.empty());
  CHECK(r.stop == ScanStop::zero_header);
  CHECK(r.state.position == kFirst);
}

TEST_CASE(
    "scanner: an image that ends right after its last record stops with end_of_input "
    "there") {
  SegmentImage image = make_image(false);
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, image.records().size());
  CHECK(r.stop == ScanStop::end_of_input);
  CHECK_FALSE(scan_stop_is_damage(r.stop));
  CHECK(r.state.position == image.end_position());
}

TEST_CASE("scanner: once stopped, next() keeps returning false with the same stop") {
  SegmentImage image = make_image(false, 64);
  image.flip_byte(image.record(2).position + 60);
  RecordScanner scanner(image.bytes(), 0, image.seed(), image.base_lsn(), image.start_state());
  RecordView view;
  int yielded = 0;
  while (scanner.next(view)) {
    ++yielded;
  }
  CHECK(yielded == 2);
  CHECK(scanner.stop() == ScanStop::bad_body_checksum);
  const ScanState state = scanner.state();
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(scanner.next(view));
    CHECK(scanner.stop() == ScanStop::bad_body_checksum);
    CHECK(scanner.state().position == state.position);
  }
}

// The positions worth flipping or cutting at in `image`: the records, the
// bytes around their end, and the end of the segment (the seal slot). The
// zeros in between behave alike and are skipped to keep the test fast.
std::vector<std::size_t> interesting_positions(const SegmentImage& image, std::size_t from) {
  std::vector<std::size_t> out;
  const std::size_t near_end = batches_end(image) + 128;
  const std::size_t slot_from =
      image.seal_position() > 128 ? static_cast<std::size_t>(image.seal_position()) - 128 : 0;
  for (std::size_t x = from; x < image.size(); ++x) {
    if (x < near_end || x >= slot_from) {
      out.push_back(x);
    }
  }
  return out;
}

TEST_CASE(
    "scanner: a flipped byte in a record stops at that record's position with a damage "
    "stop, after yielding only the intact records before it") {
  ImageOptions whole;
  whole.preallocate = true;
  struct Shape {
    const char* name;
    SegmentImage image;
  };
  const Shape shapes[] = {
      {"unsealed, short zero tail", make_image(false, 128)},
      {"unsealed, whole preallocated segment", make_image(false, 0, whole)},
      {"sealed", make_image(true)},
  };
  for (const Shape& shape : shapes) {
    CAPTURE(shape.name);
    const SegmentImage& clean = shape.image;
    const std::size_t n = clean.records().size();
    const std::size_t batches = batch_count(clean);
    const std::uint64_t end = batches_end(clean);
    const std::uint64_t slot = clean.seal_position();
    const bool whole_segment = clean.size() == clean.options().segment_bytes;
    for (std::size_t x : interesting_positions(clean, kFirst)) {
      for (std::uint8_t mask : {0x01, 0x80, 0xFF}) {
        CAPTURE(x);
        CAPTURE(int(mask));
        SegmentImage image = clean;
        image.flip_byte(x, mask);
        ScanResult r = scan_image(image);
        const std::size_t k = record_containing(clean, x);
        if (k < n) {
          // Damage inside a written record (a batch or the seal).
          const WrittenRecord& w = clean.record(k);
          check_yielded_first(r, clean, k);
          CHECK(r.state.position == w.position);
          CHECK(scan_stop_is_damage(r.stop));
          const std::uint64_t in = x - w.position;
          if (in < kRecordHeaderBytes) {
            CHECK(r.stop == ScanStop::bad_header_checksum);
          } else if (in < kRecordHeaderBytes + w.body_bytes) {
            CHECK(r.stop == ScanStop::bad_body_checksum);
          } else {
            CHECK(r.stop == ScanStop::bad_body);
            CHECK(r.detail == "padding bytes are not zero");
          }
          continue;
        }
        // Damage in the zeros after the last batch.
        check_yielded_first(r, clean, batches);
        if (x < end + kRecordHeaderBytes) {
          // Where the next header would be: not zero, so damage.
          CHECK(r.stop == ScanStop::bad_header_checksum);
          CHECK(r.state.position == end);
        } else if (whole_segment && x >= slot && x < slot + kRecordHeaderBytes) {
          // Zeros up to a non-zero seal slot: the scan goes to the slot and
          // finds no seal header there.
          CHECK(r.stop == ScanStop::bad_header_checksum);
          CHECK(r.state.position == slot);
        } else if (whole_segment && x >= slot) {
          // Zeros where the seal header would be, a non-zero byte in the
          // rest of the slot: an end marker, reported at the slot.
          CHECK(r.stop == ScanStop::zero_header);
          CHECK(r.state.position == slot);
        } else {
          // A non-zero byte further on: the scan stops at the end marker
          // and never reaches a seal beyond it (recovery's probe sees it).
          CHECK(r.stop == ScanStop::zero_header);
          CHECK(r.state.position == end);
        }
      }
    }
  }
}

TEST_CASE("scanner: cut at every byte, the image yields exactly the records that fit entirely") {
  for (bool sealed : {false, true}) {
    CAPTURE(sealed);
    const SegmentImage clean = make_image(sealed);
    const std::size_t batches = batch_count(clean);
    const std::uint64_t end = batches_end(clean);
    std::vector<std::size_t> cuts = interesting_positions(clean, kFirst - 64);
    cuts.push_back(clean.size());
    for (std::size_t cut : {0, 1, 47, 48, 64}) {
      cuts.push_back(cut);
    }
    for (std::size_t cut : cuts) {
      CAPTURE(cut);
      SegmentImage image = clean;
      image.cut_to(cut);
      ScanResult r = scan_image(image);
      std::size_t k = 0;
      while (k < batches && clean.record(k).end() <= cut) {
        ++k;
      }
      const std::uint64_t next = k == 0 ? kFirst : clean.record(k - 1).end();
      if (sealed && cut == clean.size()) {
        check_yielded_first(r, clean, batches + 1);
        CHECK(r.stop == ScanStop::sealed);
        continue;
      }
      check_yielded_first(r, clean, k);
      CHECK(r.state.position == next);
      if (cut < next + kRecordHeaderBytes) {
        CHECK(r.stop == ScanStop::end_of_input);
      } else if (k < batches) {
        CHECK(r.stop == ScanStop::short_data);
      } else {
        // The zeros before the seal slot, but not the whole segment: the
        // scan cannot know a seal follows, so it stops at the end marker.
        CHECK(r.stop == ScanStop::zero_header);
        CHECK(next == end);
      }
    }
  }
}

TEST_CASE("scanner: a zeroed record stops with zero_header at its position") {
  SegmentImage image = make_image(false, 256);
  const WrittenRecord& w = image.record(2);
  SUBCASE("the whole record") { image.zero_range(w.position, w.record_bytes); }
  SUBCASE("only its header") { image.zero_range(w.position, kRecordHeaderBytes); }
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, 2);
  CHECK(r.stop == ScanStop::zero_header);
  CHECK(r.state.position == w.position);
}

TEST_CASE("scanner: a zeroed body under an intact header is a bad body checksum") {
  SegmentImage image = make_image(false, 256);
  const WrittenRecord& w = image.record(1);
  image.zero_range(w.position + kRecordHeaderBytes, w.record_bytes - kRecordHeaderBytes);
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, 1);
  CHECK(r.stop == ScanStop::bad_body_checksum);
  CHECK(r.state.position == w.position);
}

TEST_CASE("scanner: a record whose LSN is not the next one stops with lsn_gap") {
  SegmentImage image;
  image.add_batches(2, 2);
  SUBCASE("a gap") { image.add_batch("x", {make_event(100)}, BatchOptions{image.next_lsn() + 1}); }
  SUBCASE("a repeated LSN") {
    image.add_batch("x", {make_event(100)}, BatchOptions{image.next_lsn() - 1});
  }
  image.add_zero_tail(64);
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, 2);
  CHECK(r.stop == ScanStop::lsn_gap);
  CHECK(scan_stop_is_damage(r.stop));
  CHECK(r.state.position == image.record(2).position);
  CHECK(r.state.next_lsn == 4);
}

TEST_CASE("scanner: a segment whose first LSN is not its base LSN stops with lsn_gap at once") {
  ImageOptions options;
  options.base_lsn = 1000;
  SegmentImage image(options);
  image.add_batch("x", {make_event(1)}, BatchOptions{999});
  ScanResult r = scan_image(image);
  CHECK(r.records.empty());
  CHECK(r.stop == ScanStop::lsn_gap);
  CHECK(r.state.position == kFirst);
}

TEST_CASE(
    "scanner: a seal that matches the records before it stops sealed; one that differs "
    "in record count, event count or chain stops with bad_seal") {
  SegmentImage image;
  image.add_batches(3, 2);
  Seal seal = image.expected_seal();
  std::string detail;
  SUBCASE("matching") {}
  SUBCASE("record count") {
    seal.record_count += 1;
    detail = "seal record count differs from the records read";
  }
  SUBCASE("event count") {
    seal.event_count -= 1;
    detail = "seal event count differs from the events read";
  }
  SUBCASE("chain") {
    seal.chain ^= 1;
    detail = "seal chain differs from the records read";
  }
  image.add_seal({.seal = seal});
  ScanResult r = scan_image(image);
  const WrittenRecord& w = image.records().back();
  if (detail.empty()) {
    check_yielded_first(r, image, 4);
    CHECK(r.stop == ScanStop::sealed);
    CHECK(r.state.position == w.end());
  } else {
    check_yielded_first(r, image, 3);
    CHECK(r.stop == ScanStop::bad_seal);
    CHECK(scan_stop_is_damage(r.stop));
    CHECK(r.detail == detail);
    CHECK(r.state.position == w.position);
  }
}

TEST_CASE("scanner: a seal at another end LSN stops with lsn_gap") {
  SegmentImage image;
  image.add_batches(2, 2);
  image.add_seal({.end_lsn = image.next_lsn() + 1});
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, 2);
  CHECK(r.stop == ScanStop::lsn_gap);
}

TEST_CASE("scanner: a seal counts events from the segment's base LSN") {
  ImageOptions options;
  options.base_lsn = 5000;
  SegmentImage image(options);
  image.add_batches(3, 4);
  CHECK(image.expected_seal().event_count == 12);
  image.add_seal();
  ScanResult r = scan_image(image);
  CHECK(r.stop == ScanStop::sealed);
  // Scanned with another base LSN, the seal's event count no longer agrees
  // (the seed is the image's, so only the seal check can tell).
  ScanState state = image.start_state();
  ScanResult other = scan_bytes(image.bytes(), 0, image.seed(), options.base_lsn - 1, state,
                                kRecordBytesMax, options.segment_bytes);
  CHECK(other.stop == ScanStop::bad_seal);
}

TEST_CASE("scanner: an empty segment can be sealed") {
  SegmentImage image;
  image.add_seal();
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, 1);
  CHECK(r.stop == ScanStop::sealed);
  CHECK(r.state.position == image.options().segment_bytes);
}

TEST_CASE("scanner: a seal in its slot is found whatever the gap of zeros before it") {
  // The writer places a record only if it ends at or before the slot, so
  // the gap is any multiple of 8, including less than a record header.
  for (std::uint64_t gap : {0, 8, 16, 24, 32, 40, 48, 56, 64, 200, 4096}) {
    CAPTURE(gap);
    SegmentImage image;
    image.add_batches(3, 2);
    image.add_batch_of_record_bytes(image.room() - gap);
    REQUIRE(image.room() == gap);
    image.add_seal();
    ScanResult r = scan_image(image);
    check_yielded_first(r, image, image.records().size());
    CHECK(r.stop == ScanStop::sealed);
    CHECK(r.detail == "");
    CHECK(r.state.position == image.options().segment_bytes);
    CHECK(r.state.record_count == 4);
  }
}

TEST_CASE(
    "scanner: without the segment size, the zeros before the seal slot are the end "
    "marker") {
  SegmentImage image;
  image.add_batches(3, 2);
  image.add_seal();
  ScanResult r = scan_image(image, kRecordBytesMax, /*know_segment_bytes=*/false);
  check_yielded_first(r, image, 3);
  CHECK(r.stop == ScanStop::zero_header);
  CHECK(r.state.position == image.record(2).end());
}

TEST_CASE("scanner: knowing the segment size, a seal outside the seal slot is bad_header") {
  SegmentImage image;
  image.add_batches(3, 2);
  image.add_seal({.position = image.end_position()});
  image.fill_to_segment_bytes();
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, 3);
  CHECK(r.stop == ScanStop::bad_header);
  CHECK(r.detail == "seal outside the seal slot");
  CHECK(r.state.position == image.record(3).position);
  // Without the segment size the same seal is accepted where it is.
  ScanResult unknown = scan_image(image, kRecordBytesMax, /*know_segment_bytes=*/false);
  CHECK(unknown.stop == ScanStop::sealed);
}

TEST_CASE(
    "scanner: knowing the segment size, a batch that reaches into the seal slot is "
    "bad_header") {
  SUBCASE("a batch across the start of the slot") {
    SegmentImage image;
    image.add_batches(2, 2);
    image.add_batch_of_record_bytes(image.room() + 8);
    ScanResult r = scan_image(image);
    check_yielded_first(r, image, 2);
    CHECK(r.stop == ScanStop::bad_header);
    CHECK(r.detail == "batch reaches into the seal slot");
    CHECK(r.state.position == image.record(2).position);
  }
  SUBCASE("a batch at the slot") {
    SegmentImage image;
    image.add_batches(2, 2);
    image.add_batch_of_record_bytes(image.room());
    REQUIRE(image.end_position() == image.seal_position());
    image.add_batches(1, 1);
    ScanResult r = scan_image(image);
    check_yielded_first(r, image, 3);
    CHECK(r.stop == ScanStop::bad_header);
    CHECK(r.detail == "batch reaches into the seal slot");
    CHECK(r.state.position == image.seal_position());
  }
}

TEST_CASE(
    "scanner: the seal chain covers prior_durable_lsn, so restamping a sealed record is a "
    "bad seal") {
  SegmentImage image;
  image.add_batches(3, 2);
  image.add_seal();
  const WrittenRecord& w = image.record(1);
  restamp_prior_durable(
      std::span<std::byte>(image.mutable_bytes()).subspan(w.position, w.record_bytes), image.seed(),
      w.lsn - 1);
  ScanResult r = scan_image(image);
  // The restamped record itself is valid; only the seal disagrees.
  REQUIRE(r.records.size() == 3);
  CHECK(r.records[1].header.prior_durable_lsn == w.lsn - 1);
  CHECK(r.stop == ScanStop::bad_seal);
  CHECK(r.detail == "seal chain differs from the records read");
}

TEST_CASE("scanner: non-zero padding is a bad body") {
  SegmentImage image = make_image(false, 64);
  const WrittenRecord& w = image.record(3);
  REQUIRE(w.padding_position() < w.end());
  image.set_byte(w.end() - 1, 0x01);
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, 3);
  CHECK(r.stop == ScanStop::bad_body);
  CHECK(r.detail == "padding bytes are not zero");
  CHECK(r.state.position == w.position);
}

TEST_CASE("scanner: records of another log or another segment fail the header checksum") {
  ImageOptions a_options;
  a_options.log_id = 1;
  a_options.base_lsn = 0;
  const SegmentImage a = make_image(false, 64, a_options);

  SUBCASE("scanned with the seed of another log") {
    ScanResult r = scan_bytes(a.bytes(), 0, record_seed(2, 0), 0, a.start_state());
    CHECK(r.records.empty());
    CHECK(r.stop == ScanStop::bad_header_checksum);
    CHECK(r.state.position == kFirst);
  }
  SUBCASE("scanned with the seed of another base LSN") {
    ScanResult r = scan_bytes(a.bytes(), 0, record_seed(1, 1), 0, a.start_state());
    CHECK(r.records.empty());
    CHECK(r.stop == ScanStop::bad_header_checksum);
  }
  SUBCASE("a record copied in from another log, at the right place and LSN") {
    ImageOptions b_options = a_options;
    b_options.log_id = 2;
    const SegmentImage b = make_image(false, 64, b_options);
    // Same events, same sizes: only the seed differs.
    REQUIRE(b.record(2).position == a.record(2).position);
    REQUIRE(b.record(2).lsn == a.record(2).lsn);
    SegmentImage mixed = a;
    mixed.put(a.record(2).position, b.record(2).bytes);
    ScanResult r = scan_image(mixed);
    check_yielded_first(r, a, 2);
    CHECK(r.stop == ScanStop::bad_header_checksum);
    CHECK(r.state.position == a.record(2).position);
  }
  SUBCASE("a record copied in from another segment of the same log") {
    ImageOptions c_options = a_options;
    c_options.base_lsn = 1'000'000;
    const SegmentImage c = make_image(false, 64, c_options);
    // Give the copy the LSN this place expects and redo its header checksum
    // under its own segment's seed: intact, right place, right LSN, and still
    // not this segment's record.
    std::vector<std::byte> copy = c.record(2).bytes;
    store_u64(copy.data() + test_support::field_at(RecordField::lsn), a.record(2).lsn);
    store_u64(copy.data() + test_support::field_at(RecordField::prior_durable_lsn),
              a.record(2).lsn);
    store_u64(copy.data(), compute_header_checksum(copy.data(), c.seed()));
    REQUIRE(copy.size() == a.record(2).record_bytes);
    SegmentImage mixed = a;
    mixed.put(a.record(2).position, copy);
    ScanResult r = scan_image(mixed);
    check_yielded_first(r, a, 2);
    CHECK(r.stop == ScanStop::bad_header_checksum);
  }
}

TEST_CASE("scanner: restamp_prior_durable keeps a record valid") {
  SegmentImage image = make_image(false, 64);
  const WrittenRecord& w = image.record(3);
  const std::uint64_t checksum = restamp_prior_durable(
      std::span<std::byte>(image.mutable_bytes()).subspan(w.position, w.record_bytes), image.seed(),
      1);
  ScanResult r = scan_image(image);
  REQUIRE(r.records.size() == image.records().size());
  CHECK(r.stop == ScanStop::zero_header);
  CHECK(r.records[3].header.prior_durable_lsn == 1);
  CHECK(r.records[3].header.header_checksum == checksum);
  CHECK(r.records[4].bytes == image.record(4).bytes);
}

TEST_CASE(
    "scanner: a header that verifies but whose fields are impossible stops with "
    "bad_header") {
  struct Case {
    const char* name;
    void (*edit)(SegmentImage&, std::size_t at);
    const char* detail;
  };
  const Case cases[] = {
      {"kind 0", [](SegmentImage& i, std::size_t at) { i.set_field_u16(at, RecordField::kind, 0); },
       "unknown record kind"},
      {"unknown kind",
       [](SegmentImage& i, std::size_t at) { i.set_field_u16(at, RecordField::kind, 3); },
       "unknown record kind"},
      {"a flag",
       [](SegmentImage& i, std::size_t at) { i.set_field_u16(at, RecordField::flags, 4); },
       "unknown record flags"},
      {"a reserved byte",
       [](SegmentImage& i, std::size_t at) {
         i.set_field_u32(at, RecordField::reserved, 0x8000'0000);
       },
       "reserved header bytes are not zero"},
      {"no events",
       [](SegmentImage& i, std::size_t at) { i.set_field_u32(at, RecordField::event_count, 0); },
       "batch event count out of range"},
      {"prior durable LSN after the record",
       [](SegmentImage& i, std::size_t at) {
         i.set_field_u64(at, RecordField::prior_durable_lsn, 1000);
       },
       "prior durable LSN beyond the record's LSN"},
      {"longer than the limit",
       [](SegmentImage& i, std::size_t at) {
         i.set_field_u32(at, RecordField::body_bytes, 0xFFFF'FFF0);
       },
       "record larger than the limit"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    SegmentImage image = make_image(false, 64);
    const std::size_t at = image.record(2).position;
    c.edit(image, at);
    image.refresh_header_checksum(at);
    ScanResult r = scan_image(image);
    check_yielded_first(r, image, 2);
    CHECK(r.stop == ScanStop::bad_header);
    CHECK(r.detail == c.detail);
    CHECK(r.state.position == at);
  }
}

TEST_CASE("scanner: the caller's record size limit refuses a larger record as bad_header") {
  SegmentImage image = make_image(false, 64);
  ScanResult r = scan_image(image, image.record(0).record_bytes);
  check_yielded_first(r, image, 1);
  CHECK(r.stop == ScanStop::bad_header);
  CHECK(r.detail == "record larger than the limit");
}

TEST_CASE("scanner: a verified header whose record runs past the bytes given is short_data") {
  SegmentImage image = make_image(false, 64);
  const std::size_t at = image.record(4).position;
  image.set_field_u32(at, RecordField::body_bytes, 1u << 20);
  image.refresh_header_checksum(at);
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, 4);
  CHECK(r.stop == ScanStop::short_data);
  CHECK(r.state.position == at);
}

TEST_CASE("scanner: a body that verifies but is malformed stops with bad_body") {
  SegmentImage image = make_image(false, 64);
  const WrittenRecord& w = image.record(1);
  // The first reserved byte of the batch prefix.
  image.set_byte(w.position + kRecordHeaderBytes + 10, 0x01);
  image.refresh_checksums(w.position);
  ScanResult r = scan_image(image);
  check_yielded_first(r, image, 1);
  CHECK(r.stop == ScanStop::bad_body);
  CHECK(r.detail == "reserved batch prefix bytes are not zero");
  CHECK(r.state.position == w.position);
}

TEST_CASE("scanner: resuming from the state after any record gives the same records and stop") {
  SegmentImage image = make_image(true);
  const ScanResult full = scan_image(image);
  REQUIRE(full.stop == ScanStop::sealed);
  RecordScanner scanner(image.bytes(), 0, image.seed(), image.base_lsn(), image.start_state(),
                        kRecordBytesMax, image.options().segment_bytes);
  RecordView view;
  std::size_t k = 0;
  while (scanner.next(view)) {
    ++k;
    if (k == image.records().size()) {
      break;
    }
    // Resume with only the bytes from the next record on, as a reader that
    // fed the segment in pieces would.
    const ScanState state = scanner.state();
    const auto rest = image.bytes().subspan(state.position);
    ScanResult resumed = scan_bytes(rest, state.position, image.seed(), image.base_lsn(), state,
                                    kRecordBytesMax, image.options().segment_bytes);
    REQUIRE(resumed.records.size() == full.records.size() - k);
    for (std::size_t i = 0; i < resumed.records.size(); ++i) {
      CHECK(resumed.records[i].position == full.records[k + i].position);
      CHECK(resumed.records[i].bytes == full.records[k + i].bytes);
    }
    CHECK(resumed.stop == full.stop);
    CHECK(resumed.state.position == full.state.position);
    CHECK(resumed.state.chain == full.state.chain);
  }
  CHECK(k == image.records().size());
}

TEST_CASE(
    "probe: finds the valid records after a damaged one and their greatest "
    "prior_durable_lsn") {
  SegmentImage image;
  image.add_batches(2, 2);                                               // LSN 0..3
  image.add_batch("a", {make_event(4)}, BatchOptions{std::nullopt, 2});  // 4
  image.add_batch("b", {make_event(5)}, BatchOptions{std::nullopt, 5});  // 5, max
  image.add_batch("c", {make_event(6)}, BatchOptions{std::nullopt, 3});  // 6
  image.add_zero_tail(256);
  const WrittenRecord& damaged = image.record(1);
  SUBCASE("damaged body") { image.flip_byte(damaged.position + kRecordHeaderBytes + 3); }
  SUBCASE("damaged header") { image.flip_byte(damaged.position + 20); }
  SUBCASE("zeroed header") { image.zero_range(damaged.position, kRecordHeaderBytes); }
  ScanResult r = scan_image(image);
  REQUIRE(r.records.size() == 1);
  REQUIRE(r.state.position == damaged.position);

  LaterRecords later = test_support::probe_image(image, r.state.position);
  CHECK(later.count == 3);
  CHECK(later.first_position == image.record(2).position);
  CHECK(later.max_prior_durable_lsn == 5);
  std::uint64_t last_nonzero = 0;
  for (std::size_t i = 0; i < image.size(); ++i) {
    if (image.bytes()[i] != std::byte{0}) {
      last_nonzero = i + 1;
    }
  }
  CHECK(later.last_nonzero_position == last_nonzero);
  CHECK(later.last_nonzero_position <= image.record(4).end());
  CHECK(later.last_nonzero_position > image.record(4).position);

  // From just after the damaged record, and from an unaligned position
  // inside it (rounded up to the alignment), the probe finds the same.
  CHECK(test_support::probe_image(image, damaged.end()).count == 3);
  CHECK(test_support::probe_image(image, damaged.position + 1).count == 3);
  // From the last record only that one remains.
  LaterRecords last = test_support::probe_image(image, image.record(4).position);
  CHECK(last.count == 1);
  CHECK(last.max_prior_durable_lsn == 3);
}

TEST_CASE("probe: counts a seal as a later record") {
  SegmentImage image;
  image.add_batches(3, 1);
  image.add_seal();
  image.flip_byte(image.record(0).position + 50);
  LaterRecords later = test_support::probe_image(image, kFirst);
  CHECK(later.count == 3);
  CHECK(later.first_position == image.record(1).position);
  CHECK(later.max_prior_durable_lsn == image.record(3).prior_durable_lsn);
}

TEST_CASE("probe: finds nothing in zeros") {
  ImageOptions options;
  options.preallocate = true;
  SegmentImage image(options);
  LaterRecords later = test_support::probe_image(image, kFirst);
  CHECK(later.count == 0);
  CHECK(later.first_position == 0);
  CHECK(later.max_prior_durable_lsn == 0);
  CHECK(later.last_nonzero_position == 0);
}

TEST_CASE("probe: finds nothing in garbage, and reports where the garbage ends") {
  SegmentImage image;
  std::vector<std::byte> garbage(64 << 10);
  std::uint64_t x = 0x9E37'79B9'7F4A'7C15ull;
  for (auto& b : garbage) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<std::byte>(x);
  }
  garbage.back() = std::byte{0x5A};
  image.put(kFirst, garbage);
  image.add_zero_tail(100);
  LaterRecords later = test_support::probe_image(image, kFirst);
  CHECK(later.count == 0);
  CHECK(later.last_nonzero_position == kFirst + garbage.size());
}

TEST_CASE("probe: does not count the records of another log") {
  ImageOptions other;
  other.log_id = 99;
  SegmentImage foreign = make_image(false, 64, other);
  LaterRecords later = format::probe_later_records(foreign.bytes(), 0, kFirst, record_seed(98, 0));
  CHECK(later.count == 0);
  // The last event's data has no zero byte, so the last non-zero byte is the
  // one before the last record's padding.
  CHECK(later.last_nonzero_position == foreign.record(4).padding_position());
}

TEST_CASE("scanner: stop names are distinct and damage is classified") {
  const ScanStop all[] = {
      ScanStop::none,       ScanStop::end_of_input,      ScanStop::short_data,
      ScanStop::sealed,     ScanStop::zero_header,       ScanStop::bad_header_checksum,
      ScanStop::bad_header, ScanStop::bad_body_checksum, ScanStop::bad_body,
      ScanStop::lsn_gap,    ScanStop::bad_seal};
  std::vector<std::string> names;
  for (ScanStop s : all) {
    names.emplace_back(scan_stop_name(s));
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (std::size_t j = i + 1; j < names.size(); ++j) {
      CHECK(names[i] != names[j]);
    }
  }
  CHECK_FALSE(scan_stop_is_damage(ScanStop::none));
  CHECK_FALSE(scan_stop_is_damage(ScanStop::end_of_input));
  CHECK_FALSE(scan_stop_is_damage(ScanStop::sealed));
  CHECK_FALSE(scan_stop_is_damage(ScanStop::zero_header));
  CHECK(scan_stop_is_damage(ScanStop::short_data));
  CHECK(scan_stop_is_damage(ScanStop::bad_header_checksum));
  CHECK(scan_stop_is_damage(ScanStop::bad_header));
  CHECK(scan_stop_is_damage(ScanStop::bad_body_checksum));
  CHECK(scan_stop_is_damage(ScanStop::bad_body));
  CHECK(scan_stop_is_damage(ScanStop::lsn_gap));
  CHECK(scan_stop_is_damage(ScanStop::bad_seal));
}

}  // namespace
}  // namespace cairn::format
