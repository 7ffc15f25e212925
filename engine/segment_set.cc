#include "engine/segment_set.h"

#include <cairn/assert.h>

#include <algorithm>

namespace cairn::engine {

void SegmentSet::add(std::shared_ptr<Segment> segment) {
  std::lock_guard lock(mu_);
  CAIRN_ASSERT_MSG(segments_.empty() || segments_.back()->base_lsn() <= segment->base_lsn(),
                   "segments are added in LSN order");
  segments_.push_back(std::move(segment));
}

std::shared_ptr<Segment> SegmentSet::find(std::uint64_t lsn) const {
  std::lock_guard lock(mu_);
  auto it = std::upper_bound(segments_.begin(), segments_.end(), lsn,
                             [](std::uint64_t v, const auto& s) { return v < s->base_lsn(); });
  if (it == segments_.begin()) {
    return nullptr;
  }
  return *std::prev(it);
}

std::shared_ptr<Segment> SegmentSet::after(const Segment& segment) const {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i + 1 < segments_.size(); ++i) {
    if (segments_[i].get() == &segment) {
      return segments_[i + 1];
    }
  }
  return nullptr;
}

std::shared_ptr<Segment> SegmentSet::last() const {
  std::lock_guard lock(mu_);
  return segments_.empty() ? nullptr : segments_.back();
}

std::vector<std::shared_ptr<Segment>> SegmentSet::snapshot() const {
  std::lock_guard lock(mu_);
  return segments_;
}

std::size_t SegmentSet::size() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

}  // namespace cairn::engine
