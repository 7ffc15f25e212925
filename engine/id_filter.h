// A filter over the event ids of the log's sealed segments, so that an
// append with an id that no sealed segment holds (almost every append) is
// told so with a few probes instead of one probe per sealed segment
// (decision 0014). In memory only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <vector>

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

 private:
  // Bloom filters never grow, so the filter is a list of levels, each for
  // four times the keys of the one before (a few levels even for billions
  // of ids); a segment's ids all go into one level, which holds them at
  // 10 bits per key (about 1% false positives per full level).
  struct Level {
    std::vector<std::uint64_t> bits;
    std::size_t keys = 0;
    std::size_t capacity = 0;
  };
  static constexpr std::size_t kFirstLevelKeys = 1 << 16;

  mutable std::shared_mutex mu_;
  std::vector<Level> levels_;
  std::size_t covered_ = 0;
};

}  // namespace cairn::engine
