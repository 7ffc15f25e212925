#include "engine/id_filter.h"

#include <algorithm>
#include <mutex>

#include "engine/segment_index.h"
#include "format/index_file.h"

namespace cairn::engine {

std::size_t SealedIdFilter::covered() const {
  std::shared_lock lock(mu_);
  return covered_;
}

bool SealedIdFilter::add(std::size_t ordinal, const SegmentIndex& index) {
  if (covered() != ordinal) {
    return false;  // not the next segment (or added already): skip the hashing
  }
  // Hashed before taking the lock: a segment holds up to millions of ids.
  std::vector<std::uint64_t> hashes;
  index.for_each_id([&](const EventId& id) { hashes.push_back(format::id_hash(id)); });
  std::unique_lock lock(mu_);
  if (ordinal != covered_) {
    return false;
  }
  if (!hashes.empty()) {
    if (levels_.empty() || levels_.back().keys + hashes.size() > levels_.back().capacity) {
      const std::size_t last = levels_.empty() ? kFirstLevelKeys / 4 : levels_.back().capacity;
      Level level;
      level.capacity = std::max(last * 4, hashes.size());
      level.bits = format::bloom_for_keys(level.capacity);
      levels_.push_back(std::move(level));
    }
    Level& level = levels_.back();
    for (std::uint64_t h : hashes) {
      format::bloom_add(level.bits, h);
    }
    level.keys += hashes.size();
  }
  covered_ += 1;
  return true;
}

bool SealedIdFilter::may_contain(std::uint64_t id_hash) const {
  std::shared_lock lock(mu_);
  for (const Level& level : levels_) {
    if (format::bloom_may_contain(level.bits, id_hash)) {
      return true;
    }
  }
  return false;
}

std::pair<std::size_t, std::vector<format::IdFilterLevel>> SealedIdFilter::contents() const {
  std::shared_lock lock(mu_);
  return {covered_, levels_};
}

bool SealedIdFilter::install(std::size_t covered, std::vector<format::IdFilterLevel> levels) {
  std::unique_lock lock(mu_);
  if (covered_ != 0 || !levels_.empty()) {
    return false;
  }
  levels_ = std::move(levels);
  covered_ = covered;
  return true;
}

std::size_t SealedIdFilter::memory_bytes() const {
  std::shared_lock lock(mu_);
  std::size_t bytes = 0;
  for (const Level& level : levels_) {
    bytes += level.bits.capacity() * 8;
  }
  return bytes;
}

}  // namespace cairn::engine
