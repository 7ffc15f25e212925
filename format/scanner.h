// The one decoder (BRIEF rule 11): the reader, recovery, index rebuild and
// `cairn dump` all walk segment bytes with RecordScanner. It yields verified
// records in order and, when it cannot go on, stops with a named reason and
// the position of the first byte it could not accept (SPEC.md section 5.5).
// It never reads outside the span it was given and never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "format/checksum.h"
#include "format/layout.h"
#include "format/record.h"

namespace cairn::format {

enum class ScanStop : std::uint8_t {
  none,                 // not stopped
  end_of_input,         // fewer bytes left than a record header (feed more, or the segment ended)
  short_data,           // header verified, but the record runs past the bytes given
  sealed,               // the seal was read and matched; nothing follows it
  zero_header,          // 48 zero bytes where a header would be: the end marker
  bad_header_checksum,  // header bytes are not zero and do not verify
  bad_header,           // header verifies but its fields are impossible
  bad_body_checksum,    // header verifies, body does not
  bad_body,             // body verifies but is malformed (or padding not zero)
  lsn_gap,              // record verifies but its LSN is not the next one
  bad_seal,             // seal verifies but disagrees with the records before it
};

const char* scan_stop_name(ScanStop stop);
// True for the stops that mean "damaged or torn bytes" rather than an end.
bool scan_stop_is_damage(ScanStop stop);

struct RecordView {
  std::uint64_t position = 0;  // of the record header, in the segment
  RecordHeader header;
  std::span<const std::byte> body;  // header.body_bytes bytes
  std::size_t record_bytes = 0;     // header + body + padding
};

struct ScanState {
  std::uint64_t position = kSegmentHeaderBlockBytes;  // of the next record
  std::uint64_t next_lsn = 0;                         // LSN the next batch must start at
  std::uint64_t chain = 0;                            // record chain so far (starts at the seed)
  std::uint64_t record_count = 0;                     // batch records so far

  // Where a scan of a whole segment begins: its first record position, its
  // base LSN, and the chain at its start (the record seed).
  static ScanState segment_start(std::uint64_t base_lsn, std::uint64_t seed) {
    return ScanState{kSegmentHeaderBlockBytes, base_lsn, seed, 0};
  }
};

class RecordScanner {
 public:
  // `bytes` are segment bytes starting at segment position `start_position`.
  // `state` says where to begin (position >= start_position) and what comes
  // next. `base_lsn` is the segment's, for the seal's event count.
  // `segment_bytes` (0 = unknown) locates the seal slot, the last
  // kSealRecordBytes of the segment (SPEC.md section 6): when known, a zero
  // header followed by zeros up to a filled seal slot continues at the seal,
  // and no batch may reach into the slot.
  RecordScanner(std::span<const std::byte> bytes, std::uint64_t start_position, std::uint64_t seed,
                std::uint64_t base_lsn, const ScanState& state,
                std::size_t record_bytes_max = kRecordBytesMax, std::uint64_t segment_bytes = 0);

  // Yields the next verified record (batches and the seal) and returns true;
  // returns false once stopped (see stop()).
  bool next(RecordView& out);
  // next() into each of `out` in turn, until out is full or next() returns
  // false: returns how many records it yielded. The same checks and stops
  // as next(), in one call: a reader that hands out many events per call
  // saves the per-record call (bench/RESULTS.md, session 9).
  std::size_t next_run(std::span<RecordView> out);

  ScanStop stop() const { return stop_; }
  // Where the scan is: after a stop, the position of the record it could not
  // accept (or of the end of input).
  const ScanState& state() const { return state_; }
  const char* detail() const { return detail_; }

 private:
  bool scan(RecordView& out);  // next()'s body, inlined into next() and next_run()
  bool fail(ScanStop stop, const char* detail);
  void prefetch_ahead(std::size_t at);
  bool accept_seal(const RecordView& view);
  bool skip_to_seal_slot();
  std::uint64_t seal_position() const { return segment_bytes_ - kSealRecordBytes; }

  std::span<const std::byte> bytes_;
  std::uint64_t start_position_;
  SeededXxh3 hash_;  // under the segment's record seed
  std::uint64_t base_lsn_;
  std::size_t record_bytes_max_;
  std::uint64_t segment_bytes_;
  ScanState state_;
  // Offset into bytes_ up to which cache lines have been prefetched.
  std::size_t prefetched_ = 0;
  ScanStop stop_ = ScanStop::none;
  const char* detail_ = "";
};

// What lies after a stop: any record at an aligned position in
// [from_position, end of bytes) whose header and body checksums verify under
// `seed`. Recovery uses the greatest prior_durable_lsn among them to prove
// that damaged data before them had been acknowledged (SPEC.md section 10).
struct LaterRecords {
  std::uint64_t count = 0;
  std::uint64_t first_position = 0;
  std::uint64_t max_prior_durable_lsn = 0;
  std::uint64_t last_nonzero_position = 0;  // end of the last non-zero byte (0 if none)
};
LaterRecords probe_later_records(std::span<const std::byte> bytes, std::uint64_t start_position,
                                 std::uint64_t from_position, std::uint64_t seed);

}  // namespace cairn::format
