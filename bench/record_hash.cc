#include "record_hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#if CAIRN_BENCH_XXH3_AVX2
#include "raw_hash_avx2.h"
#endif

namespace cairn_bench {

std::uint64_t record_hash(const void* data, std::size_t size) {
#if CAIRN_BENCH_XXH3_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2 && size > XXH3_MIDSIZE_MAX) {
    return raw_xxh3_avx2(data, size);
  }
#endif
  return XXH3_64bits(data, size);
}

}  // namespace cairn_bench
