#include "recovery/segment_scan.h"

#include <cairn/assert.h>

#include <algorithm>
#include <vector>

#include "format/checksum.h"
#include "format/layout.h"

namespace cairn::recovery {
namespace {

using format::kRecordHeaderBytes;
using format::kSealRecordBytes;
using format::kSegmentHeaderBlockBytes;

Status read_exact(const io::File& file, std::uint64_t position, std::span<std::byte> out,
                  std::size_t* got) {
  CAIRN_ASSIGN_OR_RETURN(std::size_t n, file.read_at(position, out));
  *got = n;
  return Status();
}

// End of the last non-zero byte in [from, to) of `bytes` (which start at
// segment position 0), or `from` when all are zero.
std::uint64_t nonzero_end(std::span<const std::byte> bytes, std::uint64_t from, std::uint64_t to) {
  to = std::min<std::uint64_t>(to, bytes.size());
  for (std::uint64_t i = to; i > from; --i) {
    if (bytes[i - 1] != std::byte{0}) {
      return i;
    }
  }
  return from;
}

// `valid_end`: the position after the last batch record that verified.
// It differs from the stop position only when the scan went on over zeros to
// a seal slot that does not verify; V is then the end of the records, not the
// slot, so that the recovered tail continues where its records end and a
// second recovery (after the zero-fill) finds the same V.
void fill_facts(SegmentScan& scan, std::span<const std::byte> bytes, std::uint64_t valid_end) {
  TailFacts& f = scan.facts;
  f.stop = scan.stop;
  f.valid_end = valid_end;
  f.next_lsn = scan.end.next_lsn;
  f.write_window_bytes = scan.header.write_window_bytes;
  if (scan.sealed) {
    return;
  }
  const std::uint64_t slot = scan.header.segment_bytes - kSealRecordBytes;
  f.nonzero_end = nonzero_end(bytes, f.valid_end, slot);
  f.seal_slot_nonzero = nonzero_end(bytes, slot, scan.header.segment_bytes) > slot;
  if (f.nonzero_end > f.valid_end || f.seal_slot_nonzero) {
    const auto later = format::probe_later_records(bytes, 0, f.valid_end, scan.seed);
    f.later_records = later.count;
    f.later_max_prior_durable_lsn = later.max_prior_durable_lsn;
  }
}

}  // namespace

Result<format::SegmentHeader> read_segment_header(const io::File& file) {
  std::byte buf[format::kSegmentHeaderBytes];
  std::size_t got = 0;
  CAIRN_TRY(read_exact(file, 0, buf, &got));
  auto header = format::decode_segment_header({buf, got});
  if (!header) {
    return Status::at(header.error().code(), file.path(), 0, header.error().message());
  }
  return header;
}

Result<std::optional<format::Seal>> read_seal(const io::File& file,
                                              const format::SegmentHeader& header,
                                              std::uint64_t* end_lsn) {
  std::byte buf[kSealRecordBytes];
  std::size_t got = 0;
  const std::uint64_t slot = header.segment_bytes - kSealRecordBytes;
  CAIRN_TRY(read_exact(file, slot, buf, &got));
  if (got != kSealRecordBytes) {
    return std::optional<format::Seal>();
  }
  const std::uint64_t seed = format::record_seed(header.log_id, header.base_lsn);
  const format::RecordHeader h = format::load_record_header(buf);
  if (h.header_checksum != format::compute_header_checksum(buf, seed) ||
      h.kind != static_cast<std::uint16_t>(format::RecordKind::seal) ||
      format::record_header_problem(h, kSealRecordBytes)[0] != '\0') {
    return std::optional<format::Seal>();
  }
  const std::span<const std::byte> body{buf + kRecordHeaderBytes, format::kSealBodyBytes};
  if (h.body_checksum != format::xxh3(body, seed)) {
    return std::optional<format::Seal>();
  }
  const format::Seal seal = format::decode_seal_body(body);
  if (seal.event_count != h.lsn - header.base_lsn || h.lsn < header.base_lsn) {
    return std::optional<format::Seal>();
  }
  *end_lsn = h.lsn;
  return std::optional<format::Seal>(seal);
}

Result<SegmentScan> scan_segment(const io::File& file, const format::SegmentHeader& header,
                                 const RecordVisitor& visit) {
  SegmentScan scan;
  scan.header = header;
  scan.seed = format::record_seed(header.log_id, header.base_lsn);
  CAIRN_ASSIGN_OR_RETURN(scan.file_bytes, file.size());
  // Whole segment in memory: segments are tens of MiB and only the tail is
  // scanned at open. A file longer than its header says is read only up to
  // segment_bytes; a shorter one (cut) scans what is there.
  std::vector<std::byte> bytes(std::min<std::uint64_t>(scan.file_bytes, header.segment_bytes));
  std::size_t got = 0;
  CAIRN_TRY(read_exact(file, 0, bytes, &got));
  bytes.resize(got);
  const auto start = format::ScanState::segment_start(header.base_lsn, scan.seed);
  scan.end = start;
  format::RecordScanner scanner(bytes, 0, scan.seed, header.base_lsn, start,
                                format::kRecordBytesMax, header.segment_bytes);
  format::RecordView view;
  while (scanner.next(view)) {
    if (visit) {
      visit(view);
    }
    if (view.header.kind == static_cast<std::uint16_t>(format::RecordKind::seal)) {
      scan.sealed = true;
      scan.seal = format::decode_seal_body(view.body);
    } else {
      scan.end = scanner.state();
    }
  }
  const std::uint64_t records_end = scan.end.position;
  if (!scan.sealed) {
    scan.end = scanner.state();
  }
  scan.stop = scanner.stop();
  scan.detail = scanner.detail();
  fill_facts(scan, bytes, records_end);
  return scan;
}

}  // namespace cairn::recovery
