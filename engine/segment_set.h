// The ordered set of open segments, shared by the committer (which appends
// new ones at a roll) and readers (which look segments up by LSN).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/segment.h"

namespace cairn::engine {

class SegmentSet {
 public:
  void add(std::shared_ptr<Segment> segment);
  // The segment holding `lsn` (the last with base_lsn <= lsn), or null.
  std::shared_ptr<Segment> find(std::uint64_t lsn) const;
  // The segment after `segment`, or null if it is the last.
  std::shared_ptr<Segment> after(const Segment& segment) const;
  std::shared_ptr<Segment> last() const;
  std::vector<std::shared_ptr<Segment>> snapshot() const;
  std::size_t size() const;

  // Whether forward readers map sealed segments (LogOptions::
  // map_sealed_segments). Set before any reader exists.
  void set_map_sealed(bool on) { map_sealed_ = on; }
  bool map_sealed() const { return map_sealed_; }

 private:
  bool map_sealed_ = true;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Segment>> segments_;
};

}  // namespace cairn::engine
