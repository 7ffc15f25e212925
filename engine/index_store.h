// Index files on disk (SPEC.md section 13): written when a segment is sealed
// and for the tail at a clean close; loaded on first use; rebuilt from the
// segment with the shared scanner when missing, stale or damaged. An index
// is derived data, so writing it needs no directory fsync and a failure to
// write it is only a notice: the next open rebuilds it.
#pragma once

#include <cairn/status.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/id_filter.h"
#include "engine/segment.h"
#include "engine/segment_index.h"
#include "engine/segment_set.h"
#include "engine/segment_store.h"

namespace cairn::engine {

class IndexStore {
 public:
  // `cache_bytes`: the memory budget of sealed segments' indexes (below).
  IndexStore(SegmentStore& store, std::uint64_t log_id, std::uint32_t interval_bytes,
             std::size_t cache_bytes, std::function<void(const std::string&)> notice);
  // For a reader that must change no byte of the directory (`cairn read`):
  // an index rebuilt because its file is missing, stale or damaged stays in
  // memory only. Call before any other use.
  void never_write() { write_rebuilt_ = false; }

  // The index of a sealed segment: its file if it matches the segment
  // (log id, base and end LSN, record chain), else rebuilt by a scan (and
  // written back). Kept in the segment while the cache has room: when the
  // sealed indexes in memory exceed the budget, the least recently used
  // are dropped (a caller holding one keeps it alive) and loaded again on
  // their next use. The tail's index is never dropped.
  Result<std::shared_ptr<SegmentIndex>> get(Segment& segment);
  // For a one-off pass over every sealed segment (filling the id filter):
  // the index in memory if there is one, else the index loaded (or rebuilt)
  // without keeping it, so the pass does not fill the cache with indexes
  // that nothing else asked for. The segment keeps the id filter.
  Result<std::shared_ptr<SegmentIndex>> peek(Segment& segment);
  // The sealed segment's id filter, if its index was ever loaded (the cache
  // keeps it when it drops the index); null otherwise.
  static std::shared_ptr<const IdBloom> id_bloom(Segment& segment);
  // False only for a sealed segment whose stream filter (from its index,
  // loaded once, or from streams.filter) says it holds no record of the
  // stream: the caller skips it without loading its index.
  static bool may_hold_stream(Segment& segment, std::uint64_t stream_hash);

  struct CacheStats {
    std::size_t bytes = 0;  // sealed indexes in memory
    std::uint64_t loads = 0;
    std::uint64_t evictions = 0;
  };
  CacheStats cache_stats() const;
  // True once load_stream_filters() has run (the file read, or tried).
  bool stream_filters_loaded() const {
    return stream_filters_tried_.load(std::memory_order_acquire);
  }
  // The tail's index at open: `scanned` if recovery built it from its own
  // scan and it ends at `end`; else its file if it matches `end` (a clean
  // close wrote it); else rebuilt by scanning the records before end.position.
  // `from_file` (if given) tells whether the index file on disk is the
  // index returned, so that a close with nothing appended need not write it.
  Result<std::shared_ptr<SegmentIndex>> open_tail(Segment& segment, const format::ScanState& end,
                                                  std::shared_ptr<SegmentIndex> scanned,
                                                  bool* from_file = nullptr);
  // Writes `index` as the segment's index file (tmp, fdatasync, rename).
  Status write(const Segment& segment, const SegmentIndex& index);
  // At a roll, for the segment just sealed: writes its index file and puts
  // the immutable form a later open would load (sorted tables, stream
  // directory, id filter) in place of its growable index, so that lookups
  // in segments sealed during this session cost what they cost after a
  // reopen, and extends the id filter with it (`ordinal`: its position in
  // the segment list). A failed write is returned; the swap happens
  // regardless.
  Status seal(Segment& segment, std::size_t ordinal);

  // Over the ids of the sealed segments, in order (decision 0014): the
  // committer extends it at each roll, the id check fills it on first use.
  SealedIdFilter& id_filter() { return id_filter_; }
  // The id filter file (decision 0016). load: once, while the filter covers
  // no segment, takes the file's contents if it matches `segments` (its
  // log, and a prefix of `sealed` segments ending at the LSN it names);
  // anything else is a notice and the filter is filled from the indexes.
  // save: writes the filter if it covers more segments than the file.
  void load_id_filter(const SegmentSet::Segments& segments, std::size_t sealed);
  Status save_id_filter(const SegmentSet& segments);

  // The stream filter file (decisions 0017, 0018). load: once per open,
  // before the first stream-head lookup or stream read; gives each sealed
  // segment its frame matches (base and end LSN, end chain), from the
  // first up to the first frame that does not, its stream filter, so that
  // those skip it without reading its index. save: if the longest run of
  // sealed segments from the first that all have a filter covers at least
  // `min_new` more segments than the file, appends their frames after the
  // last frame that matched (overwriting anything after it) and
  // fdatasyncs; writes the file whole (tmp file, rename) when there is no
  // usable one. When the file's coverage is unknown (not read in this
  // session, or it could not be read), only if the run is every sealed
  // segment, so that a longer file is never replaced by a shorter one.
  void load_stream_filters(const SegmentSet& set);
  Status save_stream_filters(const SegmentSet& set, std::size_t min_new);
  // Sealed indexes read from their files (or rebuilt) since open.
  std::uint64_t loads() const { return loads_.load(std::memory_order_relaxed); }

 private:
  Result<std::shared_ptr<SegmentIndex>> load(Segment& segment);
  void install_stream_filters(const SegmentSet& set);
  Status write_stream_filters(const SegmentSet::Segments& segments, std::size_t covered);
  Result<std::shared_ptr<SegmentIndex>> fetch(Segment& segment, bool keep);
  Result<std::optional<std::vector<std::byte>>> read_derived(const std::string& path);
  // The segment's index file, decoded, if it matches the segment.
  Result<std::optional<format::IndexFile>> load_if_matching(const Segment& segment,
                                                            std::uint64_t end_lsn,
                                                            std::uint64_t chain);
  Result<std::shared_ptr<SegmentIndex>> rebuild(Segment& segment, std::uint64_t end_position);
  Status write_file(const Segment& segment, const format::IndexFile& contents);
  Status write_derived(const std::string& name, std::span<const std::byte> bytes);
  std::string index_name(const Segment& segment) const;
  // Counts a sealed index just put in `segment` and drops the least
  // recently used others while over budget. Lock order: cache_mu_, then a
  // segment's index_mu; never called with an index_mu held.
  void remember(Segment& segment, std::size_t bytes);
  void touch(Segment& segment) {
    segment.index_used.store(clock_.fetch_add(1, std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
  }

  struct Cached {
    Segment* segment;  // segments live as long as the log
    std::size_t bytes;
  };

  SegmentStore& store_;
  std::uint64_t log_id_;
  std::uint32_t interval_bytes_;
  std::function<void(const std::string&)> notice_;
  SealedIdFilter id_filter_;

  std::mutex id_filter_file_mu_;
  bool id_filter_file_tried_ = false;  // under id_filter_file_mu_
  std::size_t id_filter_saved_ = 0;    // segments the file covers, under id_filter_file_mu_

  std::atomic<bool> stream_filters_tried_{false};  // set once, under stream_filters_mu_
  std::mutex stream_filters_mu_;
  // Under stream_filters_mu_: the segments the file covers, whether that
  // is known, and the byte after the last frame that matched (0: no usable
  // file, the next save writes it whole).
  std::size_t stream_filters_saved_ = 0;
  bool stream_filters_known_ = false;
  std::uint64_t stream_filters_end_ = 0;
  bool stream_filters_cut_ = false;  // bytes after stream_filters_end_ to cut off

  bool write_rebuilt_ = true;

  const std::size_t cache_budget_;
  std::atomic<std::uint64_t> clock_{0};
  mutable std::mutex cache_mu_;
  std::vector<Cached> cached_;  // sealed segments whose index is in memory
  std::size_t cached_bytes_ = 0;
  std::atomic<std::uint64_t> loads_{0};  // counted without cache_mu_ (peek holds an index_mu)
  std::uint64_t evictions_ = 0;
};

}  // namespace cairn::engine
