#include "format/checksum.h"

#include "format/byte_order.h"
#include "format/checksum_avx2.h"
// xxHash compiled into this file (its documented header-only mode), as in
// every file that hashes short inputs, instead of calling the shared library.
#include "format/xxh3_inline.h"

namespace cairn::format {
namespace {

// XXH3 with a seed derives a 192-byte secret from the seed for every input
// longer than 240 bytes (most record bodies). Every record of a segment has
// the same seed, so each thread keeps the secret of the last seed it used.
// XXH3_64bits_withSecretandSeed with that secret is XXH3_64bits_withSeed
// (xxhash.h documents it; format_checksum_test checks it).
struct SeedSecret {
  std::uint64_t seed = 0;
  bool valid = false;
  alignas(64) unsigned char secret[XXH3_SECRET_DEFAULT_SIZE];
};

const unsigned char* secret_for(std::uint64_t seed) {
  thread_local SeedSecret cached;
  if (!cached.valid || cached.seed != seed) {
    XXH3_generateSecret_fromSeed(cached.secret, seed);
    cached.seed = seed;
    cached.valid = true;
  }
  return cached.secret;
}

#if CAIRN_XXH3_AVX2
// Chosen once: the AVX2 build of the long-input path when the CPU has it.
const bool kUseAvx2 = __builtin_cpu_supports("avx2");
#endif

}  // namespace

std::uint64_t xxh3(std::span<const std::byte> bytes, std::uint64_t seed) {
  if (bytes.size() <= XXH3_MIDSIZE_MAX) {
    return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
  }
#if CAIRN_XXH3_AVX2
  if (kUseAvx2) {
    return cairn_xxh3_long_avx2(bytes.data(), bytes.size(), secret_for(seed), seed);
  }
#endif
  return XXH3_64bits_withSecretandSeed(bytes.data(), bytes.size(), secret_for(seed),
                                       XXH3_SECRET_DEFAULT_SIZE, seed);
}

std::uint64_t SeededXxh3::operator()(std::span<const std::byte> bytes) const {
  if (bytes.size() <= XXH3_MIDSIZE_MAX) {
    return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed_);
  }
  static_assert(sizeof(secret_) == XXH3_SECRET_DEFAULT_SIZE);
  if (!derived_) {
    XXH3_generateSecret_fromSeed(secret_, seed_);
    derived_ = true;
  }
#if CAIRN_XXH3_AVX2
  if (kUseAvx2) {
    return cairn_xxh3_long_avx2(bytes.data(), bytes.size(), secret_, seed_);
  }
#endif
  return XXH3_64bits_withSecretandSeed(bytes.data(), bytes.size(), secret_,
                                       XXH3_SECRET_DEFAULT_SIZE, seed_);
}

std::uint64_t record_seed(std::uint64_t log_id, std::uint64_t base_lsn) {
  std::byte buf[16];
  store_u64(buf, log_id);
  store_u64(buf + 8, base_lsn);
  return xxh3(buf, 0);
}

std::uint64_t chain_step(std::uint64_t chain, std::uint64_t header_checksum) {
  return inline_hash::chain_step(chain, header_checksum);
}

}  // namespace cairn::format
