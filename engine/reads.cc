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

namespace cairn::engine {
namespace {

constexpr std::uint64_t kFromEnd = ~0ull;  // from_lsn / from_version: from the end

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

// One stream's events out of a global source in the same direction: forward
// from `from_version`, or backward from it (kFromEnd = the stream's head).
class StreamScan final : public LogReader {
 public:
  StreamScan(std::unique_ptr<LogReader> global, const ReadOptions& options)
      : global_(std::move(global)),
        stream_(options.stream),
        from_version_(options.from_version),
        forward_(options.direction == Direction::forward) {}

  Result<bool> next(EventView& out) override {
    while (!done_) {
      CAIRN_ASSIGN_OR_RETURN(bool more, global_->next(out));
      if (!more) {
        return false;
      }
      if (out.stream != stream_ ||
          (forward_ ? out.version < from_version_ : out.version > from_version_)) {
        continue;
      }
      done_ = !forward_ && out.version == 0;  // nothing older in the stream
      return true;
    }
    return false;
  }

 private:
  std::unique_ptr<LogReader> global_;
  const std::string stream_;
  const std::uint64_t from_version_;
  const bool forward_;
  bool done_ = false;
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

// The one place that knows how a stream's events are found. For now a scan
// of the global log filtered by stream name: correct, but it costs a read of
// the log. The segment stream indexes replace this function.
Result<std::unique_ptr<LogReader>> open_stream_source(const ReadContext& context,
                                                      const ReadOptions& options) {
  std::unique_ptr<LogReader> global;
  if (options.direction == Direction::forward) {
    global = std::make_unique<SegmentReader>(*context.segments, 0,
                                             readable_below(context.committer, options.until_lsn),
                                             context.indexes);
  } else {
    CAIRN_ASSIGN_OR_RETURN(std::uint64_t end, backward_lsn_end(context, options, kFromEnd));
    global = std::make_unique<BackwardReader>(*context.segments, end);
  }
  return std::unique_ptr<LogReader>(std::make_unique<StreamScan>(std::move(global), options));
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
         (event_type.empty() || event.type == event_type);
}

Result<std::unique_ptr<LogReader>> make_reader(const ReadContext& context,
                                               const ReadOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<LogReader> source,
                         options.stream.empty() ? open_global_source(context, options)
                                                : open_stream_source(context, options));
  return std::unique_ptr<LogReader>(std::make_unique<BoundedReader>(std::move(source), options));
}

// A forward scan for now; the segment time indexes replace it. The bound is
// fixed at the start so that the scan cannot chase a busy writer forever.
Result<std::uint64_t> find_lsn_after_time(const ReadContext& context, std::int64_t time_ns) {
  const std::uint64_t end = context.committer->readable_lsn();
  SegmentReader reader(
      *context.segments, 0, [end] { return end; }, context.indexes);
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
