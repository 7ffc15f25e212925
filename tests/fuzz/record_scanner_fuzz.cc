// libFuzzer target: arbitrary bytes as the records of a segment, through
// format::RecordScanner and format::probe_later_records.
//
// Invariants checked (a violation aborts through FUZZ_CHECK):
//  1. Scanning never crashes and never reads outside the bytes given
//     (AddressSanitizer), and always ends with a stop other than `none`
//     that next() then keeps returning.
//  2. Every yielded record lies inside the input, at an aligned position,
//     right after the previous record (a seal: after it or at the seal slot
//     with only zeros between); its header reloads to the yielded fields,
//     its header and body checksums recompute under the segment's seed, its
//     header passes record_header_problem, its padding is zero, and its LSN
//     is the next LSN.
//  3. A yielded batch passes batch_body_problem, and BatchReader yields
//     exactly event_count events with dense LSNs and versions, each one's
//     type, metadata and data inside the body, then stops.
//  4. A yielded seal is the last record, matches the record count, event
//     count and chain the harness computed itself, and the stop is `sealed`.
//  5. The final ScanState agrees with the harness's own count of LSNs,
//     chain and batch records.
//  6. Scanning a prefix of the bytes yields a prefix of the same records
//     and, if it yields fewer, stops with end_of_input, short_data or
//     zero_header (a reader that feeds bytes in pieces sees the same log).
//  7. Resuming from the state after the first record, with only the bytes
//     from there on, yields the same remaining records and stop.
//  8. next_run() in runs of 1-5 records yields the records next() yields
//     and ends with the same stop and state.
//  9. probe_later_records never crashes; from the first position it finds
//     at least the records the scan yielded; what it reports lies inside
//     the input; all-zero bytes hold no record.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/layout.h"
#include "format/record.h"
#include "format/scanner.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace cairn::fuzz {
namespace {

using format::kRecordAlignment;
using format::kRecordHeaderBytes;
using format::kSealRecordBytes;
using format::kSegmentHeaderBlockBytes;

constexpr std::uint64_t kStart = kSegmentHeaderBlockBytes;

struct Yielded {
  std::uint64_t position;
  std::size_t record_bytes;
  std::uint64_t header_checksum;
};

struct Scan {
  std::vector<Yielded> records;
  format::ScanStop stop = format::ScanStop::none;
  format::ScanState state;
};

bool all_zero(std::span<const std::byte> b) {
  for (std::byte x : b) {
    if (x != std::byte{0}) {
      return false;
    }
  }
  return true;
}

// Makes the records in `seg` (segment bytes from kStart) verify, record by
// record, the way a writer would have sealed them; with `fix_lsns` also
// makes each LSN the next one and each seal agree with what precedes it.
void fix_up(std::vector<std::byte>& seg, std::uint64_t seed, std::uint64_t base_lsn,
            std::uint64_t segment_bytes, bool fix_lsns) {
  std::uint64_t position = kStart;
  std::uint64_t next_lsn = base_lsn;
  std::uint64_t chain = seed;
  std::uint64_t count = 0;
  const std::uint64_t slot = segment_bytes != 0 ? segment_bytes - kSealRecordBytes : 0;
  for (int guard = 0; guard < 4096; ++guard) {
    const std::size_t at = position - kStart;
    if (at + kRecordHeaderBytes > seg.size()) {
      return;
    }
    std::byte* p = seg.data() + at;
    if (all_zero({p, kRecordHeaderBytes})) {
      if (slot == 0 || position >= slot) {
        return;
      }
      position = slot;
      continue;
    }
    format::RecordHeader h = format::load_record_header(p);
    const std::size_t room = seg.size() - at - kRecordHeaderBytes;
    const std::size_t body_bytes = h.body_bytes < room ? h.body_bytes : room;
    std::byte* body = p + kRecordHeaderBytes;
    const bool is_seal = h.kind == static_cast<std::uint16_t>(format::RecordKind::seal);
    if (fix_lsns) {
      format::store_u64(p + 16, next_lsn);
      if (format::load_u64(p + 24) > next_lsn) {
        format::store_u64(p + 24, next_lsn);
      }
      if (is_seal && body_bytes >= format::kSealBodyBytes) {
        format::store_u64(body + 0, count);
        format::store_u64(body + 8, next_lsn - base_lsn);
        format::store_u64(body + 16, chain);
      }
    }
    format::store_u64(p + 8, format::xxh3({body, body_bytes}, seed));
    const std::uint64_t header_checksum = format::compute_header_checksum(p, seed);
    format::store_u64(p, header_checksum);
    if (is_seal) {
      return;
    }
    next_lsn += h.event_count;
    chain = format::chain_step(chain, header_checksum);
    ++count;
    const std::uint64_t total = format::record_bytes(h.body_bytes);
    if (total > seg.size() - at) {
      return;
    }
    position += total;
  }
}

bool inside(std::string_view s, std::span<const std::byte> body) {
  const auto* begin = reinterpret_cast<const char*>(body.data());
  return s.empty() || (s.data() >= begin && s.data() + s.size() <= begin + body.size());
}

// Scans with the per-record invariants (1-5) checked.
Scan scan_checked(std::span<const std::byte> bytes, std::uint64_t start, std::uint64_t seed,
                  std::uint64_t base_lsn, const format::ScanState& from, std::size_t limit,
                  std::uint64_t segment_bytes) {
  Scan out;
  format::RecordScanner scanner(bytes, start, seed, base_lsn, from, limit, segment_bytes);
  const std::uint64_t slot = segment_bytes != 0 ? segment_bytes - kSealRecordBytes : 0;
  format::RecordView view;
  std::uint64_t next_lsn = from.next_lsn;
  std::uint64_t chain = from.chain;
  std::uint64_t count = from.record_count;
  std::uint64_t expected_position = from.position;
  bool saw_seal = false;
  while (scanner.next(view)) {
    FUZZ_CHECK(!saw_seal);
    const bool is_seal = view.header.kind == static_cast<std::uint16_t>(format::RecordKind::seal);
    // 2. Where it lies.
    FUZZ_CHECK(view.position % kRecordAlignment == 0);
    FUZZ_CHECK(view.position >= start && view.position - start <= bytes.size());
    if (is_seal && segment_bytes != 0 && view.position != expected_position) {
      FUZZ_CHECK(view.position == slot && view.position > expected_position);
      FUZZ_CHECK(all_zero(bytes.subspan(expected_position - start, slot - expected_position)));
    } else {
      FUZZ_CHECK(view.position == expected_position);
    }
    const std::size_t at = view.position - start;
    FUZZ_CHECK(view.record_bytes == format::record_bytes(view.header.body_bytes));
    FUZZ_CHECK(view.record_bytes <= bytes.size() - at);
    FUZZ_CHECK(view.record_bytes <= limit);
    const std::byte* p = bytes.data() + at;
    FUZZ_CHECK(view.body.data() == p + kRecordHeaderBytes);
    FUZZ_CHECK(view.body.size() == view.header.body_bytes);
    // 2. What it says, and that it verifies.
    const format::RecordHeader h = format::load_record_header(p);
    FUZZ_CHECK(h.header_checksum == view.header.header_checksum);
    FUZZ_CHECK(h.body_checksum == view.header.body_checksum);
    FUZZ_CHECK(h.lsn == view.header.lsn);
    FUZZ_CHECK(h.prior_durable_lsn == view.header.prior_durable_lsn);
    FUZZ_CHECK(h.body_bytes == view.header.body_bytes);
    FUZZ_CHECK(h.event_count == view.header.event_count);
    FUZZ_CHECK(h.kind == view.header.kind);
    FUZZ_CHECK(h.flags == view.header.flags);
    FUZZ_CHECK(h.reserved == view.header.reserved && h.reserved == 0);
    FUZZ_CHECK(h.header_checksum == format::compute_header_checksum(p, seed));
    FUZZ_CHECK(h.body_checksum == format::xxh3(view.body, seed));
    FUZZ_CHECK(format::record_header_problem(h, limit)[0] == '\0');
    FUZZ_CHECK(all_zero({p + kRecordHeaderBytes + h.body_bytes,
                         view.record_bytes - kRecordHeaderBytes - h.body_bytes}));
    FUZZ_CHECK(h.lsn == next_lsn);
    if (is_seal) {
      // 4. The seal agrees with what the harness counted.
      const format::Seal seal = format::decode_seal_body(view.body);
      FUZZ_CHECK(seal.record_count == count);
      FUZZ_CHECK(seal.event_count == next_lsn - base_lsn);
      FUZZ_CHECK(seal.chain == chain);
      saw_seal = true;
    } else {
      // 3. The batch decodes to exactly its events, inside its body.
      FUZZ_CHECK(format::batch_body_problem(view.body, h.event_count)[0] == '\0');
      format::BatchReader reader(view.body, h.lsn, h.event_count);
      FUZZ_CHECK(!reader.stream().empty() && inside(reader.stream(), view.body));
      EventView event;
      std::uint32_t n = 0;
      while (reader.next(event)) {
        FUZZ_CHECK(n < h.event_count);
        FUZZ_CHECK(event.lsn == h.lsn + n);
        FUZZ_CHECK(event.version == reader.first_version() + n);
        FUZZ_CHECK(event.stream == reader.stream());
        FUZZ_CHECK(event.type.size() <= format::kEventTypeBytesMax);
        FUZZ_CHECK(inside(event.type, view.body));
        FUZZ_CHECK(inside(event.metadata, view.body));
        FUZZ_CHECK(inside(event.data, view.body));
        ++n;
      }
      FUZZ_CHECK(n == h.event_count);
      FUZZ_CHECK(!reader.next(event));
      next_lsn += h.event_count;
      chain = format::chain_step(chain, h.header_checksum);
      ++count;
    }
    expected_position = view.position + view.record_bytes;
    out.records.push_back({view.position, view.record_bytes, h.header_checksum});
  }
  // 1, 4, 5. The stop and the state.
  out.stop = scanner.stop();
  out.state = scanner.state();
  FUZZ_CHECK(out.stop != format::ScanStop::none);
  FUZZ_CHECK(format::scan_stop_name(out.stop)[0] != '\0');
  FUZZ_CHECK(saw_seal == (out.stop == format::ScanStop::sealed));
  FUZZ_CHECK(out.state.next_lsn == next_lsn);
  FUZZ_CHECK(out.state.chain == chain);
  FUZZ_CHECK(out.state.record_count == count);
  FUZZ_CHECK(out.state.position % kRecordAlignment == 0);
  FUZZ_CHECK(out.state.position == expected_position ||
             (segment_bytes != 0 && !saw_seal && out.state.position == slot));
  FUZZ_CHECK(!scanner.next(view));
  FUZZ_CHECK(scanner.stop() == out.stop);
  return out;
}

bool is_end_of_bytes(format::ScanStop stop) {
  return stop == format::ScanStop::end_of_input || stop == format::ScanStop::short_data ||
         stop == format::ScanStop::zero_header;
}

}  // namespace
}  // namespace cairn::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cairn;
  using namespace cairn::fuzz;
  if (size < kScanControlBytes) {
    return 0;
  }
  const std::uint8_t flags = data[0];
  const std::uint64_t base_lsn = data[1];
  const std::uint8_t cut_256ths = data[2];
  const std::uint64_t seed = format::record_seed(kScanLogId, base_lsn);
  const auto* input = reinterpret_cast<const std::byte*>(data + kScanControlBytes);
  const std::size_t input_bytes = size - kScanControlBytes;

  // The segment bytes from position kStart on.
  std::vector<std::byte> seg;
  std::uint64_t segment_bytes = 0;
  if ((flags & kScanWholeSegment) != 0) {
    segment_bytes = kScanSegmentBytes;
    seg.assign(segment_bytes - kStart, std::byte{0});
    const std::size_t slot_part = input_bytes < kSealRecordBytes ? input_bytes : kSealRecordBytes;
    std::size_t records_part = input_bytes - slot_part;
    if (records_part > seg.size() - kSealRecordBytes) {
      records_part = seg.size() - kSealRecordBytes;
    }
    std::memcpy(seg.data(), input, records_part);
    std::memcpy(seg.data() + seg.size() - kSealRecordBytes, input + input_bytes - slot_part,
                slot_part);
  } else {
    seg.assign(input, input + input_bytes);
  }
  if ((flags & kScanFixChecksums) != 0) {
    fix_up(seg, seed, base_lsn, segment_bytes, (flags & kScanFixLsns) != 0);
  }
  const std::size_t limit =
      (flags & kScanSmallLimit) != 0 ? kScanSmallRecordLimit : format::kRecordBytesMax;
  const format::ScanState from = format::ScanState::segment_start(base_lsn, seed);
  const std::span<const std::byte> all(seg);

  const Scan full = scan_checked(all, kStart, seed, base_lsn, from, limit, segment_bytes);
  // CAIRN_FUZZ_VERBOSE=1 shows what each input scanned to (to check seeds).
  static const bool verbose = std::getenv("CAIRN_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "flags %02x: %zu records, stop %s at %llu\n", flags, full.records.size(),
                 format::scan_stop_name(full.stop),
                 static_cast<unsigned long long>(full.state.position));
  }

  // 6. A prefix of the bytes gives a prefix of the records.
  const std::size_t cut = seg.size() * cut_256ths / 256;
  const Scan prefix =
      scan_checked(all.first(cut), kStart, seed, base_lsn, from, limit, segment_bytes);
  FUZZ_CHECK(prefix.records.size() <= full.records.size());
  for (std::size_t i = 0; i < prefix.records.size(); ++i) {
    FUZZ_CHECK(prefix.records[i].position == full.records[i].position);
    FUZZ_CHECK(prefix.records[i].record_bytes == full.records[i].record_bytes);
    FUZZ_CHECK(prefix.records[i].header_checksum == full.records[i].header_checksum);
  }
  if (prefix.records.size() < full.records.size()) {
    FUZZ_CHECK(is_end_of_bytes(prefix.stop));
  } else {
    FUZZ_CHECK(prefix.stop == full.stop || is_end_of_bytes(prefix.stop));
  }
  FUZZ_CHECK(prefix.state.position <= full.state.position);

  // 7. Resuming after the first record, with only the bytes from there on.
  {
    format::RecordScanner one(all, kStart, seed, base_lsn, from, limit, segment_bytes);
    format::RecordView view;
    if (one.next(view) && one.stop() == format::ScanStop::none) {
      const format::ScanState state = one.state();
      const Scan resumed = scan_checked(all.subspan(state.position - kStart), state.position, seed,
                                        base_lsn, state, limit, segment_bytes);
      FUZZ_CHECK(resumed.records.size() + 1 == full.records.size());
      for (std::size_t i = 0; i < resumed.records.size(); ++i) {
        FUZZ_CHECK(resumed.records[i].position == full.records[i + 1].position);
        FUZZ_CHECK(resumed.records[i].header_checksum == full.records[i + 1].header_checksum);
      }
      FUZZ_CHECK(resumed.stop == full.stop);
      FUZZ_CHECK(resumed.state.position == full.state.position);
      FUZZ_CHECK(resumed.state.chain == full.state.chain);
    }
  }

  // 8. Runs (next_run, what the reader's replay uses) yield what next()
  // yields, record for record, and stop where it stops.
  {
    format::RecordScanner runs(all, kStart, seed, base_lsn, from, limit, segment_bytes);
    std::vector<format::RecordView> run(1 + cut_256ths % 5);
    std::size_t i = 0;
    while (true) {
      const std::size_t got = runs.next_run(run);
      FUZZ_CHECK(got <= run.size());
      for (std::size_t k = 0; k < got; ++k, ++i) {
        FUZZ_CHECK(i < full.records.size());
        FUZZ_CHECK(run[k].position == full.records[i].position);
        FUZZ_CHECK(run[k].header.header_checksum == full.records[i].header_checksum);
      }
      if (got < run.size()) {
        break;
      }
    }
    FUZZ_CHECK(i == full.records.size());
    FUZZ_CHECK(runs.stop() == full.stop);
    FUZZ_CHECK(runs.state().position == full.state.position);
    FUZZ_CHECK(runs.state().chain == full.state.chain);
    FUZZ_CHECK(runs.next_run(run) == 0);
  }

  // 9. The probe.
  const std::uint64_t end = kStart + seg.size();
  const format::LaterRecords found = format::probe_later_records(all, kStart, kStart, seed);
  FUZZ_CHECK(found.count >= full.records.size());
  FUZZ_CHECK(found.last_nonzero_position <= end);
  if (found.last_nonzero_position == 0) {
    FUZZ_CHECK(found.count == 0);
  }
  if (found.count != 0) {
    FUZZ_CHECK(found.first_position >= kStart);
    FUZZ_CHECK((found.first_position - kStart) % kRecordAlignment == 0);
    FUZZ_CHECK(found.first_position + kRecordHeaderBytes <= end);
    FUZZ_CHECK(found.last_nonzero_position > found.first_position);
  }
  if (!full.records.empty()) {
    FUZZ_CHECK(found.first_position <= full.records.front().position);
  }
  const format::LaterRecords after =
      format::probe_later_records(all, kStart, full.state.position, seed);
  FUZZ_CHECK(after.count <= found.count);
  if (after.count != 0) {
    FUZZ_CHECK(after.first_position >= full.state.position);
  }
  return 0;
}
