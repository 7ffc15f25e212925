#include "engine/segment_index.h"

#include <cairn/assert.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "format/layout.h"
#include "format/record.h"

namespace cairn::engine {

std::size_t EventIdHash::operator()(const EventId& id) const {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, id.bytes.data(), 8);
  std::memcpy(&b, id.bytes.data() + 8, 8);
  return static_cast<std::size_t>(a ^ (b * 0x9E3779B97F4A7C15ull));
}

SegmentIndex::SegmentIndex(std::uint64_t log_id, std::uint64_t base_lsn,
                           std::uint32_t interval_bytes) {
  file_.log_id = log_id;
  file_.base_lsn = base_lsn;
  file_.end_lsn = base_lsn;
  file_.end_position = format::kSegmentHeaderBlockBytes;
  file_.index_interval_bytes = interval_bytes;
  next_sparse_position_ = format::kSegmentHeaderBlockBytes;
}

SegmentIndex::SegmentIndex(format::IndexFile file, std::shared_ptr<const IdBloom> id_bloom)
    : file_(std::move(file)), sealed_(true) {
  build_sealed(std::move(id_bloom));
}

// The in-memory parts of an immutable index: the stream directory, and the
// id filter unless one built from the same ids is given.
void SegmentIndex::build_sealed(std::shared_ptr<const IdBloom> id_bloom) {
  directory_ = format::StreamDirectory(file_.streams);
  stream_bloom_ = std::make_shared<const IdBloom>(file_.bloom);
  if (id_bloom) {
    // Built from these ids before (the same segment's file, matched to it).
    CAIRN_ASSERT(id_bloom->size() == format::bloom_words_for_keys(file_.ids.size()));
    id_bloom_ = std::move(id_bloom);
    return;
  }
  auto bloom = std::make_shared<IdBloom>(format::bloom_for_keys(file_.ids.size()));
  for (const auto& e : file_.ids) {
    format::bloom_add(*bloom, format::id_hash(e.id));
  }
  id_bloom_ = std::move(bloom);
}

SegmentIndex::SegmentIndex(format::IndexFile file, bool growable)
    : file_(std::move(file)), sealed_(!growable) {
  if (!growable) {
    build_sealed(nullptr);
    return;
  }
  for (const auto& e : file_.streams) {
    tail_streams_[e.stream_hash].push_back(e);  // sorted by version within a hash
  }
  for (const auto& e : file_.ids) {
    tail_ids_.emplace(e.id, e.lsn);
  }
  file_.streams.clear();
  file_.ids.clear();
  file_.bloom.clear();
  next_sparse_position_ = file_.sparse.empty()
                              ? format::kSegmentHeaderBlockBytes
                              : file_.sparse.back().position + file_.index_interval_bytes;
}

void SegmentIndex::add_record(const format::RecordView& record, std::uint64_t chain) {
  add_records(std::span(&record, 1), chain);
}

void SegmentIndex::add_records(std::span<const format::RecordView> records, std::uint64_t chain) {
  if (records.empty()) {
    return;
  }
  std::unique_lock lock(mu_);
  CAIRN_ASSERT(!sealed_);
  for (const auto& record : records) {
    add_locked(record);
  }
  file_.chain = chain;
}

void SegmentIndex::add_locked(const format::RecordView& record) {
  CAIRN_ASSERT_MSG(record.header.lsn == file_.end_lsn, "records are indexed in LSN order");
  format::BatchReader batch(record.body, record.header.lsn, record.header.event_count);
  EventView event;
  const auto relative = static_cast<std::uint32_t>(record.header.lsn - file_.base_lsn);
  bool first = true;
  while (batch.next(event)) {
    if (first && record.position >= next_sparse_position_) {
      file_.sparse.push_back(
          {relative, static_cast<std::uint32_t>(record.position), event.time_ns});
      next_sparse_position_ = record.position + file_.index_interval_bytes;
    }
    first = false;
    if (!event.id.is_zero()) {
      tail_ids_.emplace(event.id, event.lsn);
    }
    file_.last_time_ns = std::max(file_.last_time_ns, event.time_ns);
  }
  const std::uint64_t hash = format::stream_hash(batch.stream());
  tail_streams_[hash].push_back({hash, batch.first_version(), relative, record.header.event_count,
                                 static_cast<std::uint32_t>(record.position)});
  file_.end_lsn = record.header.lsn + record.header.event_count;
  file_.end_position = record.position + record.record_bytes;
}

format::IndexFile SegmentIndex::to_file() const {
  std::shared_lock lock(mu_);
  format::IndexFile out = file_;
  if (!sealed_) {
    for (const auto& [hash, entries] : tail_streams_) {
      out.streams.insert(out.streams.end(), entries.begin(), entries.end());
    }
    for (const auto& [id, lsn] : tail_ids_) {
      out.ids.push_back({id, lsn});
    }
    format::finish_index(out);
  }
  return out;
}

SegmentIndex::Seek SegmentIndex::seek_lsn(std::uint64_t lsn) const {
  std::shared_lock lock(mu_);
  const auto& s = file_.sparse;
  auto it = std::upper_bound(s.begin(), s.end(), lsn, [&](std::uint64_t v, const auto& e) {
    return v < file_.base_lsn + e.relative_lsn;
  });
  if (it == s.begin()) {
    return {format::kSegmentHeaderBlockBytes, file_.base_lsn};
  }
  return {std::prev(it)->position, file_.base_lsn + std::prev(it)->relative_lsn};
}

SegmentIndex::Seek SegmentIndex::seek_time(std::int64_t time_ns) const {
  std::shared_lock lock(mu_);
  const auto& s = file_.sparse;
  // Recorded times are non-decreasing in LSN order (the log stamps them).
  auto it = std::upper_bound(s.begin(), s.end(), time_ns,
                             [](std::int64_t t, const auto& e) { return t < e.time_ns; });
  if (it == s.begin()) {
    return {format::kSegmentHeaderBlockBytes, file_.base_lsn, false};
  }
  return {std::prev(it)->position, file_.base_lsn + std::prev(it)->relative_lsn};
}

std::vector<format::StreamEntry> SegmentIndex::stream_records(std::uint64_t hash) const {
  std::shared_lock lock(mu_);
  if (!sealed_) {
    auto it = tail_streams_.find(hash);
    return it == tail_streams_.end() ? std::vector<format::StreamEntry>{} : it->second;
  }
  if (!format::bloom_may_contain(file_.bloom, hash)) {
    return {};
  }
  const auto found = directory_.find(file_.streams, hash);
  return {found.begin(), found.end()};
}

std::optional<std::uint64_t> SegmentIndex::find_id(const EventId& id) const {
  return find_id(id, format::id_hash(id));
}

std::optional<std::uint64_t> SegmentIndex::find_id(const EventId& id, std::uint64_t id_hash) const {
  // sealed_ and a sealed index's tables never change after construction.
  if (sealed_ && !format::bloom_may_contain(*id_bloom_, id_hash)) {
    return std::nullopt;
  }
  std::shared_lock lock(mu_);
  if (!sealed_) {
    auto it = tail_ids_.find(id);
    return it == tail_ids_.end() ? std::nullopt : std::optional<std::uint64_t>(it->second);
  }
  auto it =
      std::lower_bound(file_.ids.begin(), file_.ids.end(), id,
                       [](const auto& e, const EventId& v) { return format::id_less(e.id, v); });
  if (it == file_.ids.end() || it->id != id) {
    return std::nullopt;
  }
  return it->lsn;
}

void SegmentIndex::for_each_id(const std::function<void(const EventId&)>& fn) const {
  std::shared_lock lock(mu_);
  for (const auto& e : file_.ids) {
    fn(e.id);
  }
  for (const auto& [id, lsn] : tail_ids_) {
    fn(id);
  }
}

std::uint64_t SegmentIndex::end_lsn() const {
  std::shared_lock lock(mu_);
  return file_.end_lsn;
}

std::uint64_t SegmentIndex::end_position() const {
  std::shared_lock lock(mu_);
  return file_.end_position;
}

std::uint64_t SegmentIndex::chain() const {
  std::shared_lock lock(mu_);
  return file_.chain;
}

std::int64_t SegmentIndex::last_time_ns() const {
  std::shared_lock lock(mu_);
  return file_.last_time_ns;
}

std::size_t SegmentIndex::memory_bytes() const {
  std::shared_lock lock(mu_);
  std::size_t bytes = file_.sparse.capacity() * sizeof(format::SparseEntry) +
                      file_.streams.capacity() * sizeof(format::StreamEntry) +
                      file_.ids.capacity() * sizeof(format::IdEntry) + file_.bloom.capacity() * 8 +
                      (id_bloom_ ? id_bloom_->capacity() * 8 : 0) + directory_.memory_bytes();
  for (const auto& [hash, entries] : tail_streams_) {
    bytes += 48 + entries.capacity() * sizeof(format::StreamEntry);
  }
  return bytes + tail_ids_.size() * 48;
}

}  // namespace cairn::engine
