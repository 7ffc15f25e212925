// XXH3-64 (no seed) of a record as the bench references hash it: built with
// AVX2 for long inputs when the CPU has it, as Cairn's checksums are
// (decision 0010), so that a reference hashes as fast as Cairn does.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cairn_bench {

std::uint64_t record_hash(const void* data, std::size_t size);

}  // namespace cairn_bench
