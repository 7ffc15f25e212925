// The stream filter file (SPEC.md section 13.2): the stream filter of each of
// the log's first sealed segments, copied out of their index files and saved
// in one file, so that the first append to a stream after open (whose head
// is looked up segment by segment, newest first) need not read every sealed
// index file to learn which segments may hold it (decision 0017). Derived
// data: written with tmp file, fdatasync, rename; ignored (and the filters
// read from the indexes) when missing, damaged or not matching the log.
#pragma once

#include <cairn/status.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cairn::format {

inline constexpr std::uint64_t kStreamFilterMagic = 0x4654534E52494143ull;  // "CAIRNSTF"
inline constexpr std::uint32_t kStreamFilterFormatVersion = 1;
inline constexpr std::size_t kStreamFilterHeaderBytes = 64;  // kFilterFileHeaderBytes
inline constexpr std::size_t kStreamFilterEntryBytes = 24;

// One segment's filter: the index file's bloom over its stream hashes
// (empty: a segment with no batch, which may hold any stream).
struct SegmentStreamFilter {
  std::uint64_t base_lsn = 0;
  // The record chain at the segment's end (its seal's), so that a filter is
  // given only to the very segment it was built from.
  std::uint64_t chain = 0;
  std::vector<std::uint64_t> bits;
  bool operator==(const SegmentStreamFilter&) const = default;
};

struct StreamFilterFile {
  std::uint64_t log_id = 0;
  // One filter per segment of the log's first segments, in order, the last
  // of which ends at `covered_end_lsn`.
  std::vector<SegmentStreamFilter> segments;
  std::uint64_t covered_end_lsn = 0;
  bool operator==(const StreamFilterFile&) const = default;
};

std::vector<std::byte> encode_stream_filters(const StreamFilterFile& filters);
// Verifies both checksums, the version, the size, base LSNs in increasing
// order and filters of whole blocks.
Result<StreamFilterFile> decode_stream_filters(std::span<const std::byte> bytes);

}  // namespace cairn::format
