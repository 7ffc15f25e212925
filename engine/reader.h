// Forward reader over the global log: reads segment bytes in chunks with the
// shared RecordScanner and yields events from a chosen LSN, never past the
// readable LSN (only events whose batch completed; see GroupCommitter).
#pragma once

#include <cairn/log.h>

#include <array>
#include <functional>
#include <memory>
#include <vector>

#include "engine/index_store.h"
#include "engine/segment_set.h"
#include "format/record.h"
#include "format/scanner.h"

namespace cairn::engine {

class SegmentReader final : public LogReader {
 public:
  // `limit` returns the LSN below which events may be read; it is asked
  // again each time the reader reaches the end, so a reader can follow.
  // With `indexes`, the reader starts at the indexed record nearest before
  // from_lsn instead of at the segment's first record.
  SegmentReader(const SegmentSet& segments, std::uint64_t from_lsn,
                std::function<std::uint64_t()> limit, IndexStore* indexes = nullptr);

  Result<bool> next(EventView& out) override;
  Result<std::size_t> next_many(std::span<EventView> out) override;

 private:
  // What next_record() found: a batch (in batch_), the end of the readable
  // log, or the need to move the window while views into it are out (only
  // while hold_window_ is set: next_many() returns what it has first).
  enum class Step : std::uint8_t { record, end, hold };
  Result<Step> next_record();
  Result<Step> after_stop(bool sealed, std::uint64_t readable_end);
  // Hands out `batch`'s next events from from_lsn_ on into out; returns how
  // many.
  std::size_t hand_out(format::BatchReader& batch, std::span<EventView> out) const;
  // The fast path: a run of records verified in one scanner call, and the
  // events of those records handed out.
  bool refill_run();
  std::size_t take_run(std::span<EventView> out);
  // The scan position: the live scanner's while there is one (it advances
  // with every record), else where the last one stopped.
  const format::ScanState& state() const { return scanner_ ? scanner_->state() : state_; }
  void park();
  Status fill_buffer();
  Status damage(const format::RecordScanner& scanner) const;
  bool enter(std::shared_ptr<Segment> segment);
  void seek(std::uint64_t lsn);

  const SegmentSet& segments_;
  IndexStore* indexes_;
  std::uint64_t from_lsn_;
  std::function<std::uint64_t()> limit_fn_;
  std::uint64_t limit_ = 0;

  std::shared_ptr<Segment> segment_;
  format::ScanState state_;                       // the scan position while no scanner is live
  std::optional<format::RecordScanner> scanner_;  // over window_
  // The bytes being scanned, window_: the sealed segment's mapping when
  // there is one (all of it, from position 0), else the valid part of
  // buffer_, read with read_at().
  std::shared_ptr<const io::MappedBytes> mapped_;
  std::vector<std::byte> buffer_;
  std::span<const std::byte> window_;
  std::uint64_t buffer_position_ = 0;  // segment position of window_[0]
  std::optional<format::BatchReader> batch_;
  // Records the scanner verified ahead in one run (refill_run), not yet
  // handed out: run_[run_at_, run_size_). They point into window_, which
  // does not move until they are all out (next_record runs only then).
  std::array<format::RecordView, 32> run_{};
  std::size_t run_at_ = 0;
  std::size_t run_size_ = 0;
  // Set by next_many() once it has handed out a view: the window (a mapping
  // or buffer_) must not move until the caller has seen them.
  bool hold_window_ = false;
};

}  // namespace cairn::engine
