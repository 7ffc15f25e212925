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
  using Segments = std::vector<std::shared_ptr<Segment>>;

  void add(std::shared_ptr<Segment> segment);
  // The segment holding `lsn` (the last with base_lsn <= lsn), or null.
  std::shared_ptr<Segment> find(std::uint64_t lsn) const;
  // The segment after `segment`, or null if it is the last.
  std::shared_ptr<Segment> after(const Segment& segment) const;
  std::shared_ptr<Segment> last() const;
  Segments snapshot() const;
  // The same without copying: the list is replaced (copy on write) when a
  // segment is added, so a view stays valid and unchanged. Every append
  // with an event id walks the segments twice; copying the list there cost
  // one atomic increment per segment.
  std::shared_ptr<const Segments> view() const;
  std::size_t size() const;
  // How many segments from the first are sealed (all but a tail, if any).
  static std::size_t sealed_prefix(const Segments& segments) {
    std::size_t sealed = 0;
    while (sealed < segments.size() && segments[sealed]->sealed.load()) {
      ++sealed;
    }
    return sealed;
  }

  // Whether forward readers map sealed segments (LogOptions::
  // map_sealed_segments). Set before any reader exists.
  void set_map_sealed(bool on) { map_sealed_ = on; }
  bool map_sealed() const { return map_sealed_; }

 private:
  bool map_sealed_ = true;
  mutable std::mutex mu_;
  std::shared_ptr<const Segments> segments_ = std::make_shared<const Segments>();
};

}  // namespace cairn::engine
