// The raw reference's XXH3 for long inputs, built with -mavx2
// (bench/meson.build) and called only on CPUs with AVX2: the same build of
// XXH3 that Cairn's checksums use (format/checksum_avx2.cc, decision 0010),
// so that raw and Cairn differ in the engine, not in the hash. A copy, not
// an include: bench/ uses only Cairn's public API.
//
// Includes nothing but xxHash (every function static), so that no shared
// inline function is compiled with AVX2 for the whole program.
#include "raw_hash_avx2.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

static_assert(XXH_VECTOR == XXH_AVX2, "this file must be compiled with -mavx2");

std::uint64_t raw_xxh3_avx2(const void* data, std::size_t size) { return XXH3_64bits(data, size); }
