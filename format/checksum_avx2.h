// The AVX2 build of XXH3 for long inputs (format/checksum_avx2.cc). Declared
// without any standard-library type so that the file compiled with -mavx2
// instantiates nothing shared.
#pragma once

#include <cstddef>
#include <cstdint>

// XXH3_64bits_withSecretandSeed with a 192-byte secret made from `seed`.
// Call only when the CPU has AVX2 (__builtin_cpu_supports("avx2")).
std::uint64_t cairn_xxh3_long_avx2(const void* data, std::size_t size, const void* secret,
                                   std::uint64_t seed);
