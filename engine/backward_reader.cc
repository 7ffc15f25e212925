#include "engine/backward_reader.h"

#include <algorithm>

#include "format/layout.h"
#include "format/record.h"

namespace cairn::engine {
namespace {

// Bytes of records between two marks: large enough that a chunk costs one
// read of a useful size, small enough that its event views stay cheap.
constexpr std::uint64_t kChunkBytes = 256u << 10;
// Bytes per read while marking (a record larger than this grows the buffer).
constexpr std::uint64_t kReadBytes = 1u << 20;

bool is_seal(const format::RecordView& view) {
  return view.header.kind == static_cast<std::uint16_t>(format::RecordKind::seal);
}

Status damage(const Segment& segment, const format::RecordScanner& scanner) {
  return Status::at(Errc::corruption, segment.path, scanner.state().position,
                    std::string(format::scan_stop_name(scanner.stop())) +
                        (scanner.detail()[0] ? std::string(": ") + scanner.detail() : ""));
}

}  // namespace

BackwardReader::BackwardReader(const SegmentSet& segments, std::uint64_t lsn_end)
    : segments_(segments), lsn_end_(lsn_end) {}

Result<bool> BackwardReader::next(EventView& out) {
  while (events_.empty()) {
    if (chunks_left_ > 0) {
      --chunks_left_;
      CAIRN_TRY(load_chunk(chunks_left_));
      continue;
    }
    CAIRN_ASSIGN_OR_RETURN(bool more, enter_previous_segment());
    if (!more) {
      return false;
    }
  }
  out = events_.back();
  events_.pop_back();
  return true;
}

// The segment holding lsn_end_ - 1 first, then each one before it.
Result<bool> BackwardReader::enter_previous_segment() {
  std::shared_ptr<Segment> segment;
  if (!started_) {
    started_ = true;
    if (lsn_end_ > 0) {
      segment = segments_.find(lsn_end_ - 1);
    }
  } else if (segment_ && segment_->base_lsn() > 0) {
    segment = segments_.find(segment_->base_lsn() - 1);
  }
  segment_ = std::move(segment);
  if (!segment_) {
    return false;
  }
  CAIRN_TRY(mark_segment());
  chunks_left_ = marks_.size() - 1;
  return true;
}

Status BackwardReader::fill(std::uint64_t position, std::uint64_t readable_end) {
  const std::uint64_t want = std::max<std::uint64_t>(kReadBytes, buffer_.size());
  const std::uint64_t bytes = std::min(want, readable_end - position);
  buffer_.resize(std::max<std::size_t>(buffer_.size(), static_cast<std::size_t>(bytes)));
  CAIRN_ASSIGN_OR_RETURN(std::size_t got,
                         segment_->file->read_at(position, std::span(buffer_).first(bytes)));
  if (got < bytes) {
    // The file is preallocated to its full size; a short read would make the
    // scan ask for the same bytes forever.
    return Status::at(Errc::io_error, segment_->path, position + got, "short read");
  }
  buffer_position_ = position;
  buffer_end_ = got;
  return Status();
}

// Scans the segment forward up to lsn_end_ (or its end), the same way
// SegmentReader does, and records a mark about every kChunkBytes.
Status BackwardReader::mark_segment() {
  const Segment& s = *segment_;
  format::ScanState state = format::ScanState::segment_start(s.base_lsn(), s.seed);
  marks_.assign(1, state);
  buffer_end_ = 0;
  buffer_position_ = state.position;
  while (true) {
    const std::uint64_t readable_end = s.readable_end.load(std::memory_order_acquire);
    const bool sealed = s.sealed.load(std::memory_order_acquire);
    if (state.next_lsn >= lsn_end_ || (sealed && state.next_lsn >= s.end_lsn.load()) ||
        state.position >= readable_end) {
      break;
    }
    if (state.position < buffer_position_ ||
        state.position + format::kRecordHeaderBytes > buffer_position_ + buffer_end_) {
      CAIRN_TRY(fill(state.position, readable_end));
    }
    format::RecordScanner scanner{std::span(buffer_).first(buffer_end_),
                                  buffer_position_,
                                  s.seed,
                                  s.base_lsn(),
                                  state,
                                  format::kRecordBytesMax,
                                  s.header.segment_bytes};
    format::RecordView view;
    bool at_end = false;
    while (scanner.next(view)) {
      if (is_seal(view) || view.header.lsn >= lsn_end_) {
        at_end = true;
        break;
      }
      if (view.position >= marks_.back().position + kChunkBytes) {
        marks_.push_back(state);
      }
      state = scanner.state();
    }
    if (at_end) {
      break;
    }
    const bool more_bytes = buffer_position_ + buffer_end_ < readable_end;
    if (scanner.stop() == format::ScanStop::short_data && more_bytes) {
      // The record straddles the buffer: read again from its start, with
      // room for all of it (its header verified, so its length is trusted).
      const auto header =
          format::load_record_header(buffer_.data() + (state.position - buffer_position_));
      buffer_.resize(std::max(buffer_.size(), format::record_bytes(header.body_bytes)));
      CAIRN_TRY(fill(state.position, readable_end));
      continue;
    }
    if (scanner.stop() == format::ScanStop::end_of_input &&
        (more_bytes || state.position == buffer_position_ + buffer_end_)) {
      continue;  // the top of the loop reads on, or ends at the readable end
    }
    if (scanner.stop() == format::ScanStop::zero_header && sealed &&
        state.next_lsn == s.end_lsn.load()) {
      break;  // zeros up to the seal slot, and no event missing
    }
    return damage(s, scanner);
  }
  marks_.push_back(state);
  return Status();
}

// Reads chunk `index` in one piece and keeps views of its events below
// lsn_end_. The chunk was verified by mark_segment(); it is verified again
// because these are new bytes from the file.
Status BackwardReader::load_chunk(std::size_t index) {
  const Segment& s = *segment_;
  const format::ScanState& start = marks_[index];
  const std::uint64_t end = marks_[index + 1].position;
  const std::uint64_t bytes = end - start.position;
  buffer_.resize(std::max<std::size_t>(buffer_.size(), static_cast<std::size_t>(bytes)));
  CAIRN_TRY(fill(start.position, end));
  format::RecordScanner scanner{std::span(buffer_).first(buffer_end_),
                                buffer_position_,
                                s.seed,
                                s.base_lsn(),
                                start,
                                format::kRecordBytesMax,
                                s.header.segment_bytes};
  format::RecordView view;
  events_.clear();
  while (scanner.next(view) && !is_seal(view)) {
    format::BatchReader batch(view.body, view.header.lsn, view.header.event_count);
    EventView event;
    while (batch.next(event)) {
      if (event.lsn < lsn_end_) {
        events_.push_back(event);
      }
    }
  }
  if (scanner.state().position != end) {
    return damage(s, scanner);
  }
  return Status();
}

}  // namespace cairn::engine
