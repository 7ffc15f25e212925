// Little-endian loads and stores. The format is little-endian on every host;
// these spell it out instead of copying structs, so there is no padding or
// alignment question.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace cairn::format {

// On a little-endian host a load is one memcpy (one instruction); the byte
// loop is kept for others. Measured: GCC 12 at -O2 did not merge the loop,
// and decoding record headers was 12% of a replay.
template <class T>
inline T load_le(const std::byte* p) {
  static_assert(std::is_unsigned_v<T>);
  T v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, sizeof(T));
  } else {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      v |= static_cast<T>(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
    }
  }
  return v;
}

template <class T>
inline void store_le(std::byte* p, T v) {
  static_assert(std::is_unsigned_v<T>);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, sizeof(T));
  } else {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
      p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xFF);
    }
  }
}

inline std::uint16_t load_u16(const std::byte* p) { return load_le<std::uint16_t>(p); }
inline std::uint32_t load_u32(const std::byte* p) { return load_le<std::uint32_t>(p); }
inline std::uint64_t load_u64(const std::byte* p) { return load_le<std::uint64_t>(p); }
inline void store_u16(std::byte* p, std::uint16_t v) { store_le(p, v); }
inline void store_u32(std::byte* p, std::uint32_t v) { store_le(p, v); }
inline void store_u64(std::byte* p, std::uint64_t v) { store_le(p, v); }

}  // namespace cairn::format
