// Segment images in memory, for tests that attack the bytes (the way
// LevelDB's log_test.cc flips, shrinks and re-checksums its log).
//
// A SegmentImage is the bytes of one segment file: the header block (the
// encoded segment header, then zeros up to kSegmentHeaderBlockBytes), the
// records a test appends through the real encoders, and an optional zero
// tail (the preallocated part of the file). add_seal() writes the seal into
// the seal slot, the last 80 bytes of the segment, with zeros before it
// (SPEC.md section 6), so a sealed image is a whole segment. The image
// remembers what it wrote, so a test can say "the scanner yields exactly
// records 0..k-1" and "the record it yielded is byte-identical to one that
// was written".
//
// The mutators change bytes the way a disk or a crash can: flip_byte,
// zero_range, cut_to, put. refresh_checksums() then re-seals a record whose
// fields a test edited on purpose (LevelDB's FixChecksum), so the test
// reaches the check behind the checksum.
//
// Header-only and independent of doctest: misuse of the helper is a bug in
// the test, so it stops with CAIRN_ASSERT. Used by tests/format and the
// recovery tests.
#pragma once

#include <cairn/assert.h>
#include <cairn/event.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/codec.h"
#include "format/layout.h"
#include "format/record.h"
#include "format/scanner.h"

namespace cairn::test_support {

// Byte positions of the record header fields (SPEC.md section 5.1). They
// mirror the private constants of format/record.cc; record_test.cc checks
// that the two agree through load_record_header().
enum class RecordField : std::size_t {
  header_checksum = 0,     // u64
  body_checksum = 8,       // u64
  lsn = 16,                // u64
  prior_durable_lsn = 24,  // u64
  body_bytes = 32,         // u32
  event_count = 36,        // u32
  kind = 40,               // u16
  flags = 42,              // u16
  reserved = 44,           // u32, zero
};
constexpr std::size_t field_at(RecordField field) { return static_cast<std::size_t>(field); }

// An event that owns its bytes (NewEvent only views them).
struct ImageEvent {
  std::string type;
  EventId id;
  std::string metadata;
  std::string data;
  std::int64_t time_ns = 0;

  NewEvent view() const { return NewEvent{type, id, metadata, data, time_ns}; }
};

// A deterministic event: id, time and contents derived from `n`, with
// `data_bytes` bytes of data. Different n give different ids and bytes.
inline ImageEvent make_event(std::uint64_t n, std::size_t data_bytes = 24,
                             std::size_t metadata_bytes = 8) {
  ImageEvent e;
  e.type = "type-" + std::to_string(n % 7);
  for (std::size_t i = 0; i < e.id.bytes.size(); ++i) {
    e.id.bytes[i] = static_cast<std::uint8_t>((n * 131 + i * 17 + 1) & 0xFF);
  }
  e.metadata.resize(metadata_bytes);
  for (std::size_t i = 0; i < metadata_bytes; ++i) {
    e.metadata[i] = static_cast<char>('a' + (n + i) % 26);
  }
  e.data.resize(data_bytes);
  for (std::size_t i = 0; i < data_bytes; ++i) {
    // Never zero, so a zeroed stretch of data is always a change.
    e.data[i] = static_cast<char>(1 + (n * 7 + i * 13) % 250);
  }
  e.time_ns = 1'700'000'000'000'000'000 + static_cast<std::int64_t>(n) * 1000;
  return e;
}

struct ImageOptions {
  std::uint64_t log_id = 0x5EED'0000'0000'0001ull;
  std::uint64_t base_lsn = 0;
  // Written in the segment header. With `preallocate` the image starts this
  // long, all zeros after the header (a freshly prepared segment file).
  std::uint64_t segment_bytes = format::kSegmentBytesMin;
  bool preallocate = false;
  std::uint32_t write_window_bytes = format::kWriteWindowBytesDefault;
  std::uint32_t index_interval_bytes = format::kIndexIntervalBytesDefault;
  std::int64_t created_time_ns = 1'700'000'000'000'000'000;
};

// Per-batch choices; unset fields take the value a correct writer would use.
struct BatchOptions {
  std::optional<std::uint64_t> lsn;                // default: next LSN
  std::optional<std::uint64_t> prior_durable_lsn;  // default: the batch's LSN
  std::uint64_t first_version = 0;
};

// What the image wrote, for comparing against what a scanner yields.
struct WrittenRecord {
  std::uint64_t position = 0;  // of the header, in the segment
  std::size_t record_bytes = 0;
  std::size_t body_bytes = 0;
  format::RecordKind kind = format::RecordKind::batch;
  std::uint64_t lsn = 0;
  std::uint64_t prior_durable_lsn = 0;
  std::uint32_t event_count = 0;
  std::uint64_t header_checksum = 0;
  std::string stream;
  std::uint64_t first_version = 0;
  std::vector<ImageEvent> events;
  std::vector<std::byte> bytes;  // header + body + padding, as written

  std::uint64_t end() const { return position + record_bytes; }
  // First padding byte (== end() when the body fills the record).
  std::uint64_t padding_position() const {
    return position + format::kRecordHeaderBytes + body_bytes;
  }
};

class SegmentImage {
 public:
  explicit SegmentImage(ImageOptions options = {}) : options_(options) {
    seed_ = format::record_seed(options.log_id, options.base_lsn);
    next_lsn_ = options.base_lsn;
    chain_ = seed_;
    bytes_.assign(options.preallocate ? options.segment_bytes : format::kSegmentHeaderBlockBytes,
                  std::byte{0});
    std::array<std::byte, format::kSegmentHeaderBytes> header;
    format::encode_segment_header(segment_header(), header);
    std::copy(header.begin(), header.end(), bytes_.begin());
  }

  // --- building ---

  // Appends one batch record of `events` (at least one) for `stream`.
  const WrittenRecord& add_batch(std::string_view stream, std::vector<ImageEvent> events,
                                 const BatchOptions& batch = {}) {
    CAIRN_ASSERT(!sealed_);
    std::vector<NewEvent> views;
    views.reserve(events.size());
    for (const auto& e : events) {
      views.push_back(e.view());
    }
    const std::size_t body_bytes = format::batch_body_bytes(stream, views);
    WrittenRecord r;
    r.position = end_position_;
    r.record_bytes = format::record_bytes(body_bytes);
    r.body_bytes = body_bytes;
    r.kind = format::RecordKind::batch;
    r.lsn = batch.lsn.value_or(next_lsn_);
    r.prior_durable_lsn = batch.prior_durable_lsn.value_or(r.lsn);
    r.event_count = static_cast<std::uint32_t>(events.size());
    r.stream = std::string(stream);
    r.first_version = batch.first_version;
    r.bytes.resize(r.record_bytes);
    format::BatchFields fields;
    fields.seed = seed_;
    fields.lsn = r.lsn;
    fields.prior_durable_lsn = r.prior_durable_lsn;
    fields.stream = r.stream;
    fields.first_version = r.first_version;
    format::encode_batch(r.bytes, fields, views);
    r.header_checksum = format::load_u64(r.bytes.data());
    r.events = std::move(events);
    place(r);
    next_lsn_ = r.lsn + r.event_count;
    chain_ = format::chain_step(chain_, r.header_checksum);
    ++batch_count_;
    records_.push_back(std::move(r));
    return records_.back();
  }

  // `count` batches of `events_per_batch` make_event() events each, on
  // streams "s-0", "s-1", ... (each from version 0).
  void add_batches(std::size_t count, std::size_t events_per_batch = 2,
                   std::size_t data_bytes = 24) {
    for (std::size_t b = 0; b < count; ++b) {
      std::vector<ImageEvent> events;
      for (std::size_t i = 0; i < events_per_batch; ++i) {
        events.push_back(make_event(next_lsn_ + i, data_bytes + (b % 3)));
      }
      add_batch("s-" + std::to_string(b), std::move(events));
    }
  }

  // The seal a correct writer would write now.
  format::Seal expected_seal() const {
    format::Seal seal;
    seal.record_count = batch_count_;
    seal.event_count = next_lsn_ - options_.base_lsn;
    seal.chain = chain_;
    seal.sealed_time_ns = options_.created_time_ns + 1;
    return seal;
  }

  // Where the seal goes: the last kSealRecordBytes of the segment
  // (SPEC.md section 6).
  std::uint64_t seal_position() const { return options_.segment_bytes - format::kSealRecordBytes; }
  // Bytes a batch record may still take before the seal slot.
  std::uint64_t room() const {
    return end_position_ <= seal_position() ? seal_position() - end_position_ : 0;
  }

  // Appends one single-event batch record of exactly `record_bytes` bytes
  // (a multiple of 8, at least 112, no padding): fills a segment up to a
  // chosen position.
  const WrittenRecord& add_batch_of_record_bytes(std::size_t record_bytes) {
    constexpr std::size_t kFixed =
        format::kRecordHeaderBytes + format::kBatchPrefixBytes + 1 + format::kEventHeaderBytes + 1;
    CAIRN_ASSERT(record_bytes % format::kRecordAlignment == 0 && record_bytes >= kFixed + 6);
    ImageEvent e = make_event(next_lsn_, record_bytes - kFixed, 0);
    e.type = "t";
    const WrittenRecord& r = add_batch("f", {e});
    CAIRN_ASSERT(r.record_bytes == record_bytes);
    return r;
  }

  struct SealOptions {
    std::optional<format::Seal> seal;       // default: expected_seal()
    std::optional<std::uint64_t> end_lsn;   // default: next_lsn()
    std::optional<std::uint64_t> position;  // default: seal_position()
  };
  // Writes a seal, by default the one a correct writer would write: the
  // expected seal, in the seal slot, with zeros between the last record and
  // the slot; the image then is the whole segment.
  const WrittenRecord& add_seal(const SealOptions& options = {}) {
    CAIRN_ASSERT(!sealed_);
    WrittenRecord r;
    r.position = options.position.value_or(seal_position());
    CAIRN_ASSERT(r.position >= end_position_ && r.position % format::kRecordAlignment == 0);
    r.record_bytes = format::kSealRecordBytes;
    r.body_bytes = format::kSealBodyBytes;
    r.kind = format::RecordKind::seal;
    r.lsn = options.end_lsn.value_or(next_lsn_);
    r.prior_durable_lsn = r.lsn;
    r.bytes.resize(format::kSealRecordBytes);
    format::encode_seal(std::span<std::byte, format::kSealRecordBytes>(r.bytes), seed_, r.lsn,
                        r.prior_durable_lsn, options.seal.value_or(expected_seal()));
    r.header_checksum = format::load_u64(r.bytes.data());
    zero_range_to(r.position);
    place(r);
    sealed_ = true;
    records_.push_back(std::move(r));
    return records_.back();
  }

  // Appends `bytes` zeros after the last record (or after the current end of
  // the image, if that is later): the unwritten, preallocated tail.
  void add_zero_tail(std::size_t bytes) { bytes_.resize(bytes_.size() + bytes, std::byte{0}); }
  // Grows the image with zeros to the segment size of its header.
  void fill_to_segment_bytes() {
    CAIRN_ASSERT(bytes_.size() <= options_.segment_bytes);
    bytes_.resize(options_.segment_bytes, std::byte{0});
  }

  // --- mutating (positions are segment positions) ---

  void flip_byte(std::size_t position, std::uint8_t mask = 0xFF) {
    CAIRN_ASSERT(position < bytes_.size() && mask != 0);
    bytes_[position] ^= std::byte{mask};
  }
  void set_byte(std::size_t position, std::uint8_t value) {
    CAIRN_ASSERT(position < bytes_.size());
    bytes_[position] = std::byte{value};
  }
  void zero_range(std::size_t position, std::size_t length) {
    CAIRN_ASSERT(position + length <= bytes_.size());
    std::fill_n(bytes_.begin() + static_cast<std::ptrdiff_t>(position), length, std::byte{0});
  }
  // Keeps the first `length` bytes (a file cut short by a crash).
  void cut_to(std::size_t length) {
    CAIRN_ASSERT(length <= bytes_.size());
    bytes_.resize(length);
  }
  // Overwrites bytes at `position`, growing the image if needed.
  void put(std::size_t position, std::span<const std::byte> bytes) {
    if (position + bytes.size() > bytes_.size()) {
      bytes_.resize(position + bytes.size(), std::byte{0});
    }
    std::copy(bytes.begin(), bytes.end(), bytes_.begin() + static_cast<std::ptrdiff_t>(position));
  }
  // Field edits of the record header at `record_position`; they leave the
  // checksums stale until refresh_checksums().
  void set_field_u64(std::size_t record_position, RecordField field, std::uint64_t v) {
    CAIRN_ASSERT(record_position + format::kRecordHeaderBytes <= bytes_.size());
    format::store_u64(bytes_.data() + record_position + field_at(field), v);
  }
  void set_field_u32(std::size_t record_position, RecordField field, std::uint32_t v) {
    CAIRN_ASSERT(record_position + format::kRecordHeaderBytes <= bytes_.size());
    format::store_u32(bytes_.data() + record_position + field_at(field), v);
  }
  void set_field_u16(std::size_t record_position, RecordField field, std::uint16_t v) {
    CAIRN_ASSERT(record_position + format::kRecordHeaderBytes <= bytes_.size());
    format::store_u16(bytes_.data() + record_position + field_at(field), v);
  }
  // Recomputes the body checksum (over the body_bytes the header now states,
  // clipped to the image) and then the header checksum of the record at
  // `record_position`, so edited bytes verify again.
  void refresh_checksums(std::size_t record_position) {
    CAIRN_ASSERT(record_position + format::kRecordHeaderBytes <= bytes_.size());
    std::byte* p = bytes_.data() + record_position;
    const std::size_t available = bytes_.size() - record_position - format::kRecordHeaderBytes;
    const std::size_t body_bytes =
        std::min<std::size_t>(format::load_u32(p + field_at(RecordField::body_bytes)), available);
    format::store_u64(p + field_at(RecordField::body_checksum),
                      format::xxh3({p + format::kRecordHeaderBytes, body_bytes}, seed_));
    refresh_header_checksum(record_position);
  }
  void refresh_header_checksum(std::size_t record_position) {
    CAIRN_ASSERT(record_position + format::kRecordHeaderBytes <= bytes_.size());
    std::byte* p = bytes_.data() + record_position;
    format::store_u64(p + field_at(RecordField::header_checksum),
                      format::compute_header_checksum(p, seed_));
  }

  // --- reading ---

  std::span<const std::byte> bytes() const { return bytes_; }
  std::vector<std::byte>& mutable_bytes() { return bytes_; }
  std::size_t size() const { return bytes_.size(); }
  const std::vector<WrittenRecord>& records() const { return records_; }
  const WrittenRecord& record(std::size_t i) const {
    CAIRN_ASSERT(i < records_.size());
    return records_[i];
  }
  const ImageOptions& options() const { return options_; }
  std::uint64_t seed() const { return seed_; }
  std::uint64_t log_id() const { return options_.log_id; }
  std::uint64_t base_lsn() const { return options_.base_lsn; }
  // LSN after the last batch written, and position after the last record.
  std::uint64_t next_lsn() const { return next_lsn_; }
  std::uint64_t end_position() const { return end_position_; }
  std::uint64_t chain() const { return chain_; }
  std::uint64_t batch_count() const { return batch_count_; }

  // The events of the first `records` written records, as a reader should
  // return them (LSN, stream, version filled in); seals contribute none.
  std::vector<Event> events_of_first(std::size_t records) const {
    CAIRN_ASSERT(records <= records_.size());
    std::vector<Event> out;
    for (std::size_t r = 0; r < records; ++r) {
      const WrittenRecord& w = records_[r];
      for (std::size_t i = 0; i < w.events.size(); ++i) {
        const ImageEvent& e = w.events[i];
        out.push_back(Event{w.lsn + i, w.stream, w.first_version + i, e.type, e.id, e.time_ns,
                            e.metadata, e.data});
      }
    }
    return out;
  }

  format::SegmentHeader segment_header() const {
    format::SegmentHeader h;
    h.write_window_bytes = options_.write_window_bytes;
    h.log_id = options_.log_id;
    h.base_lsn = options_.base_lsn;
    h.segment_bytes = options_.segment_bytes;
    h.created_time_ns = options_.created_time_ns;
    h.index_interval_bytes = options_.index_interval_bytes;
    return h;
  }

  // Where a scan of this segment starts: the first record position, the
  // base LSN, and the chain at the seed.
  format::ScanState start_state() const {
    return format::ScanState::segment_start(options_.base_lsn, seed_);
  }

 private:
  // Zeros from the end of the last record up to `position`.
  void zero_range_to(std::uint64_t position) {
    if (bytes_.size() < position) {
      bytes_.resize(position, std::byte{0});
    }
    std::fill(bytes_.begin() + static_cast<std::ptrdiff_t>(end_position_),
              bytes_.begin() + static_cast<std::ptrdiff_t>(position), std::byte{0});
  }

  void place(const WrittenRecord& r) {
    CAIRN_ASSERT(!options_.preallocate || r.end() <= options_.segment_bytes);
    put(r.position, r.bytes);
    end_position_ = r.end();
  }

  ImageOptions options_;
  std::uint64_t seed_ = 0;
  std::uint64_t next_lsn_ = 0;
  std::uint64_t chain_ = 0;
  std::uint64_t batch_count_ = 0;
  std::uint64_t end_position_ = format::kSegmentHeaderBlockBytes;
  bool sealed_ = false;
  std::vector<std::byte> bytes_;
  std::vector<WrittenRecord> records_;
};

// One record a scan yielded, copied out of the scanned bytes.
struct ScannedRecord {
  std::uint64_t position = 0;
  format::RecordHeader header;
  std::size_t record_bytes = 0;
  std::vector<std::byte> bytes;  // header + body + padding
};

struct ScanResult {
  std::vector<ScannedRecord> records;
  format::ScanStop stop = format::ScanStop::none;
  format::ScanState state;  // after the stop: position of the first byte not accepted
  std::string detail;
};

// Scans `bytes` (segment bytes from `start_position`) to its stop.
inline ScanResult scan_bytes(std::span<const std::byte> bytes, std::uint64_t start_position,
                             std::uint64_t seed, std::uint64_t base_lsn,
                             const format::ScanState& state,
                             std::size_t record_bytes_max = format::kRecordBytesMax,
                             std::uint64_t segment_bytes = 0) {
  ScanResult result;
  format::RecordScanner scanner(bytes, start_position, seed, base_lsn, state, record_bytes_max,
                                segment_bytes);
  format::RecordView view;
  while (scanner.next(view)) {
    ScannedRecord r;
    r.position = view.position;
    r.header = view.header;
    r.record_bytes = view.record_bytes;
    const std::size_t at = view.position - start_position;
    r.bytes.assign(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                   bytes.begin() + static_cast<std::ptrdiff_t>(at + view.record_bytes));
    result.records.push_back(std::move(r));
  }
  result.stop = scanner.stop();
  result.state = scanner.state();
  result.detail = scanner.detail();
  return result;
}

// Scans an image from its first record with its own seed, knowing its
// segment size (so its seal slot) unless `know_segment_bytes` is false.
inline ScanResult scan_image(const SegmentImage& image,
                             std::size_t record_bytes_max = format::kRecordBytesMax,
                             bool know_segment_bytes = true) {
  return scan_bytes(image.bytes(), 0, image.seed(), image.base_lsn(), image.start_state(),
                    record_bytes_max, know_segment_bytes ? image.options().segment_bytes : 0);
}

// Probes the image for verifying records at or after `from_position`.
inline format::LaterRecords probe_image(const SegmentImage& image, std::uint64_t from_position) {
  return format::probe_later_records(image.bytes(), 0, from_position, image.seed());
}

}  // namespace cairn::test_support
