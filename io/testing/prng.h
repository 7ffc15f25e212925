// The seeded PRNG of the testing library: splitmix64, tiny, seedable with any
// value (0 included) and the same on every platform (unlike the standard
// distributions), so a seed replays a crash or a fault exactly.
#pragma once

#include <cstdint>

namespace cairn::testing::detail {

class Prng {
 public:
  explicit Prng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) for n far below 2^64, which is all we draw.
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  // True with the given probability (53 random bits, like a double).
  bool chance(double probability) {
    return static_cast<double>(next() >> 11) * 0x1.0p-53 < probability;
  }

 private:
  std::uint64_t state_;
};

}  // namespace cairn::testing::detail
