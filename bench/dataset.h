// The events every workload appends: incompressible data, stream names, and
// the order in which a bulk-loaded data set visits its streams. Shared by
// the harness and its child processes (child.cc), which must produce the
// same events as the parent for the same index.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "peer.h"

namespace cairn_bench {

// Incompressible bytes; event (s, v) takes event_bytes of them from an offset
// that depends on both, so no two neighbouring events are equal.
class DataPool {
 public:
  explicit DataPool(std::size_t event_bytes) : event_bytes_(event_bytes) {
    bytes_.resize(std::max<std::size_t>(1u << 20, 4 * event_bytes));
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    for (char& c : bytes_) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x);
    }
  }

  std::string_view data(std::uint64_t stream, std::uint64_t version) const {
    std::uint64_t h = (stream * 0x9E3779B97F4A7C15ull) ^ (version * 0xC2B2AE3D27D4EB4Full);
    h ^= h >> 29;
    std::size_t at = static_cast<std::size_t>(h % (bytes_.size() - event_bytes_));
    return std::string_view(bytes_.data() + at, event_bytes_);
  }

  std::size_t event_bytes() const { return event_bytes_; }

 private:
  std::size_t event_bytes_;
  std::string bytes_;
};

inline std::string stream_name(std::uint64_t i) { return "stream-" + std::to_string(i); }

// The order of a bulk-loaded data set: event i belongs to run i / run_length,
// runs go round-robin over `streams` streams, and within a run the versions
// are consecutive. run_length 1 spreads every stream's events evenly over the
// whole log (an entity's events interleaved with everyone else's: the hard
// case for reading one stream from a log); 10 makes each run one multi-event
// append.
struct Layout {
  std::uint64_t streams = 1000;
  std::uint64_t run_length = 1;

  struct Slot {
    std::uint64_t stream;
    std::uint64_t version;
  };
  Slot at(std::uint64_t i) const {
    const std::uint64_t run = i / run_length;
    return {run % streams, (run / streams) * run_length + i % run_length};
  }
  // Events of stream k among the first n events (run_length 1 only).
  std::uint64_t stream_events(std::uint64_t k, std::uint64_t n) const {
    return n > k ? (n - 1 - k) / streams + 1 : 0;
  }
};

// Loads events [start, start + count) of `layout` into `peer`, `chunk` per
// load() call. `stop` is asked after each call; loading ends early when it
// says so. Returns the number of events loaded through `loaded`.
template <typename Stop>
Error load_events(Peer& peer, const DataPool& pool, const Layout& layout, std::uint64_t start,
                  std::uint64_t count, std::uint64_t& loaded, Stop stop,
                  std::uint64_t chunk_events = 10'000) {
  const std::uint64_t kChunk = std::max<std::uint64_t>(1, chunk_events);
  std::vector<std::string> names;
  std::vector<EventRef> chunk;
  names.reserve(kChunk);
  chunk.reserve(kChunk);
  loaded = 0;
  while (loaded < count) {
    names.clear();
    chunk.clear();
    const std::uint64_t n = std::min(kChunk, count - loaded);
    for (std::uint64_t j = 0; j < n; ++j) {
      names.push_back(stream_name(layout.at(start + loaded + j).stream));
    }
    for (std::uint64_t j = 0; j < n; ++j) {
      Layout::Slot slot = layout.at(start + loaded + j);
      chunk.push_back(EventRef{names[j], slot.version, pool.data(slot.stream, slot.version)});
    }
    if (Error e = peer.load(chunk); !e.empty()) {
      return e;
    }
    loaded += n;
    if (stop()) {
      break;
    }
  }
  return {};
}

}  // namespace cairn_bench
