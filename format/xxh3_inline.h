// XXH3 for short inputs, compiled into the including file: the record header
// checksum and the chain step run once per record on every scan, and a call
// into another file for 40 or 8 bytes cost as much as the hashing (measured:
// ~8% of a replay). Include only from .cc files of format/: it pulls all of
// xxHash in (its documented header-only mode).
#pragma once

#include <cstddef>
#include <cstdint>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "format/byte_order.h"
#include "format/layout.h"

namespace cairn::format::inline_hash {

// XXH3-64 of `size` (<= 240, XXH3's short path, which needs no secret) bytes.
inline std::uint64_t xxh3_short(const std::byte* p, std::size_t size, std::uint64_t seed) {
  static_assert(XXH3_MIDSIZE_MAX == 240);
  return XXH3_64bits_withSeed(p, size, seed);
}

// SPEC.md section 5.3: XXH3 of header bytes [8, 48) under the record seed.
inline std::uint64_t header_checksum(const std::byte* p, std::uint64_t seed) {
  return xxh3_short(p + 8, kRecordHeaderBytes - 8, seed);
}

// SPEC.md section 6: chain_{i+1} = XXH3(le64(header_checksum_i), seed = chain_i).
inline std::uint64_t chain_step(std::uint64_t chain, std::uint64_t header_checksum) {
  std::byte buf[8];
  store_u64(buf, header_checksum);
  return xxh3_short(buf, sizeof buf, chain);
}

}  // namespace cairn::format::inline_hash
