// Checksums (format/checksum.h): format::xxh3 must be exactly XXH3-64 with
// a seed (SPEC.md section 5.3), whichever path it takes inside. It caches
// the seed-derived secret per thread for inputs over 240 bytes; this checks
// it against the shared library's XXH3_64bits_withSeed for every length
// around the path boundaries, with seeds that change between calls.
#include "format/checksum.h"

#include <doctest/doctest.h>
#include <xxhash.h>

#include <cstdint>
#include <vector>

namespace cairn::format {
namespace {

TEST_CASE("xxh3 equals XXH3_64bits_withSeed for every length and changing seeds") {
  std::vector<std::byte> bytes(5000);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>((i * 131 + 7) & 0xFF);
  }
  const std::uint64_t seeds[] = {0, 1, 0xABCD'EF01'2345'6789ull, ~0ull};
  std::size_t checked = 0;
  for (std::size_t len = 0; len <= bytes.size(); len += (len < 600 ? 1 : 97)) {
    for (std::uint64_t seed : seeds) {
      const std::span<const std::byte> input = std::span(bytes).first(len);
      CAPTURE(len);
      CAPTURE(seed);
      REQUIRE(xxh3(input, seed) == XXH3_64bits_withSeed(input.data(), len, seed));
      checked += 1;
    }
  }
  CHECK(checked > 2000);
}

TEST_CASE("SeededXxh3 equals XXH3_64bits_withSeed for every length") {
  std::vector<std::byte> bytes(3000);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>((i * 89 + 3) & 0xFF);
  }
  for (std::uint64_t seed : {0ull, 7ull, 0x0123'4567'89AB'CDEFull}) {
    const SeededXxh3 hash(seed);
    CHECK(hash.seed() == seed);
    for (std::size_t len = 0; len <= bytes.size(); len += (len < 600 ? 1 : 61)) {
      const std::span<const std::byte> input = std::span(bytes).first(len);
      CAPTURE(len);
      CAPTURE(seed);
      REQUIRE(hash(input) == XXH3_64bits_withSeed(input.data(), len, seed));
      // Interleaved with another seed through xxh3(): no shared state.
      REQUIRE(xxh3(input, seed + 1) == XXH3_64bits_withSeed(input.data(), len, seed + 1));
    }
  }
}

TEST_CASE("chain_step and record_seed are XXH3 of their little-endian inputs") {
  const std::uint64_t seed = record_seed(42, 7);
  const unsigned char seed_input[16] = {42, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0};
  CHECK(seed == XXH3_64bits_withSeed(seed_input, 16, 0));
  const unsigned char step_input[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(chain_step(seed, 0x0807060504030201ull) == XXH3_64bits_withSeed(step_input, 8, seed));
}

}  // namespace
}  // namespace cairn::format
