// Reads the global log backward: newest event first, from below an LSN bound
// down to LSN 0. Records are chained forward only, so each segment, newest
// first, is scanned forward once to mark a record boundary about every
// kChunkBytes; then each chunk, newest first, is read again in one piece and
// its events are handed out in reverse. Memory: one mark per chunk, plus one
// chunk of bytes and its event views (a chunk ends at a record boundary, so a
// record larger than kChunkBytes makes that chunk larger).
#pragma once

#include <cairn/log.h>

#include <memory>
#include <vector>

#include "engine/segment_set.h"
#include "format/scanner.h"

namespace cairn::engine {

class BackwardReader final : public LogReader {
 public:
  // Yields the events with LSN < `lsn_end`, in descending LSN order. The
  // caller bounds `lsn_end` by the readable LSN: records below it never change.
  BackwardReader(const SegmentSet& segments, std::uint64_t lsn_end);

  Result<bool> next(EventView& out) override;

 private:
  Result<bool> enter_previous_segment();
  Status mark_segment();
  Status load_chunk(std::size_t index);
  Status fill(std::uint64_t position, std::uint64_t readable_end);

  const SegmentSet& segments_;
  const std::uint64_t lsn_end_;
  bool started_ = false;
  std::shared_ptr<Segment> segment_;
  // Scan states at chunk starts, then the state after the last record below
  // lsn_end_: chunk i spans [marks_[i].position, marks_[i + 1].position).
  std::vector<format::ScanState> marks_;
  std::size_t chunks_left_ = 0;  // chunks [0, chunks_left_) are still to load
  std::vector<std::byte> buffer_;
  std::uint64_t buffer_position_ = 0;  // segment position of buffer_[0]
  std::uint64_t buffer_end_ = 0;       // bytes valid in buffer_
  std::vector<EventView> events_;      // of the loaded chunk, oldest first
};

}  // namespace cairn::engine
