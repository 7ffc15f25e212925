#include "format/index_file.h"

#include <cairn/assert.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/layout.h"

namespace cairn::format {
namespace {

constexpr std::uint64_t kBloomBlockBits = kBloomBlockWords * 64;

// The first word of the block of `hash`: the high 32 bits of the hash pick
// the block (multiply-shift, no division); the low 32 bits pick the probes.
std::size_t bloom_block(std::size_t words, std::uint64_t hash) {
  const std::uint64_t blocks = words / kBloomBlockWords;
  return static_cast<std::size_t>(((hash >> 32) * blocks) >> 32) * kBloomBlockWords;
}

// The i-th probe's bit within the block (double hashing).
std::uint64_t bloom_bit(std::uint64_t hash, std::size_t i) {
  const std::uint64_t low = hash & 0xFFFF'FFFFull;
  const std::uint64_t step = (low >> 16) | 1;
  return (low + i * step) % kBloomBlockBits;
}

bool stream_less(const StreamEntry& a, const StreamEntry& b) {
  return a.stream_hash != b.stream_hash ? a.stream_hash < b.stream_hash
                                        : a.first_version < b.first_version;
}

Status damaged(const std::string& why) {
  return Status::error(Errc::corruption, "index file: " + why);
}

// Reads the section table; returns the byte size the whole file must have.
Result<std::uint64_t> expected_size(const std::byte* table) {
  const std::uint64_t counts[4] = {load_u64(table), load_u64(table + 8), load_u64(table + 16),
                                   load_u64(table + 24)};
  const std::uint64_t limit = std::uint64_t{1} << 36;  // far above any real segment
  for (std::uint64_t c : counts) {
    if (c > limit) {
      return damaged("section count out of range");
    }
  }
  return kIndexHeaderBytes + kIndexTableBytes + counts[0] * kSparseEntryBytes +
         counts[1] * kStreamEntryBytes + counts[2] * kIdEntryBytes + counts[3] * 8;
}

// Stream entries end in 4 reserved bytes that must be zero.
bool stream_reserved_zero(const std::byte* p, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    if (load_u32(p + i * kStreamEntryBytes + 28) != 0) {
      return false;
    }
  }
  return true;
}

void decode_sections(const std::byte* p, IndexFile& f) {
  for (auto& e : f.sparse) {
    e = SparseEntry{load_u32(p), load_u32(p + 4), static_cast<std::int64_t>(load_u64(p + 8))};
    p += kSparseEntryBytes;
  }
  for (auto& e : f.streams) {
    e = StreamEntry{load_u64(p), load_u64(p + 8), load_u32(p + 16), load_u32(p + 20),
                    load_u32(p + 24)};
    p += kStreamEntryBytes;
  }
  for (auto& e : f.ids) {
    std::memcpy(e.id.bytes.data(), p, kEventIdBytes);
    e.lsn = load_u64(p + 16);
    p += kIdEntryBytes;
  }
  for (auto& w : f.bloom) {
    w = load_u64(p);
    p += 8;
  }
}

const char* order_problem(const IndexFile& f) {
  for (std::size_t i = 1; i < f.sparse.size(); ++i) {
    if (f.sparse[i].relative_lsn <= f.sparse[i - 1].relative_lsn ||
        f.sparse[i].position <= f.sparse[i - 1].position) {
      return "sparse entries out of order";
    }
  }
  if (!std::is_sorted(f.streams.begin(), f.streams.end(), stream_less)) {
    return "stream entries out of order";
  }
  if (!std::is_sorted(f.ids.begin(), f.ids.end(),
                      [](const IdEntry& a, const IdEntry& b) { return id_less(a.id, b.id); })) {
    return "id entries out of order";
  }
  if (f.end_lsn < f.base_lsn) {
    return "end LSN before base LSN";
  }
  return "";
}

}  // namespace

std::uint64_t stream_hash(std::string_view stream) {
  return xxh3(std::as_bytes(std::span(stream.data(), stream.size())), 0);
}

bool id_less(const EventId& a, const EventId& b) { return a.bytes < b.bytes; }

std::uint64_t id_hash(const EventId& id) { return xxh3(std::as_bytes(std::span(id.bytes)), 0); }

std::size_t bloom_words_for_keys(std::size_t keys) {
  const std::size_t blocks =
      std::max<std::size_t>(1, (keys * kBloomBitsPerKey + kBloomBlockBits - 1) / kBloomBlockBits);
  return blocks * kBloomBlockWords;
}

std::vector<std::uint64_t> bloom_for_keys(std::size_t keys) {
  return std::vector<std::uint64_t>(bloom_words_for_keys(keys), 0);
}

void bloom_add(std::vector<std::uint64_t>& bloom, std::uint64_t hash) {
  std::uint64_t* block = bloom.data() + bloom_block(bloom.size(), hash);
  for (std::size_t i = 0; i < kBloomProbes; ++i) {
    const std::uint64_t bit = bloom_bit(hash, i);
    block[bit / 64] |= std::uint64_t{1} << (bit % 64);
  }
}

void finish_index(IndexFile& f) {
  std::sort(f.streams.begin(), f.streams.end(), stream_less);
  std::sort(f.ids.begin(), f.ids.end(),
            [](const IdEntry& a, const IdEntry& b) { return id_less(a.id, b.id); });
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < f.streams.size(); ++i) {
    distinct += (i == 0 || f.streams[i].stream_hash != f.streams[i - 1].stream_hash) ? 1 : 0;
  }
  f.bloom = bloom_for_keys(distinct);
  for (const auto& e : f.streams) {
    bloom_add(f.bloom, e.stream_hash);
  }
}

bool bloom_may_contain(std::span<const std::uint64_t> bloom, std::uint64_t hash) {
  if (bloom.empty()) {
    return true;
  }
  const std::uint64_t* block = bloom.data() + bloom_block(bloom.size(), hash);
  for (std::size_t i = 0; i < kBloomProbes; ++i) {
    const std::uint64_t bit = bloom_bit(hash, i);
    if ((block[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0) {
      return false;
    }
  }
  return true;
}

StreamDirectory::StreamDirectory(std::span<const StreamEntry> streams) {
  CAIRN_ASSERT_MSG(streams.size() < (1ull << 32), "a segment's stream table fits u32 positions");
  while (bits_ < 24 && (std::size_t{1} << bits_) * 8 < streams.size()) {
    ++bits_;
  }
  const std::size_t buckets = std::size_t{1} << bits_;
  starts_.assign(buckets + 1, static_cast<std::uint32_t>(streams.size()));
  // Walk the sorted table once; every bucket up to an entry's own starts at
  // or before it.
  std::size_t next_bucket = 0;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    const std::size_t b = bucket(streams[i].stream_hash);
    CAIRN_ASSERT_MSG(b + 1 >= next_bucket, "stream table sorted by hash");
    for (; next_bucket <= b; ++next_bucket) {
      starts_[next_bucket] = static_cast<std::uint32_t>(i);
    }
  }
}

std::span<const StreamEntry> StreamDirectory::find(std::span<const StreamEntry> streams,
                                                   std::uint64_t hash) const {
  if (starts_.empty()) {
    return {};
  }
  CAIRN_ASSERT(starts_.back() == streams.size());
  const std::size_t b = bucket(hash);
  // A binary search within the bucket: a few adjacent entries when hashes
  // are uniform, and O(log n) even when they are not.
  const auto lo = streams.begin() + starts_[b];
  const auto hi = streams.begin() + starts_[b + 1];
  const auto first = std::lower_bound(
      lo, hi, hash, [](const StreamEntry& e, std::uint64_t h) { return e.stream_hash < h; });
  auto end = first;
  while (end != streams.end() && end->stream_hash == hash) {
    ++end;
  }
  return {first, end};
}

std::vector<std::byte> encode_index(const IndexFile& f) {
  const std::size_t body = f.sparse.size() * kSparseEntryBytes +
                           f.streams.size() * kStreamEntryBytes + f.ids.size() * kIdEntryBytes +
                           f.bloom.size() * 8;
  std::vector<std::byte> out(kIndexHeaderBytes + kIndexTableBytes + body);
  std::byte* h = out.data();
  store_u64(h, kIndexMagic);
  store_u32(h + 8, kIndexFormatVersion);
  store_u32(h + 12, f.index_interval_bytes);
  store_u64(h + 16, f.log_id);
  store_u64(h + 24, f.base_lsn);
  store_u64(h + 32, f.end_lsn);
  store_u64(h + 40, f.end_position);
  store_u64(h + 48, f.chain);
  std::byte* p = out.data() + kIndexHeaderBytes + kIndexTableBytes;
  for (const auto& e : f.sparse) {
    store_u32(p, e.relative_lsn);
    store_u32(p + 4, e.position);
    store_u64(p + 8, static_cast<std::uint64_t>(e.time_ns));
    p += kSparseEntryBytes;
  }
  for (const auto& e : f.streams) {
    store_u64(p, e.stream_hash);
    store_u64(p + 8, e.first_version);
    store_u32(p + 16, e.relative_lsn);
    store_u32(p + 20, e.count);
    store_u32(p + 24, e.position);
    store_u32(p + 28, 0);
    p += kStreamEntryBytes;
  }
  for (const auto& e : f.ids) {
    std::memcpy(p, e.id.bytes.data(), kEventIdBytes);
    store_u64(p + 16, e.lsn);
    p += kIdEntryBytes;
  }
  for (std::uint64_t w : f.bloom) {
    store_u64(p, w);
    p += 8;
  }
  CAIRN_ASSERT(p == out.data() + out.size());
  std::byte* t = out.data() + kIndexHeaderBytes;
  store_u64(t, f.sparse.size());
  store_u64(t + 8, f.streams.size());
  store_u64(t + 16, f.ids.size());
  store_u64(t + 24, f.bloom.size());
  store_u64(t + 40, static_cast<std::uint64_t>(f.last_time_ns));
  store_u64(t + 32,
            xxh3(std::span(out).subspan(kIndexHeaderBytes + kIndexTableBytes), kIndexMagic));
  store_u64(t + 56, xxh3({t, 56}, kIndexMagic));
  store_u64(h + 56, xxh3({h, 56}, kIndexMagic));
  return out;
}

Result<IndexFile> decode_index(std::span<const std::byte> bytes) {
  if (bytes.size() < kIndexHeaderBytes + kIndexTableBytes) {
    return damaged("shorter than its header");
  }
  const std::byte* h = bytes.data();
  const std::byte* t = h + kIndexHeaderBytes;
  if (load_u64(h) != kIndexMagic) {
    return Status::error(Errc::invalid_argument, "not an index file (wrong magic)");
  }
  if (load_u64(h + 56) != xxh3({h, 56}, kIndexMagic) ||
      load_u64(t + 56) != xxh3({t, 56}, kIndexMagic)) {
    return damaged("header checksum mismatch");
  }
  if (load_u32(h + 8) != kIndexFormatVersion) {
    return Status::error(Errc::invalid_argument,
                         "index file has format version " + std::to_string(load_u32(h + 8)) +
                             "; this build reads version " + std::to_string(kIndexFormatVersion));
  }
  if (load_u64(t + 48) != 0) {
    return damaged("reserved bytes are not zero");
  }
  CAIRN_ASSIGN_OR_RETURN(std::uint64_t size, expected_size(t));
  if (size != bytes.size()) {
    return damaged("size differs from its section table");
  }
  if (load_u64(t + 32) != xxh3(bytes.subspan(kIndexHeaderBytes + kIndexTableBytes), kIndexMagic)) {
    return damaged("body checksum mismatch");
  }
  IndexFile f;
  f.index_interval_bytes = load_u32(h + 12);
  f.log_id = load_u64(h + 16);
  f.base_lsn = load_u64(h + 24);
  f.end_lsn = load_u64(h + 32);
  f.end_position = load_u64(h + 40);
  f.chain = load_u64(h + 48);
  f.last_time_ns = static_cast<std::int64_t>(load_u64(t + 40));
  f.sparse.resize(load_u64(t));
  f.streams.resize(load_u64(t + 8));
  f.ids.resize(load_u64(t + 16));
  f.bloom.resize(load_u64(t + 24));
  const std::byte* streams_at = t + kIndexTableBytes + f.sparse.size() * kSparseEntryBytes;
  if (!stream_reserved_zero(streams_at, f.streams.size())) {
    return damaged("reserved stream entry bytes are not zero");
  }
  if (f.bloom.size() % kBloomBlockWords != 0) {
    return damaged("bloom filter is not a whole number of blocks");
  }
  decode_sections(t + kIndexTableBytes, f);
  if (const char* problem = order_problem(f); problem[0] != '\0') {
    return damaged(problem);
  }
  return f;
}

}  // namespace cairn::format
