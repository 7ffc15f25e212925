// A filter over the event ids of the log's sealed segments, so that an
// append with an id that no sealed segment holds (almost every append) is
// told so with a few probes instead of one probe per sealed segment
// (decision 0014). Saved in the id filter file at a clean close and after a
// long fill (decision 0016).
#pragma once

#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "format/id_filter_file.h"

namespace cairn::engine {

class SegmentIndex;

class SealedIdFilter {
 public:
  // How many sealed segments, from the first, the filter covers. A negative
  // answer is only about those.
  std::size_t covered() const;
  // Adds the ids of the sealed segment at position `ordinal` of the segment
  // list if it is the next one (ordinal == covered()); returns whether it
  // did. Segments are covered in order and never twice, so a negative
  // answer can be trusted for every segment below covered().
  bool add(std::size_t ordinal, const SegmentIndex& index);
  // False only if no covered segment holds an id with this hash
  // (format::id_hash).
  bool may_contain(std::uint64_t id_hash) const;
  std::size_t memory_bytes() const;

  // Its contents, for the id filter file: how many segments it covers, and
  // its levels.
  std::pair<std::size_t, std::vector<format::IdFilterLevel>> contents() const;
  // Takes saved contents that cover the first `covered` segments, if the
  // filter covers none yet; returns whether it did. The caller has checked
  // that the file matches the log.
  bool install(std::size_t covered, std::vector<format::IdFilterLevel> levels);

 private:
  // Bloom filters never grow, so the filter is a list of levels, each for
  // four times the keys of the one before (a few levels even for billions
  // of ids); a segment's ids all go into one level, which holds them at
  // 10 bits per key (about 1% false positives per full level).
  using Level = format::IdFilterLevel;
  static constexpr std::size_t kFirstLevelKeys = 1 << 16;

  mutable std::shared_mutex mu_;
  std::vector<Level> levels_;
  std::size_t covered_ = 0;
};

}  // namespace cairn::engine
