#include "engine/segment_set.h"

#include <cairn/assert.h>

#include <algorithm>

namespace cairn::engine {

void SegmentSet::add(std::shared_ptr<Segment> segment) {
  std::lock_guard lock(mu_);
  CAIRN_ASSERT_MSG(segments_->empty() || segments_->back()->base_lsn() <= segment->base_lsn(),
                   "segments are added in LSN order");
  auto next = std::make_shared<Segments>(*segments_);
  next->push_back(std::move(segment));
  segments_ = std::move(next);
}

std::shared_ptr<Segment> SegmentSet::find(std::uint64_t lsn) const {
  std::lock_guard lock(mu_);
  const Segments& segments = *segments_;
  auto it = std::upper_bound(segments.begin(), segments.end(), lsn,
                             [](std::uint64_t v, const auto& s) { return v < s->base_lsn(); });
  if (it == segments.begin()) {
    return nullptr;
  }
  return *std::prev(it);
}

std::shared_ptr<Segment> SegmentSet::after(const Segment& segment) const {
  std::lock_guard lock(mu_);
  const Segments& segments = *segments_;
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    if (segments[i].get() == &segment) {
      return segments[i + 1];
    }
  }
  return nullptr;
}

std::shared_ptr<Segment> SegmentSet::last() const {
  std::lock_guard lock(mu_);
  return segments_->empty() ? nullptr : segments_->back();
}

SegmentSet::Segments SegmentSet::snapshot() const {
  std::lock_guard lock(mu_);
  return *segments_;
}

std::shared_ptr<const SegmentSet::Segments> SegmentSet::view() const {
  std::lock_guard lock(mu_);
  return segments_;
}

std::size_t SegmentSet::size() const {
  std::lock_guard lock(mu_);
  return segments_->size();
}

}  // namespace cairn::engine
