// XXH3-64 (no seed) built with AVX2 (bench/raw_hash_avx2.cc). Call only when
// __builtin_cpu_supports("avx2").
#pragma once

#include <cstddef>
#include <cstdint>

std::uint64_t raw_xxh3_avx2(const void* data, std::size_t size);
