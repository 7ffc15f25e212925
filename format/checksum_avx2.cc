// XXH3 for long inputs, compiled with -mavx2 (format/meson.build) and used
// by format/checksum.cc only when the CPU has AVX2. Measured here: 270 B in
// 25 ns against 40 ns with SSE2, 1000 B in 58 against 150 ns.
//
// This file must include nothing but xxHash (header-only, every function
// static): any inline function of a shared header compiled here with AVX2
// could be the copy the linker keeps for the whole program, and break it on
// a CPU without AVX2.
#include "format/checksum_avx2.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

static_assert(XXH_VECTOR == XXH_AVX2, "this file must be compiled with -mavx2");

std::uint64_t cairn_xxh3_long_avx2(const void* data, std::size_t size, const void* secret,
                                   std::uint64_t seed) {
  return XXH3_64bits_withSecretandSeed(data, size, secret, XXH3_SECRET_DEFAULT_SIZE, seed);
}
