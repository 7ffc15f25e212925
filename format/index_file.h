// The index file of a segment (SPEC.md section 13): derived data, written
// when a segment is sealed (and for the tail at a clean close), rebuilt from
// the segment with the shared scanner whenever it is missing, stale or
// damaged; never trusted over the log.
//
// Layout: a 64-byte header, a 64-byte section table, then the sections:
//   sparse  16 B per entry: the first record at or after every
//           index_interval_bytes of records (LSN -> position, and the time
//           of its first event: LSN and time lookups in one table);
//   streams 32 B per batch record, sorted by (stream hash, first version):
//           stream version -> LSN and record position (one read per record);
//   ids     24 B per event with a non-zero id, sorted by id: idempotency;
//   bloom   bits over the stream hashes, so that segments without a stream
//           are skipped without reading their stream table.
#pragma once

#include <cairn/event.h>
#include <cairn/status.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace cairn::format {

inline constexpr std::uint64_t kIndexMagic = 0x5844494E52494143ull;  // "CAIRNIDX"
inline constexpr std::size_t kIndexHeaderBytes = 64;
inline constexpr std::size_t kIndexTableBytes = 64;
inline constexpr std::size_t kSparseEntryBytes = 16;
inline constexpr std::size_t kStreamEntryBytes = 32;
inline constexpr std::size_t kIdEntryBytes = 24;
inline constexpr const char* kIndexSuffix = ".idx";
// The index file's own format version (SPEC.md section 13). 2: the bloom
// filter is blocked (version 1 files are rebuilt from their segments).
inline constexpr std::uint32_t kIndexFormatVersion = 2;
// Bloom filter: bits per distinct stream and probes (about 1% false
// positives), all probes of one stream inside one 512-bit block (one cache
// line: a probe of a segment that holds the stream costs one miss, not 7).
inline constexpr std::size_t kBloomBitsPerKey = 10;
inline constexpr std::size_t kBloomProbes = 7;
inline constexpr std::size_t kBloomBlockWords = 8;

struct SparseEntry {
  std::uint32_t relative_lsn = 0;  // LSN - base LSN
  std::uint32_t position = 0;      // of the record in the segment
  std::int64_t time_ns = 0;        // of the record's first event
  bool operator==(const SparseEntry&) const = default;
};

struct StreamEntry {
  std::uint64_t stream_hash = 0;
  std::uint64_t first_version = 0;
  std::uint32_t relative_lsn = 0;  // of the record's first event
  std::uint32_t count = 0;         // events in the record
  std::uint32_t position = 0;      // of the record in the segment
  bool operator==(const StreamEntry&) const = default;
};

struct IdEntry {
  EventId id;
  std::uint64_t lsn = 0;
  bool operator==(const IdEntry&) const = default;
};

struct IndexFile {
  std::uint64_t log_id = 0;
  std::uint64_t base_lsn = 0;
  std::uint64_t end_lsn = 0;       // one past the last event covered
  std::uint64_t end_position = 0;  // after the last record covered
  std::uint64_t chain = 0;         // record chain at end_position: binds the index to the segment
  std::uint32_t index_interval_bytes = 0;
  std::int64_t last_time_ns = 0;     // of the last event covered
  std::vector<SparseEntry> sparse;   // by LSN
  std::vector<StreamEntry> streams;  // by (stream_hash, first_version)
  std::vector<IdEntry> ids;          // by id bytes
  std::vector<std::uint64_t> bloom;  // bit set over stream hashes
  bool operator==(const IndexFile&) const = default;
};

std::uint64_t stream_hash(std::string_view stream);
bool id_less(const EventId& a, const EventId& b);

// Sorts the stream and id tables and builds the bloom filter; call before
// encode_index() on contents gathered in LSN order.
void finish_index(IndexFile& index);
std::vector<std::byte> encode_index(const IndexFile& index);
// Verifies both checksums, the version, the table sizes and the sort orders.
Result<IndexFile> decode_index(std::span<const std::byte> bytes);

bool bloom_may_contain(std::span<const std::uint64_t> bloom, std::uint64_t hash);
// An empty blocked bloom filter sized for `keys` keys (kBloomBitsPerKey
// each, at least one block), and adding one key's hash to it. The stream
// filter of an index file is one; the engine also builds one over a sealed
// segment's event ids, in memory only.
std::vector<std::uint64_t> bloom_for_keys(std::size_t keys);
std::size_t bloom_words_for_keys(std::size_t keys);
void bloom_add(std::vector<std::uint64_t>& bloom, std::uint64_t hash);
std::uint64_t id_hash(const EventId& id);
// A directory over a stream table, in memory only (derived when a sealed
// segment's table is loaded or built): the first entry of each of 2^bits
// buckets of the hash space, about 8 entries per bucket, 4 bytes per bucket.
// A lookup reads one directory slot (a small array that tends to stay in
// the CPU cache) and then one short run of adjacent entries, where a search
// of the 32-byte entries themselves costs several cache and TLB misses per
// segment (measured: a third of a stream read's user time).
class StreamDirectory {
 public:
  StreamDirectory() = default;
  // `streams` sorted as the stream table is (by hash first).
  explicit StreamDirectory(std::span<const StreamEntry> streams);
  // The entries of `streams` (the same table) whose hash is `hash`.
  std::span<const StreamEntry> find(std::span<const StreamEntry> streams, std::uint64_t hash) const;
  std::size_t memory_bytes() const { return starts_.capacity() * sizeof(std::uint32_t); }

 private:
  std::size_t bucket(std::uint64_t hash) const { return bits_ == 0 ? 0 : hash >> (64 - bits_); }

  unsigned bits_ = 0;
  std::vector<std::uint32_t> starts_;  // 2^bits + 1 entries: bucket b is [starts_[b], starts_[b+1])
};

}  // namespace cairn::format
