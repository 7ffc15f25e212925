// The id filter file (SPEC.md section 13.1): the log-wide filter over the
// event ids of the sealed segments (decision 0014), saved so that the first
// append with an id after open need not read every sealed index file to
// rebuild it (decision 0016). Derived data like an index: written with tmp
// file, fdatasync, rename; ignored (and rebuilt from the indexes) when it is
// missing, does not decode, or does not match the log.
#pragma once

#include <cairn/status.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cairn::format {

inline constexpr std::uint64_t kIdFilterMagic = 0x4644494E52494143ull;  // "CAIRNIDF"
inline constexpr std::uint32_t kIdFilterFormatVersion = 1;
inline constexpr std::size_t kIdFilterHeaderBytes = 64;  // kFilterFileHeaderBytes
inline constexpr std::size_t kIdFilterLevelBytes = 24;
inline constexpr std::size_t kIdFilterLevelsMax = 64;

// One level: a blocked Bloom filter (bloom_for_keys(capacity) words) holding
// `keys` id hashes.
struct IdFilterLevel {
  std::uint64_t capacity = 0;
  std::uint64_t keys = 0;
  std::vector<std::uint64_t> bits;
  bool operator==(const IdFilterLevel&) const = default;
};

struct IdFilterFile {
  std::uint64_t log_id = 0;
  // The filter holds the ids of the first `covered_segments` segments of
  // the log, the last of which ends at `covered_end_lsn`.
  std::uint64_t covered_segments = 0;
  std::uint64_t covered_end_lsn = 0;
  std::vector<IdFilterLevel> levels;
  bool operator==(const IdFilterFile&) const = default;
};

std::vector<std::byte> encode_id_filter(const IdFilterFile& filter);
// Verifies both checksums, the version, the size and every level's shape.
Result<IdFilterFile> decode_id_filter(std::span<const std::byte> bytes);

}  // namespace cairn::format
