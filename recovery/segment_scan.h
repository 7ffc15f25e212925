// Reading one segment file: its header, its seal slot, and a full scan with
// the shared RecordScanner. No decisions here; see tail_decision.h.
#pragma once

#include <cairn/file_system.h>
#include <cairn/status.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "format/codec.h"
#include "format/record.h"
#include "format/scanner.h"
#include "recovery/tail_decision.h"

namespace cairn::recovery {

// Reads and decodes the header of a segment file. Errors name the file and
// position 0.
Result<format::SegmentHeader> read_segment_header(const io::File& file);

// Reads the seal slot of a segment; nullopt when it does not hold a seal that
// verifies under the segment's seed (an unsealed segment).
Result<std::optional<format::Seal>> read_seal(const io::File& file,
                                              const format::SegmentHeader& header,
                                              std::uint64_t* end_lsn);

struct SegmentScan {
  format::SegmentHeader header;
  std::uint64_t seed = 0;
  std::uint64_t file_bytes = 0;
  // After the last batch record that verified; when not sealed, the state at
  // the stop (its position is where the scan stopped, which after zeros and
  // a seal slot that does not verify is the slot; facts.valid_end is then
  // the end of the records).
  format::ScanState end;
  format::ScanStop stop = format::ScanStop::none;
  std::string detail;
  bool sealed = false;
  format::Seal seal;
  // Facts for decide_tail() (is_last_segment, strict and the write window are
  // filled in by the caller).
  TailFacts facts;
};

// Called for every record the scan accepts, in order (for dump and indexes).
using RecordVisitor = std::function<void(const format::RecordView&)>;

// Reads the whole segment and scans it from its first record.
Result<SegmentScan> scan_segment(const io::File& file, const format::SegmentHeader& header,
                                 const RecordVisitor& visit = nullptr);

}  // namespace cairn::recovery
