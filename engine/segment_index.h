// The index of one segment in memory: LSN -> position and time -> LSN
// (sparse), stream -> (version -> LSN), event id -> LSN. The tail's index
// grows as the leader commits records; a sealed segment's index is loaded
// from its index file or rebuilt from the segment (SPEC.md section 13).
//
// Thread safety: add_record() and finish() come from the leader (one thread
// at a time); every lookup may run concurrently on any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "format/index_file.h"
#include "format/scanner.h"

namespace cairn::engine {

// A blocked Bloom filter over a sealed segment's event ids (format::bloom_*).
using IdBloom = std::vector<std::uint64_t>;

struct EventIdHash {
  std::size_t operator()(const EventId& id) const;
};

class SegmentIndex {
 public:
  // An empty index for a new (or rebuilt) segment.
  SegmentIndex(std::uint64_t log_id, std::uint64_t base_lsn, std::uint32_t interval_bytes);
  // An index decoded from its file: immutable (a sealed segment), or
  // growable (the tail after a clean close, which keeps taking records).
  explicit SegmentIndex(format::IndexFile file, bool growable = false);
  // An immutable index decoded from its file, with the id filter built when
  // it was loaded before (null: build it).
  SegmentIndex(format::IndexFile file, std::shared_ptr<const IdBloom> id_bloom);

  // Adds one verified batch record (in LSN order); `chain` is the record
  // chain after it.
  void add_record(const format::RecordView& record, std::uint64_t chain);
  // The same for consecutive records under one lock: the leader indexes a
  // whole batch at once. `chain` is the chain after the last.
  void add_records(std::span<const format::RecordView> records, std::uint64_t chain);

  // The contents in file form (sorted tables, bloom), for writing.
  format::IndexFile to_file() const;

  // Where a scan starts: a record position and the LSN of its first event.
  struct Seek {
    std::uint64_t position;
    std::uint64_t lsn;
    bool found = true;  // false: no indexed record qualifies (the start is returned)
  };
  // The last indexed record that starts at or before `lsn` (the segment's
  // first record if none): scanning from there finds `lsn`.
  Seek seek_lsn(std::uint64_t lsn) const;
  // The last indexed record whose first event was recorded at or before
  // `time_ns`: the scan for the first event after T starts there.
  Seek seek_time(std::int64_t time_ns) const;
  // The records of one stream (by hash: names must be checked by the
  // caller), sorted by version.
  std::vector<format::StreamEntry> stream_records(std::uint64_t hash) const;
  // The LSN of the event with this id, if the segment holds it. `id_hash`
  // is format::id_hash(id), computed once by a caller that asks many
  // segments (every append with an id asks every sealed segment).
  std::optional<std::uint64_t> find_id(const EventId& id) const;
  std::optional<std::uint64_t> find_id(const EventId& id, std::uint64_t id_hash) const;
  // Calls fn for every event id the index holds, in no particular order.
  void for_each_id(const std::function<void(const EventId&)>& fn) const;
  std::uint64_t base_lsn() const { return file_.base_lsn; }  // immutable
  std::uint64_t end_lsn() const;
  std::uint64_t end_position() const;
  std::uint64_t chain() const;
  std::int64_t last_time_ns() const;
  // Bytes of memory the index holds (for documentation and the stats).
  std::size_t memory_bytes() const;
  // A sealed index's id filter (null for a growable one). Shared: the
  // segment keeps it when the index cache drops the index, so that a
  // positive from the log-wide id filter loads only segments that may hold
  // the id.
  std::shared_ptr<const IdBloom> id_bloom() const { return id_bloom_; }
  // A sealed index's stream filter (null for a growable one), for the same
  // reason: kept by the segment.
  std::shared_ptr<const IdBloom> stream_bloom() const { return stream_bloom_; }

 private:
  void add_locked(const format::RecordView& record);
  void build_sealed(std::shared_ptr<const IdBloom> id_bloom);

  mutable std::shared_mutex mu_;
  format::IndexFile file_;  // sparse always; streams/ids sorted only when sealed
  bool sealed_ = false;
  format::StreamDirectory directory_;  // over file_.streams, when sealed
  // A bloom filter over file_.ids, when sealed (in memory only, built at
  // load): most appends find their id in no segment, and a binary search
  // of each sealed segment's id table cost ~18 cache misses per segment
  // (appends slowed with the log's size: 221k/s at 10 segments, 12k/s at
  // 112). Immutable once built, like everything of a sealed index.
  std::shared_ptr<const IdBloom> id_bloom_;
  std::shared_ptr<const IdBloom> stream_bloom_;  // a copy of file_.bloom, when sealed
  std::uint64_t next_sparse_position_ = 0;
  // The tail's stream and id tables, appended in LSN order.
  std::unordered_map<std::uint64_t, std::vector<format::StreamEntry>> tail_streams_;
  std::unordered_map<EventId, std::uint64_t, EventIdHash> tail_ids_;
};

}  // namespace cairn::engine
