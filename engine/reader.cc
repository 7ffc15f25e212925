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
  mapped_.reset();
  state_ = format::ScanState::segment_start(segment_->base_lsn(), segment_->seed);
  window_ = {};
  buffer_position_ = state_.position;
  return true;
}

Result<bool> SegmentReader::next(EventView& out) {
  while (true) {
    if (batch_ && batch_->next(out)) {
      if (out.lsn < from_lsn_) {
        continue;
      }
      return true;
    }
    batch_.reset();
    CAIRN_ASSIGN_OR_RETURN(bool more, next_record());
    if (!more) {
      return false;
    }
  }
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

// Moves to the next batch record below the limit. Returns false at the end
// of the readable log. One scanner lives as long as its window, so the
// records of a mapped segment are read without rebuilding it per record.
Result<bool> SegmentReader::next_record() {
  while (segment_) {
    // The limit only grows: ask again (a lock in the committer) only when
    // the reader has reached the last value seen, not for every record.
    if (state().next_lsn >= limit_) {
      limit_ = limit_fn_();
      if (state().next_lsn >= limit_) {
        return false;
      }
    }
    const std::uint64_t readable_end = segment_->readable_end.load(std::memory_order_acquire);
    const bool sealed = segment_->sealed.load(std::memory_order_acquire);
    if (sealed && state().next_lsn >= segment_->end_lsn.load()) {
      enter(segments_.after(*segment_));
      continue;
    }
    if (state().position >= readable_end) {
      park();
      return false;  // the tail, fully read
    }
    if (!scanner_) {
      if (state_.position < buffer_position_ ||
          state_.position + format::kRecordHeaderBytes > buffer_position_ + window_.size()) {
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
      return true;
    }
    CAIRN_ASSIGN_OR_RETURN(bool again, after_stop(sealed, readable_end));
    if (!again) {
      return false;
    }
  }
  return false;
}

// The scanner stopped without a record: read more when the window ended
// before the readable bytes, move on at a sealed segment's end marker, and
// report anything else as damage. Returns whether to scan again.
Result<bool> SegmentReader::after_stop(bool sealed, std::uint64_t readable_end) {
  const format::ScanStop stop = scanner_->stop();
  const bool more_to_read = buffer_position_ + window_.size() < readable_end;
  if (stop == format::ScanStop::short_data && more_to_read) {
    // The record straddles the buffer: read again from its start, growing
    // the buffer to the record's size if needed.
    const std::byte* header = window_.data() + (scanner_->state().position - buffer_position_);
    const std::size_t record = format::record_bytes(format::load_record_header(header).body_bytes);
    park();
    window_ = {};  // into buffer_, which the resize can move
    buffer_.resize(std::max(buffer_.size(), record));
    CAIRN_TRY(fill_buffer());
    return true;
  }
  if (stop == format::ScanStop::end_of_input && more_to_read) {
    park();
    CAIRN_TRY(fill_buffer());
    return true;
  }
  if (stop == format::ScanStop::sealed) {
    park();  // past the seal: the next pass moves to the next segment
    return true;
  }
  if (stop == format::ScanStop::zero_header && sealed) {
    // Zeros up to the seal slot: this segment has no more records. Its end
    // LSN (from the seal) says whether any are missing.
    if (scanner_->state().next_lsn != segment_->end_lsn.load()) {
      return damage(*scanner_);
    }
    park();
    return true;
  }
  return damage(*scanner_);
}

}  // namespace cairn::engine
