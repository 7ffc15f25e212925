#include "format/id_filter_file.h"

#include <cairn/assert.h>

#include <string>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/index_file.h"

namespace cairn::format {
namespace {

Status damaged(const std::string& why) {
  return Status::error(Errc::corruption, "id filter file: " + why);
}

// Words of a level with this capacity: what bloom_for_keys gives, so that
// the probes of bloom_add / bloom_may_contain address the same bits.
std::size_t level_words(std::uint64_t capacity) { return bloom_words_for_keys(capacity); }

}  // namespace

std::vector<std::byte> encode_id_filter(const IdFilterFile& f) {
  CAIRN_ASSERT(f.levels.size() <= kIdFilterLevelsMax);
  std::size_t words = 0;
  for (const IdFilterLevel& level : f.levels) {
    CAIRN_ASSERT(level.keys <= level.capacity);
    CAIRN_ASSERT(level.bits.size() == level_words(level.capacity));
    words += level.bits.size();
  }
  std::vector<std::byte> out(kIdFilterHeaderBytes + f.levels.size() * kIdFilterLevelBytes +
                             words * 8);
  std::byte* h = out.data();
  store_u64(h, kIdFilterMagic);
  store_u32(h + 8, kIdFilterFormatVersion);
  store_u32(h + 12, static_cast<std::uint32_t>(f.levels.size()));
  store_u64(h + 16, f.log_id);
  store_u64(h + 24, f.covered_segments);
  store_u64(h + 32, f.covered_end_lsn);
  store_u64(h + 40, words);
  std::byte* p = h + kIdFilterHeaderBytes;
  for (const IdFilterLevel& level : f.levels) {
    store_u64(p, level.capacity);
    store_u64(p + 8, level.keys);
    store_u64(p + 16, level.bits.size());
    p += kIdFilterLevelBytes;
  }
  for (const IdFilterLevel& level : f.levels) {
    for (std::uint64_t w : level.bits) {
      store_u64(p, w);
      p += 8;
    }
  }
  CAIRN_ASSERT(p == out.data() + out.size());
  const std::span<const std::byte> body =
      std::span<const std::byte>(out).subspan(kIdFilterHeaderBytes);
  store_u64(h + 48, xxh3(body, kIdFilterMagic));
  store_u64(h + 56, xxh3({h, 56}, kIdFilterMagic));
  return out;
}

Result<IdFilterFile> decode_id_filter(std::span<const std::byte> bytes) {
  if (bytes.size() < kIdFilterHeaderBytes) {
    return damaged("shorter than its header");
  }
  const std::byte* h = bytes.data();
  if (load_u64(h) != kIdFilterMagic) {
    return Status::error(Errc::invalid_argument, "not an id filter file (wrong magic)");
  }
  if (load_u64(h + 56) != xxh3({h, 56}, kIdFilterMagic)) {
    return damaged("header checksum mismatch");
  }
  if (load_u32(h + 8) != kIdFilterFormatVersion) {
    return Status::error(Errc::invalid_argument, "id filter file has format version " +
                                                     std::to_string(load_u32(h + 8)) +
                                                     "; this build reads version " +
                                                     std::to_string(kIdFilterFormatVersion));
  }
  const std::uint64_t level_count = load_u32(h + 12);
  const std::uint64_t words = load_u64(h + 40);
  if (level_count > kIdFilterLevelsMax) {
    return damaged("too many levels");
  }
  const std::uint64_t body_bytes = bytes.size() - kIdFilterHeaderBytes;
  if (words > body_bytes / 8 || body_bytes != level_count * kIdFilterLevelBytes + words * 8) {
    return damaged("size differs from its header");
  }
  if (load_u64(h + 48) != xxh3(bytes.subspan(kIdFilterHeaderBytes), kIdFilterMagic)) {
    return damaged("body checksum mismatch");
  }
  IdFilterFile f;
  f.log_id = load_u64(h + 16);
  f.covered_segments = load_u64(h + 24);
  f.covered_end_lsn = load_u64(h + 32);
  const std::byte* table = h + kIdFilterHeaderBytes;
  const std::byte* bits = table + level_count * kIdFilterLevelBytes;
  std::uint64_t words_left = words;
  for (std::uint64_t i = 0; i < level_count; ++i) {
    IdFilterLevel level;
    level.capacity = load_u64(table + i * kIdFilterLevelBytes);
    level.keys = load_u64(table + i * kIdFilterLevelBytes + 8);
    const std::uint64_t n = load_u64(table + i * kIdFilterLevelBytes + 16);
    // Capacity bounded before it sizes anything: a level cannot have more
    // keys than bits.
    if (level.keys > level.capacity || n > words_left || level.capacity > n * 64 ||
        n != level_words(level.capacity)) {
      return damaged("level " + std::to_string(i) + " has an impossible shape");
    }
    level.bits.resize(n);
    for (std::uint64_t w = 0; w < n; ++w) {
      level.bits[w] = load_u64(bits + w * 8);
    }
    bits += n * 8;
    words_left -= n;
    f.levels.push_back(std::move(level));
  }
  if (words_left != 0) {
    return damaged("words after the last level");
  }
  return f;
}

}  // namespace cairn::format
