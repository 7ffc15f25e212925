// One segment file as the engine holds it while the log is open.
#pragma once

#include <cairn/file_system.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "format/codec.h"

namespace cairn::engine {

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

  std::uint64_t base_lsn() const { return header.base_lsn; }
  std::uint64_t seal_position() const;
};

}  // namespace cairn::engine
