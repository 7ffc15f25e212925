// Every read is a source that yields events in LSN order (forward) or in
// reverse (backward), over the global log or one stream, wrapped in a
// BoundedReader that applies what all reads share: the "as of" bounds, the
// category and type filters, and the limit. Sources read below the readable
// LSN only (see GroupCommitter::readable_lsn).
#include "engine/reads.h"

#include <algorithm>
#include <climits>
#include <functional>

#include "engine/backward_reader.h"
#include "engine/reader.h"
#include "engine/segment_index.h"
#include "engine/stream_reader.h"
#include "format/layout.h"

namespace cairn::engine {
namespace {

// The limit of a forward source: what is readable now, never past `until`.
std::function<std::uint64_t()> readable_below(GroupCommitter* committer, std::uint64_t until) {
  return [committer, until] { return std::min(committer->readable_lsn(), until); };
}

class BoundedReader final : public LogReader {
 public:
  BoundedReader(std::unique_ptr<LogReader> source, const ReadOptions& options)
      : source_(std::move(source)),
        forward_(options.direction == Direction::forward),
        until_lsn_(options.until_lsn),
        until_time_ns_(options.until_time_ns),
        limit_(options.limit),
        filter_{"", options.stream_prefix, options.event_type} {}

  Result<bool> next(EventView& out) override {
    while (delivered_ < limit_ && !ended_) {
      CAIRN_ASSIGN_OR_RETURN(bool more, source_->next(out));
      if (!more) {
        return false;  // a forward read may find more later: it can follow
      }
      if (out.lsn >= until_lsn_ || out.time_ns > until_time_ns_) {
        if (forward_) {
          // LSNs grow and the log's recorded times never decrease along
          // them, so nothing later is inside the bounds.
          ended_ = true;
          return false;
        }
        continue;  // backward: newer events come first; older ones may fit
      }
      if (filter_.matches(out)) {
        delivered_ += 1;
        return true;
      }
    }
    return false;
  }

 private:
  std::unique_ptr<LogReader> source_;
  const bool forward_;
  const std::uint64_t until_lsn_;
  const std::int64_t until_time_ns_;
  const std::uint64_t limit_;
  const EventFilter filter_;
  std::uint64_t delivered_ = 0;
  bool ended_ = false;
};

// Where a backward read starts: below `lsn_end` (from from_lsn), below the
// readable LSN, below until_lsn, and below the first event after
// until_time_ns (so that a read "as of T" skips newer events without
// decoding them once the time index answers this).
Result<std::uint64_t> backward_lsn_end(const ReadContext& context, const ReadOptions& options,
                                       std::uint64_t lsn_end) {
  std::uint64_t end = std::min({lsn_end, context.committer->readable_lsn(), options.until_lsn});
  if (options.until_time_ns != INT64_MAX) {
    CAIRN_ASSIGN_OR_RETURN(std::uint64_t after,
                           find_lsn_after_time(context, options.until_time_ns));
    end = std::min(end, after);
  }
  return end;
}

// The one place that knows how a stream's events are found: through the
// segment indexes (engine/stream_reader.h). A backward read starts below
// the same bound as a global backward read.
Result<std::unique_ptr<LogReader>> open_stream_source(const ReadContext& context,
                                                      const ReadOptions& options) {
  std::uint64_t end = std::min(context.committer->readable_lsn(), options.until_lsn);
  if (options.direction == Direction::backward) {
    CAIRN_ASSIGN_OR_RETURN(end, backward_lsn_end(context, options, kFromEnd));
  }
  return make_indexed_stream_reader(*context.fs, *context.segments, *context.indexes,
                                    options.stream, options.from_version, options.direction, end);
}

Result<std::unique_ptr<LogReader>> open_global_source(const ReadContext& context,
                                                      const ReadOptions& options) {
  if (options.direction == Direction::forward) {
    return std::unique_ptr<LogReader>(std::make_unique<SegmentReader>(
        *context.segments, options.from_lsn, readable_below(context.committer, options.until_lsn),
        context.indexes));
  }
  const std::uint64_t from_end = options.from_lsn == kFromEnd ? kFromEnd : options.from_lsn + 1;
  CAIRN_ASSIGN_OR_RETURN(std::uint64_t end, backward_lsn_end(context, options, from_end));
  return std::unique_ptr<LogReader>(std::make_unique<BackwardReader>(*context.segments, end));
}

}  // namespace

bool EventFilter::matches(const EventView& event) const {
  return (stream.empty() || event.stream == stream) &&
         (stream_prefix.empty() || event.stream.starts_with(stream_prefix)) &&
         (event_type.empty() || event.type == event_type) && event.version >= min_version;
}

Result<std::unique_ptr<LogReader>> make_reader(const ReadContext& context,
                                               const ReadOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<LogReader> source,
                         options.stream.empty() ? open_global_source(context, options)
                                                : open_stream_source(context, options));
  return std::unique_ptr<LogReader>(std::make_unique<BoundedReader>(std::move(source), options));
}

// The time index gives the last record recorded at or before T in each
// segment; the scan from there is at most one index interval long. Segments
// are searched newest first, since "as of" reads are mostly recent.
Result<std::uint64_t> find_lsn_after_time(const ReadContext& context, std::int64_t time_ns) {
  const std::uint64_t end = context.committer->readable_lsn();
  auto segments = context.segments->snapshot();
  std::uint64_t from = 0;
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    Segment& segment = **it;
    std::shared_ptr<SegmentIndex> index;
    if (segment.sealed.load()) {
      CAIRN_ASSIGN_OR_RETURN(index, context.indexes->get(segment));
    } else {
      std::lock_guard lock(segment.index_mu);
      index = segment.index;
    }
    const SegmentIndex::Seek seek = index->seek_time(time_ns);
    if (seek.found || segment.base_lsn() == 0) {
      from = seek.lsn;  // a record at or before T is in this segment
      break;
    }
  }
  SegmentReader reader(
      *context.segments, from, [end] { return end; }, context.indexes);
  EventView event;
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool more, reader.next(event));
    if (!more) {
      return end;
    }
    if (event.time_ns > time_ns) {
      return event.lsn;
    }
  }
}

}  // namespace cairn::engine
