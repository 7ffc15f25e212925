#include "engine/index_store.h"

#include <cairn/assert.h>

#include <vector>

#include "format/checksum.h"
#include "format/id_filter_file.h"
#include "format/index_file.h"
#include "format/layout.h"
#include "format/names.h"
#include "format/stream_filter_file.h"
#include "recovery/segment_scan.h"

namespace cairn::engine {

IndexStore::IndexStore(SegmentStore& store, std::uint64_t log_id, std::uint32_t interval_bytes,
                       std::size_t cache_bytes, std::function<void(const std::string&)> notice)
    : store_(store),
      log_id_(log_id),
      interval_bytes_(interval_bytes),
      notice_(std::move(notice)),
      cache_budget_(cache_bytes) {}

std::string IndexStore::index_name(const Segment& segment) const {
  return segment.name.substr(0, segment.name.size() - std::string(format::kSegmentSuffix).size()) +
         format::kIndexSuffix;
}

Status IndexStore::write(const Segment& segment, const SegmentIndex& index) {
  return write_file(segment, index.to_file());
}

Status IndexStore::write_file(const Segment& segment, const format::IndexFile& contents) {
  return write_derived(index_name(segment), format::encode_index(contents));
}

// Derived data (indexes, the id filter): tmp file, fdatasync, rename. No
// directory fsync: a file lost in a crash is rebuilt.
Status IndexStore::write_derived(const std::string& name, std::span<const std::byte> bytes) {
  const std::string tmp = store_.path(name + format::kTmpSuffix);
  CAIRN_ASSIGN_OR_RETURN(auto file, store_.fs().open(tmp, io::OpenMode::create));
  CAIRN_TRY(file->truncate(0));
  CAIRN_TRY(file->write_at(0, bytes));
  CAIRN_TRY(file->sync_data());
  return store_.fs().rename(tmp, store_.path(name));
}

// The whole of a derived file; nothing if it cannot be opened (missing).
Result<std::optional<std::vector<std::byte>>> IndexStore::read_derived(const std::string& path) {
  auto file = store_.fs().open(path, io::OpenMode::read_only);
  if (!file) {
    return std::optional<std::vector<std::byte>>();
  }
  CAIRN_ASSIGN_OR_RETURN(std::uint64_t size, (*file)->size());
  std::vector<std::byte> bytes(size);
  CAIRN_ASSIGN_OR_RETURN(std::size_t got, (*file)->read_at(0, bytes));
  bytes.resize(got);
  return std::optional<std::vector<std::byte>>(std::move(bytes));
}

Result<std::optional<format::IndexFile>> IndexStore::load_if_matching(const Segment& segment,
                                                                      std::uint64_t end_lsn,
                                                                      std::uint64_t chain) {
  const std::string path = store_.path(index_name(segment));
  CAIRN_ASSIGN_OR_RETURN(auto bytes, read_derived(path));
  if (!bytes) {
    return std::optional<format::IndexFile>();
  }
  auto decoded = format::decode_index(*bytes);
  if (!decoded) {
    notice_(path + ": " + decoded.error().message() + "; rebuilding it from the segment");
    return std::optional<format::IndexFile>();
  }
  if (decoded->log_id != log_id_ || decoded->base_lsn != segment.base_lsn() ||
      decoded->end_lsn != end_lsn || decoded->chain != chain) {
    // Never trusted over the log: an index of other contents is stale.
    notice_(path + ": does not match its segment; rebuilding it");
    return std::optional<format::IndexFile>();
  }
  return std::optional<format::IndexFile>(std::move(*decoded));
}

Result<std::shared_ptr<SegmentIndex>> IndexStore::rebuild(Segment& segment,
                                                          std::uint64_t end_position) {
  auto index = std::make_shared<SegmentIndex>(log_id_, segment.base_lsn(), interval_bytes_);
  std::uint64_t chain = segment.seed;
  auto visit = [&](const format::RecordView& view) {
    if (view.header.kind != static_cast<std::uint16_t>(format::RecordKind::batch) ||
        view.position >= end_position) {
      return;
    }
    chain = format::chain_step(chain, view.header.header_checksum);
    index->add_record(view, chain);
  };
  CAIRN_ASSIGN_OR_RETURN(auto scan, recovery::scan_segment(*segment.file, segment.header, visit));
  if (index->end_position() != end_position && !segment.sealed) {
    return Status::at(Errc::corruption, segment.path, index->end_position(),
                      "records end before the recovered end of the tail");
  }
  if (segment.sealed && (!scan.sealed || index->end_lsn() != segment.end_lsn.load())) {
    return Status::at(Errc::corruption, segment.path, scan.end.position,
                      "sealed segment does not scan to its seal");
  }
  return index;
}

// Under segment.index_mu, for a sealed segment whose index is not in memory:
// its file if it matches, else rebuilt (and written back). Gives the segment
// the index's id filter.
Result<std::shared_ptr<SegmentIndex>> IndexStore::load(Segment& segment) {
  CAIRN_ASSERT(segment.sealed);
  std::shared_ptr<SegmentIndex> index;
  CAIRN_ASSIGN_OR_RETURN(auto file,
                         load_if_matching(segment, segment.end_lsn.load(), segment.end_chain));
  if (file) {
    // Loaded again after the cache dropped it: the id filter it built the
    // first time is still the segment's.
    index = std::make_shared<SegmentIndex>(std::move(*file), segment.id_bloom);
  } else {
    CAIRN_ASSIGN_OR_RETURN(auto rebuilt, rebuild(segment, segment.header.segment_bytes));
    format::IndexFile contents = rebuilt->to_file();
    if (!write_rebuilt_) {
      notice_(store_.path(index_name(segment)) + ": rebuilt in memory only (read-only)");
    } else if (Status s = write_file(segment, contents); !s.ok()) {
      notice_("could not write the rebuilt index: " + s.to_string());
    }
    index = std::make_shared<SegmentIndex>(std::move(contents));  // the immutable form
  }
  segment.id_bloom = index->id_bloom();
  segment.stream_bloom = index->stream_bloom();
  return index;
}

Result<std::shared_ptr<SegmentIndex>> IndexStore::get(Segment& segment) {
  return fetch(segment, /*keep=*/true);
}

Result<std::shared_ptr<SegmentIndex>> IndexStore::peek(Segment& segment) {
  return fetch(segment, /*keep=*/false);
}

// The index in memory, else loaded; kept (and counted in the cache, which
// may drop others) only if `keep`.
Result<std::shared_ptr<SegmentIndex>> IndexStore::fetch(Segment& segment, bool keep) {
  std::shared_ptr<SegmentIndex> index;
  {
    std::lock_guard lock(segment.index_mu);
    if (segment.index) {
      touch(segment);
      return segment.index;
    }
    CAIRN_ASSIGN_OR_RETURN(index, load(segment));
    if (keep) {
      segment.index = index;
    }
  }
  if (keep) {
    remember(segment, index->memory_bytes());  // counts the load
  } else {
    loads_.fetch_add(1, std::memory_order_relaxed);
  }
  return index;
}

bool IndexStore::may_hold_stream(Segment& segment, std::uint64_t stream_hash) {
  std::lock_guard lock(segment.index_mu);
  return !segment.sealed.load() || !segment.stream_bloom ||
         format::bloom_may_contain(*segment.stream_bloom, stream_hash);
}

std::shared_ptr<const IdBloom> IndexStore::id_bloom(Segment& segment) {
  std::lock_guard lock(segment.index_mu);
  return segment.id_bloom;
}

void IndexStore::remember(Segment& segment, std::size_t bytes) {
  std::lock_guard lock(cache_mu_);
  touch(segment);
  cached_.push_back(Cached{&segment, bytes});
  cached_bytes_ += bytes;
  loads_.fetch_add(1, std::memory_order_relaxed);
  // Never the index just put in: its caller is about to use it.
  while (cached_bytes_ > cache_budget_ && cached_.size() > 1) {
    auto victim = cached_.end();
    for (auto it = cached_.begin(); it != cached_.end(); ++it) {
      if (it->segment != &segment &&
          (victim == cached_.end() ||
           it->segment->index_used.load(std::memory_order_relaxed) <
               victim->segment->index_used.load(std::memory_order_relaxed))) {
        victim = it;
      }
    }
    if (victim == cached_.end()) {
      break;
    }
    {
      std::lock_guard index_lock(victim->segment->index_mu);
      victim->segment->index.reset();  // the id filter stays
    }
    cached_bytes_ -= victim->bytes;
    ++evictions_;
    *victim = cached_.back();
    cached_.pop_back();
  }
}

void IndexStore::load_id_filter(const SegmentSet::Segments& segments, std::size_t sealed) {
  std::lock_guard lock(id_filter_file_mu_);
  if (id_filter_file_tried_ || id_filter_.covered() != 0) {
    return;
  }
  id_filter_file_tried_ = true;
  const std::string path = store_.path(format::kIdFilterFileName);
  auto bytes = read_derived(path);
  if (!bytes) {
    notice_(path + ": could not be read; filling the id filter from the indexes");
    return;
  }
  if (!*bytes) {
    return;  // none saved: filled from the indexes
  }
  auto decoded = format::decode_id_filter(**bytes);
  if (!decoded) {
    notice_(path + ": " + decoded.error().message() + "; filling the id filter from the indexes");
    return;
  }
  const std::size_t covered = decoded->covered_segments;
  // The file holds the ids of the segments below covered_end_lsn. It
  // matches only if those are exactly this log's first `covered` segments,
  // all sealed (so their ids cannot have changed since it was written).
  if (decoded->log_id != log_id_ || covered == 0 || covered > sealed ||
      segments[covered - 1]->end_lsn.load() != decoded->covered_end_lsn) {
    notice_(path + ": does not match the log; filling the id filter from the indexes");
    return;
  }
  if (id_filter_.install(covered, std::move(decoded->levels))) {
    id_filter_saved_ = covered;
  }
}

Status IndexStore::save_id_filter(const SegmentSet& set) {
  std::lock_guard lock(id_filter_file_mu_);
  auto [covered, levels] = id_filter_.contents();
  if (covered <= id_filter_saved_) {
    return Status();
  }
  // Taken after the filter's contents: it lists every segment they cover.
  const auto view = set.view();
  const SegmentSet::Segments& segments = *view;
  CAIRN_ASSERT(covered <= segments.size() && segments[covered - 1]->sealed.load());
  format::IdFilterFile f;
  f.log_id = log_id_;
  f.covered_segments = covered;
  f.covered_end_lsn = segments[covered - 1]->end_lsn.load();
  f.levels = std::move(levels);
  CAIRN_TRY(write_derived(format::kIdFilterFileName, format::encode_id_filter(f)));
  id_filter_saved_ = covered;
  return Status();
}

void IndexStore::load_stream_filters(const SegmentSet& set) {
  if (stream_filters_tried_.load(std::memory_order_acquire)) {
    return;
  }
  std::lock_guard lock(stream_filters_mu_);
  if (stream_filters_tried_.load(std::memory_order_relaxed)) {
    return;
  }
  // Published only once the filters are in place: a racing first lookup
  // waits on the mutex instead of reading every index meanwhile.
  install_stream_filters(set);
  stream_filters_tried_.store(true, std::memory_order_release);
}

// Under stream_filters_mu_: reads the file and gives the segments its
// frames match their filters. Coverage is known afterwards unless the file
// could not be read (then a save must not assume it covered nothing).
void IndexStore::install_stream_filters(const SegmentSet& set) {
  const std::string path = store_.path(format::kStreamFilterFileName);
  auto bytes = read_derived(path);
  if (!bytes) {
    notice_(path + ": could not be read; stream filters come from the indexes");
    return;
  }
  stream_filters_known_ = true;
  if (!*bytes) {
    return;
  }
  auto decoded = format::decode_stream_filters(**bytes);
  if (!decoded || decoded->log_id != log_id_) {
    notice_(path + ": " + (decoded ? "another log's file" : decoded.error().message()) +
            "; stream filters come from the indexes");
    return;
  }
  const auto view = set.view();
  const SegmentSet::Segments& segments = *view;
  auto& filters = decoded->segments;
  // A frame counts only for a sealed segment that is the one it was built
  // from: a filter that lacked a stream would make a head lookup miss the
  // stream and let an append skip its expected-version check.
  std::size_t matched = 0;
  while (matched < filters.size() && matched < segments.size()) {
    const Segment& segment = *segments[matched];
    const format::SegmentStreamFilter& f = filters[matched];
    if (!segment.sealed.load() || segment.base_lsn() != f.base_lsn ||
        segment.end_lsn.load() != f.end_lsn || segment.end_chain != f.chain) {
      break;
    }
    ++matched;
  }
  if (!decoded->stopped.empty()) {
    notice_(path + ": " + decoded->stopped + "; the frames before it are used");
  }
  if (matched < filters.size()) {
    notice_(path + ": frame " + std::to_string(matched) +
            " does not match the log; the frames before it are used");
  }
  stream_filters_cut_ = !decoded->stopped.empty() || matched < filters.size();
  for (std::size_t i = 0; i < matched; ++i) {
    std::lock_guard segment_lock(segments[i]->index_mu);
    if (!segments[i]->stream_bloom) {
      segments[i]->stream_bloom = std::make_shared<const IdBloom>(std::move(filters[i].bits));
    }
  }
  stream_filters_saved_ = matched;
  stream_filters_end_ =
      matched == 0 ? format::kStreamFilterHeaderBytes : decoded->frame_ends[matched - 1];
}

Status IndexStore::save_stream_filters(const SegmentSet& set, std::size_t min_new) {
  std::lock_guard lock(stream_filters_mu_);
  const auto view = set.view();
  const SegmentSet::Segments& segments = *view;
  const std::size_t sealed = SegmentSet::sealed_prefix(segments);
  // Bytes after the last usable frame (a torn save, frames that do not
  // match) are cut at the next save, even one that adds no frame.
  const std::size_t wanted = stream_filters_cut_ ? 0 : min_new;
  if (sealed < stream_filters_saved_ + wanted) {
    return Status();
  }
  std::size_t covered = 0;
  while (covered < sealed) {
    std::lock_guard segment_lock(segments[covered]->index_mu);
    if (!segments[covered]->stream_bloom) {
      break;
    }
    ++covered;
  }
  if (covered < stream_filters_saved_ + wanted || covered == 0 ||
      (!stream_filters_known_ && covered < sealed)) {
    return Status();
  }
  return write_stream_filters(segments, covered);
}

// Under stream_filters_mu_: appends the frames of segments
// [stream_filters_saved_, covered) at stream_filters_end_, or writes the
// file whole if there is no usable one. A failed append leaves bytes that
// no longer verify or match, so the next save writes the file whole.
Status IndexStore::write_stream_filters(const SegmentSet::Segments& segments, std::size_t covered) {
  const bool whole = !stream_filters_known_ || stream_filters_end_ == 0;
  const std::size_t first = whole ? 0 : stream_filters_saved_;
  std::vector<std::shared_ptr<const IdBloom>> held;  // keeps the viewed words alive
  std::vector<format::StreamFilterFrame> frames;
  for (std::size_t i = first; i < covered; ++i) {
    {
      std::lock_guard segment_lock(segments[i]->index_mu);
      held.push_back(segments[i]->stream_bloom);
    }
    CAIRN_ASSERT(held.back() != nullptr);  // counted in `covered`; a filter is never dropped
    frames.push_back({segments[i]->base_lsn(), segments[i]->end_lsn.load(), segments[i]->end_chain,
                      *held.back()});
  }
  std::vector<std::byte> bytes;
  if (whole) {
    bytes = format::encode_stream_filter_header(log_id_);
  }
  format::append_stream_filter_frames(log_id_, frames, bytes);
  if (whole) {
    CAIRN_TRY(write_derived(format::kStreamFilterFileName, bytes));
    stream_filters_known_ = true;
    stream_filters_end_ = bytes.size();
  } else {
    const std::uint64_t at = stream_filters_end_;
    stream_filters_end_ = 0;  // until the append has landed
    CAIRN_ASSIGN_OR_RETURN(auto file, store_.fs().open(store_.path(format::kStreamFilterFileName),
                                                       io::OpenMode::read_write));
    CAIRN_TRY(file->truncate(at));
    if (!bytes.empty()) {
      CAIRN_TRY(file->write_at(at, bytes));
    }
    CAIRN_TRY(file->sync_data());
    stream_filters_end_ = at + bytes.size();
  }
  stream_filters_cut_ = false;
  stream_filters_saved_ = covered;
  return Status();
}

IndexStore::CacheStats IndexStore::cache_stats() const {
  std::lock_guard lock(cache_mu_);
  return CacheStats{cached_bytes_, loads_.load(std::memory_order_relaxed), evictions_};
}

Status IndexStore::seal(Segment& segment, std::size_t ordinal) {
  std::shared_ptr<SegmentIndex> growable;
  {
    std::lock_guard lock(segment.index_mu);
    growable = segment.index;
  }
  CAIRN_ASSERT(segment.sealed && growable);
  format::IndexFile contents = growable->to_file();
  const Status written = write_file(segment, contents);
  auto immutable = std::make_shared<SegmentIndex>(std::move(contents));
  // Covers the segment if the filter covers every one before it (else the
  // next id check catches up).
  id_filter_.add(ordinal, *immutable);
  const std::size_t bytes = immutable->memory_bytes();
  {
    std::lock_guard lock(segment.index_mu);
    segment.id_bloom = immutable->id_bloom();
    segment.stream_bloom = immutable->stream_bloom();
    segment.index = std::move(immutable);
  }
  remember(segment, bytes);
  return written;
}

Result<std::shared_ptr<SegmentIndex>> IndexStore::open_tail(Segment& segment,
                                                            const format::ScanState& end,
                                                            std::shared_ptr<SegmentIndex> scanned,
                                                            bool* from_file) {
  std::lock_guard lock(segment.index_mu);
  if (from_file != nullptr) {
    *from_file = false;
  }
  if (scanned && scanned->end_position() == end.position && scanned->end_lsn() == end.next_lsn &&
      scanned->chain() == end.chain && scanned->base_lsn() == segment.base_lsn()) {
    segment.index = scanned;
    return scanned;
  }
  CAIRN_ASSIGN_OR_RETURN(auto loaded, load_if_matching(segment, end.next_lsn, end.chain));
  if (loaded && loaded->end_position == end.position) {
    // The file holds sorted tables; the tail keeps growing, so re-add its
    // records into a growable index from the file's entries.
    auto index = std::make_shared<SegmentIndex>(std::move(*loaded), /*growable=*/true);
    segment.index = index;
    if (from_file != nullptr) {
      *from_file = true;
    }
    return index;
  }
  CAIRN_ASSIGN_OR_RETURN(auto index, rebuild(segment, end.position));
  segment.index = index;
  return index;
}

}  // namespace cairn::engine
