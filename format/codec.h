// Codecs of the fixed-size structures: the meta file (SPEC.md section 3), the
// segment header (section 4) and the recovery point (section 8). Each encodes
// into exactly its byte size and decodes only after its checksum verifies.
// Decoding failures are Errc::corruption (damaged bytes) or
// Errc::invalid_argument (intact, but not something this build can read: a
// wrong magic or another format version); callers add the file and position.
#pragma once

#include <cairn/status.h>

#include <cstdint>
#include <span>

#include "format/layout.h"

namespace cairn::format {

struct MetaRecord {
  std::uint32_t format_version = kFormatVersion;
  std::uint64_t log_id = 0;
  std::int64_t created_time_ns = 0;
  bool operator==(const MetaRecord&) const = default;
};

struct SegmentHeader {
  std::uint32_t format_version = kFormatVersion;
  std::uint32_t write_window_bytes = 0;
  std::uint64_t log_id = 0;
  std::uint64_t base_lsn = 0;
  std::uint64_t segment_bytes = 0;
  std::int64_t created_time_ns = 0;
  std::uint32_t index_interval_bytes = 0;
  bool operator==(const SegmentHeader&) const = default;
};

// Written at a clean close, removed before the first write after open
// (SPEC.md section 8). It lets open() skip scanning the tail segment.
struct RecoveryPoint {
  std::uint32_t format_version = kFormatVersion;
  std::uint64_t log_id = 0;
  std::uint64_t tail_base_lsn = 0;
  std::uint64_t tail_end_position = 0;  // position just after the last record
  std::uint64_t next_lsn = 0;
  std::uint64_t tail_chain = 0;         // record chain of the tail so far
  std::uint64_t tail_record_count = 0;  // batch records in the tail
  bool operator==(const RecoveryPoint&) const = default;
};

void encode_meta(const MetaRecord& meta, std::span<std::byte, kMetaBytes> out);
Result<MetaRecord> decode_meta(std::span<const std::byte> bytes);

void encode_segment_header(const SegmentHeader& header,
                           std::span<std::byte, kSegmentHeaderBytes> out);
Result<SegmentHeader> decode_segment_header(std::span<const std::byte> bytes);
// Checks the relationships a valid header must satisfy (sizes within
// limits). Empty string when valid, else the reason. Whether the base LSN
// matches the file name is recovery's check.
const char* segment_header_problem(const SegmentHeader& header);

void encode_recovery_point(const RecoveryPoint& point,
                           std::span<std::byte, kRecoveryPointBytes> out);
Result<RecoveryPoint> decode_recovery_point(std::span<const std::byte> bytes);

}  // namespace cairn::format
