#include "format/id_filter_file.h"

#include <cairn/assert.h>

#include <string>

#include "format/byte_order.h"
#include "format/filter_file.h"
#include "format/index_file.h"

namespace cairn::format {
namespace {

static_assert(kIdFilterHeaderBytes == kFilterFileHeaderBytes);

constexpr FilterFileKind kKind{kIdFilterMagic, kIdFilterFormatVersion, "id filter file"};

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
  std::byte* p = out.data() + kIdFilterHeaderBytes;
  for (const IdFilterLevel& level : f.levels) {
    store_u64(p, level.capacity);
    store_u64(p + 8, level.keys);
    store_u64(p + 16, level.bits.size());
    p += kIdFilterLevelBytes;
  }
  for (const IdFilterLevel& level : f.levels) {
    p = store_words(p, level.bits);
  }
  CAIRN_ASSERT(p == out.data() + out.size());
  FilterFileHeader header;
  header.count = static_cast<std::uint32_t>(f.levels.size());
  header.log_id = f.log_id;
  header.covered_segments = f.covered_segments;
  header.covered_end_lsn = f.covered_end_lsn;
  header.words = words;
  seal_filter_file(kKind, header, out);
  return out;
}

Result<IdFilterFile> decode_id_filter(std::span<const std::byte> bytes) {
  CAIRN_ASSIGN_OR_RETURN(const FilterFileHeader header, open_filter_file(kKind, bytes));
  const std::uint64_t level_count = header.count;
  const std::uint64_t words = header.words;
  if (level_count > kIdFilterLevelsMax) {
    return filter_file_damaged(kKind, "too many levels");
  }
  const std::uint64_t body_bytes = bytes.size() - kIdFilterHeaderBytes;
  if (words > body_bytes / 8 || body_bytes != level_count * kIdFilterLevelBytes + words * 8) {
    return filter_file_damaged(kKind, "size differs from its header");
  }
  IdFilterFile f;
  f.log_id = header.log_id;
  f.covered_segments = header.covered_segments;
  f.covered_end_lsn = header.covered_end_lsn;
  const std::byte* table = bytes.data() + kIdFilterHeaderBytes;
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
      return filter_file_damaged(kKind, "level " + std::to_string(i) + " has an impossible shape");
    }
    bits = load_words(bits, n, level.bits);
    words_left -= n;
    f.levels.push_back(std::move(level));
  }
  if (words_left != 0) {
    return filter_file_damaged(kKind, "words after the last level");
  }
  return f;
}

}  // namespace cairn::format
