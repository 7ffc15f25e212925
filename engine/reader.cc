#include "engine/reader.h"

#include <cairn/assert.h>

#include <algorithm>

#include "engine/segment_index.h"
#include "format/layout.h"

namespace cairn::engine {
namespace {

// Large enough that a scan of a segment costs few reads; a record larger than
// this grows the buffer to fit it.
constexpr std::size_t kChunkBytes = 1u << 20;

}  // namespace

SegmentReader::SegmentReader(const SegmentSet& segments, std::uint64_t from_lsn,
                             std::function<std::uint64_t()> limit, IndexStore* indexes)
    : segments_(segments), indexes_(indexes), from_lsn_(from_lsn), limit_fn_(std::move(limit)) {
  if (enter(segments_.find(from_lsn))) {
    seek(from_lsn);
  }
}

// Skips the records before the indexed one nearest before `lsn`. Without an
// index (or if it cannot be loaded) the reader scans from the segment start,
// which is slower but reads the same events.
void SegmentReader::seek(std::uint64_t lsn) {
  std::shared_ptr<SegmentIndex> index;
  if (segment_->sealed.load()) {
    if (indexes_ == nullptr) {
      return;
    }
    auto loaded = indexes_->get(*segment_);
    if (!loaded) {
      return;
    }
    index = *loaded;
  } else {
    std::lock_guard lock(segment_->index_mu);
    index = segment_->index;
  }
  if (!index) {
    return;
  }
  const SegmentIndex::Seek at = index->seek_lsn(lsn);
  scanner_.reset();
  run_at_ = run_size_ = 0;
  state_.position = at.position;
  state_.next_lsn = at.lsn;
  window_ = {};
  buffer_position_ = at.position;
}

bool SegmentReader::enter(std::shared_ptr<Segment> segment) {
  if (!segment) {
    return false;
  }
  segment_ = std::move(segment);
  scanner_.reset();
  run_at_ = run_size_ = 0;
  mapped_.reset();
  state_ = format::ScanState::segment_start(segment_->base_lsn(), segment_->seed);
  window_ = {};
  buffer_position_ = state_.position;
  return true;
}

Result<bool> SegmentReader::next(EventView& out) {
  CAIRN_ASSIGN_OR_RETURN(std::size_t got, next_many({&out, 1}));
  return got == 1;
}

// Hands out, in order: the rest of the current batch, the records of the
// current run, a new run where the fast path applies, else one record from
// next_record(). Once one view is out the window may not move
// (hold_window_), so the call ends early at a segment's end or a buffer
// refill, and the next call moves on. Damage found after some events are out
// is reported by the next call, which finds it again: the scanner's stop,
// and so the error, stays until the reader moves.
Result<std::size_t> SegmentReader::next_many(std::span<EventView> out) {
  CAIRN_ASSERT(!out.empty());  // 0 means the end of the log
  std::size_t n = 0;
  hold_window_ = false;
  while (n < out.size()) {
    if (batch_) {
      n += hand_out(*batch_, out.subspan(n));
      if (n == out.size()) {
        break;  // the batch may hold more: keep it for the next call
      }
      batch_.reset();
    }
    if (run_at_ < run_size_ || refill_run()) {
      n += take_run(out.subspan(n));
      continue;
    }
    hold_window_ = n > 0;
    Result<Step> step = next_record();
    if (!step) {
      if (n > 0) {
        break;
      }
      return step.error();
    }
    if (*step != Step::record) {
      break;
    }
  }
  hold_window_ = false;
  return n;
}

std::size_t SegmentReader::hand_out(format::BatchReader& batch, std::span<EventView> out) const {
  std::size_t n = 0;
  while (n < out.size() && batch.next(out[n])) {
    n += out[n].lsn >= from_lsn_ ? 1 : 0;  // a seek lands on the batch holding from_lsn_
  }
  return n;
}

// The fast path of a replay. Where every record of the segment is readable
// (sealed, its end LSN at or below the limit), nothing next_record() checks
// per record can change: the scanner verifies a run of records in one call
// instead. Returns false where next_record() must decide (no live scanner,
// the tail, a segment not yet readable to its end, the scanner stopped).
bool SegmentReader::refill_run() {
  if (!scanner_ || !segment_->sealed.load(std::memory_order_acquire) ||
      segment_->end_lsn.load() > limit_) {
    return false;
  }
  run_at_ = 0;
  run_size_ = scanner_->next_run(run_);
  return run_size_ > 0;
}

std::size_t SegmentReader::take_run(std::span<EventView> out) {
  std::size_t n = 0;
  while (n < out.size() && run_at_ < run_size_) {
    const format::RecordView& record = run_[run_at_++];
    if (record.header.kind == static_cast<std::uint16_t>(format::RecordKind::seal)) {
      continue;
    }
    CAIRN_ASSERT(record.header.lsn < limit_);
    format::BatchReader batch(record.body, record.header.lsn, record.header.event_count);
    n += hand_out(batch, out.subspan(n));
    if (!batch.done()) {
      batch_.emplace(batch);  // out is full: the rest comes first next call
    }
  }
  return n;
}

Status SegmentReader::fill_buffer() {
  if (!mapped_ && segments_.map_sealed()) {
    mapped_ = segment_->sealed_bytes();
  }
  if (mapped_) {
    buffer_position_ = 0;
    window_ = mapped_->bytes();
    return Status();
  }
  const std::uint64_t end = segment_->readable_end.load(std::memory_order_acquire);
  // window_ may point into buffer_, which the resize below can move: drop
  // it first, so that a failed read leaves no view of freed memory.
  window_ = {};
  const std::uint64_t want = std::max<std::uint64_t>(kChunkBytes, buffer_.size());
  const std::uint64_t bytes = std::min<std::uint64_t>(want, end - state_.position);
  buffer_.resize(std::max<std::size_t>(buffer_.size(), static_cast<std::size_t>(bytes)));
  CAIRN_ASSIGN_OR_RETURN(std::size_t got,
                         segment_->file->read_at(state_.position, std::span(buffer_).first(bytes)));
  buffer_position_ = state_.position;
  window_ = std::span(buffer_).first(got);
  return Status();
}

Status SegmentReader::damage(const format::RecordScanner& scanner) const {
  return Status::at(Errc::corruption, segment_->path, scanner.state().position,
                    std::string(format::scan_stop_name(scanner.stop())) +
                        (scanner.detail()[0] ? std::string(": ") + scanner.detail() : ""));
}

// Ends the live scanner, keeping its position in state_. Called before the
// window moves (a new buffer, a new segment, a seek).
void SegmentReader::park() {
  if (scanner_) {
    state_ = scanner_->state();
    scanner_.reset();
  }
}

// Moves to the next batch record below the limit. Returns Step::end at the
// end of the readable log, Step::hold where it would move the window while
// hold_window_ is set. One scanner lives as long as its window, so the
// records of a mapped segment are read without rebuilding it per record.
Result<SegmentReader::Step> SegmentReader::next_record() {
  while (segment_) {
    // The limit only grows: ask again (a lock in the committer) only when
    // the reader has reached the last value seen, not for every record.
    if (state().next_lsn >= limit_) {
      limit_ = limit_fn_();
      if (state().next_lsn >= limit_) {
        return Step::end;
      }
    }
    const std::uint64_t readable_end = segment_->readable_end.load(std::memory_order_acquire);
    const bool sealed = segment_->sealed.load(std::memory_order_acquire);
    if (sealed && state().next_lsn >= segment_->end_lsn.load()) {
      if (hold_window_) {
        return Step::hold;
      }
      enter(segments_.after(*segment_));
      continue;
    }
    if (state().position >= readable_end) {
      park();
      return Step::end;  // the tail, fully read
    }
    if (!scanner_) {
      if (state_.position < buffer_position_ ||
          state_.position + format::kRecordHeaderBytes > buffer_position_ + window_.size()) {
        if (hold_window_) {
          return Step::hold;
        }
        CAIRN_TRY(fill_buffer());
      }
      scanner_.emplace(window_, buffer_position_, segment_->seed, segment_->base_lsn(), state_,
                       format::kRecordBytesMax, segment_->header.segment_bytes);
    }
    format::RecordView view;
    if (scanner_->next(view)) {
      if (view.header.kind == static_cast<std::uint16_t>(format::RecordKind::seal)) {
        continue;  // records filled the segment up to its seal
      }
      // The scanner accepts only the record at the next LSN, which is below
      // the limit (checked above). A limit inside a batch (a reader bounded
      // at one LSN) still yields the whole batch, as before.
      CAIRN_ASSERT(view.header.lsn < limit_);
      batch_.emplace(view.body, view.header.lsn, view.header.event_count);
      return Step::record;
    }
    CAIRN_ASSIGN_OR_RETURN(Step step, after_stop(sealed, readable_end));
    if (step != Step::record) {
      return step;
    }
  }
  return Step::end;
}

// The scanner stopped without a record: read more when the window ended
// before the readable bytes, move on at a sealed segment's end marker, and
// report anything else as damage. Returns Step::record to scan again.
// Returning before any change (Step::hold) leaves the scanner stopped where
// it was, so the next call comes back here.
Result<SegmentReader::Step> SegmentReader::after_stop(bool sealed, std::uint64_t readable_end) {
  const format::ScanStop stop = scanner_->stop();
  const bool more_to_read = buffer_position_ + window_.size() < readable_end;
  const bool refill = more_to_read && (stop == format::ScanStop::short_data ||
                                       stop == format::ScanStop::end_of_input);
  if (refill && hold_window_) {
    return Step::hold;
  }
  if (stop == format::ScanStop::short_data && more_to_read) {
    // The record straddles the buffer: read again from its start, growing
    // the buffer to the record's size if needed.
    const std::byte* header = window_.data() + (scanner_->state().position - buffer_position_);
    const std::size_t record = format::record_bytes(format::load_record_header(header).body_bytes);
    park();
    window_ = {};  // into buffer_, which the resize can move
    buffer_.resize(std::max(buffer_.size(), record));
    CAIRN_TRY(fill_buffer());
    return Step::record;
  }
  if (stop == format::ScanStop::end_of_input && more_to_read) {
    park();
    CAIRN_TRY(fill_buffer());
    return Step::record;
  }
  if (stop == format::ScanStop::sealed) {
    park();  // past the seal: the next pass moves to the next segment
    return Step::record;
  }
  if (stop == format::ScanStop::zero_header && sealed) {
    // Zeros up to the seal slot: this segment has no more records. Its end
    // LSN (from the seal) says whether any are missing.
    if (scanner_->state().next_lsn != segment_->end_lsn.load()) {
      return damage(*scanner_);
    }
    park();
    return Step::record;
  }
  return damage(*scanner_);
}

}  // namespace cairn::engine

namespace cairn {

// The other readers hand out one event per call: their next() may move
// their bytes, so a second event could invalidate the first view.
Result<std::size_t> LogReader::next_many(std::span<EventView> out) {
  CAIRN_ASSERT(!out.empty());  // 0 means the end of the log
  CAIRN_ASSIGN_OR_RETURN(bool more, next(out[0]));
  return std::size_t{more ? 1u : 0u};
}

}  // namespace cairn
