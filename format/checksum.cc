#include "format/checksum.h"

#include <xxhash.h>

#include "format/byte_order.h"

namespace cairn::format {

std::uint64_t xxh3(std::span<const std::byte> bytes, std::uint64_t seed) {
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

std::uint64_t record_seed(std::uint64_t log_id, std::uint64_t base_lsn) {
  std::byte buf[16];
  store_u64(buf, log_id);
  store_u64(buf + 8, base_lsn);
  return xxh3(buf, 0);
}

std::uint64_t chain_step(std::uint64_t chain, std::uint64_t header_checksum) {
  std::byte buf[8];
  store_u64(buf, header_checksum);
  return xxh3(buf, chain);
}

}  // namespace cairn::format
