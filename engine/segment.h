// One segment file as the engine holds it while the log is open.
#pragma once

#include <cairn/file_system.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "format/codec.h"

namespace cairn::engine {

class SegmentIndex;

// Shared between the committer (which writes the tail) and readers (which
// read any segment). Sealed segments never change. For the tail, the
// committer advances readable_end and end_lsn after each completed batch, so
// a reader that loads them (acquire) sees bytes that are fully written.
struct Segment {
  std::string name;
  std::string path;
  format::SegmentHeader header;
  std::uint64_t seed = 0;
  std::shared_ptr<io::File> file;
  // Position just after the last readable record, and one past its last LSN.
  std::atomic<std::uint64_t> readable_end{0};
  std::atomic<std::uint64_t> end_lsn{0};
  std::atomic<bool> sealed{false};
  // Record chain and count at the end of its records: from the seal for a
  // sealed segment; checked against its index file so that a stale index is
  // never used.
  std::uint64_t end_chain = 0;
  // The segment's index: always present for the tail; loaded (or rebuilt)
  // on first use for a sealed segment, and dropped again by the index cache
  // when over its budget (IndexStore). Guarded by index_mu.
  std::mutex index_mu;
  std::shared_ptr<SegmentIndex> index;
  // A sealed segment's id filter, from its index, kept when the cache drops
  // the index (small: ~1.25 bytes per id). Guarded by index_mu.
  std::shared_ptr<const std::vector<std::uint64_t>> id_bloom;
  // Likewise its stream filter: a stream read or a stream-head lookup skips
  // a segment without the stream with no index loaded.
  std::shared_ptr<const std::vector<std::uint64_t>> stream_bloom;
  // When the index was last used (IndexStore's clock), for the cache.
  std::atomic<std::uint64_t> index_used{0};

  std::uint64_t base_lsn() const { return header.base_lsn; }
  std::uint64_t seal_position() const;
  // The whole sealed segment mapped read-only, shared by every forward
  // reader (a replay then copies no bytes). Mapped on first call, tried
  // once; null for a segment not sealed yet or when the file system does
  // not map (the reader then reads with read_at, which also reports any
  // error the mapping hit).
  std::shared_ptr<const io::MappedBytes> sealed_bytes();

 private:
  std::mutex map_mu_;
  bool map_tried_ = false;
  std::shared_ptr<const io::MappedBytes> mapped_;
};

}  // namespace cairn::engine
