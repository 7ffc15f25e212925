#include "engine/stream_reader.h"

#include <cairn/assert.h>

#include <algorithm>

#include "engine/segment_index.h"
#include "format/index_file.h"
#include "format/layout.h"
#include "format/record.h"
#include "format/scanner.h"

namespace cairn::engine {
namespace {

// One record of the stream: where it is and what it holds.
struct StreamRecord {
  std::shared_ptr<Segment> segment;
  std::uint64_t position;
  std::uint64_t lsn;
  std::uint64_t first_version;
  std::uint32_t count;
};

// A first read of this many bytes holds most records whole; a larger record
// is read again at its full size.
constexpr std::size_t kFirstReadBytes = 4096;

class IndexedStreamReader final : public LogReader {
 public:
  IndexedStreamReader(std::vector<StreamRecord> records, std::string stream,
                      std::uint64_t from_version, bool forward)
      : records_(std::move(records)),
        stream_(std::move(stream)),
        from_version_(from_version),
        forward_(forward) {}

  Result<bool> next(EventView& out) override {
    while (true) {
      if (pending_ < events_.size()) {
        out = events_[forward_ ? pending_ : events_.size() - 1 - pending_];
        ++pending_;
        return true;
      }
      if (next_record_ == records_.size()) {
        return false;
      }
      CAIRN_TRY(load(records_[next_record_++]));
    }
  }

 private:
  // Reads and verifies one record and keeps its events of the stream
  // within the version bound.
  Status load(const StreamRecord& r) {
    events_.clear();
    pending_ = 0;
    std::size_t want = kFirstReadBytes;
    for (int attempt = 0; attempt < 2; ++attempt) {
      buffer_.resize(want);
      CAIRN_ASSIGN_OR_RETURN(std::size_t got, r.segment->file->read_at(r.position, buffer_));
      const std::span<const std::byte> bytes = std::span(buffer_).first(got);
      const format::ScanState state{r.position, r.lsn, 0, 0};
      format::RecordScanner scanner(bytes, r.position, r.segment->seed, r.segment->base_lsn(),
                                    state);
      format::RecordView view;
      if (scanner.next(view)) {
        return keep(view, r);
      }
      if (scanner.stop() != format::ScanStop::short_data || attempt == 1) {
        return Status::at(Errc::corruption, r.segment->path, r.position,
                          std::string("indexed record does not verify: ") +
                              format::scan_stop_name(scanner.stop()));
      }
      want = format::record_bytes(format::load_record_header(buffer_.data()).body_bytes);
    }
    return Status();
  }

  Status keep(const format::RecordView& view, const StreamRecord& r) {
    format::BatchReader batch(view.body, view.header.lsn, view.header.event_count);
    if (batch.stream() != stream_) {
      return Status();  // another stream with the same hash
    }
    if (view.header.event_count != r.count || batch.first_version() != r.first_version) {
      return Status::at(Errc::corruption, r.segment->path, r.position,
                        "index entry does not match its record");
    }
    EventView event;
    while (batch.next(event)) {
      if (forward_ ? event.version >= from_version_ : event.version <= from_version_) {
        events_.push_back(event);
      }
    }
    return Status();
  }

  std::vector<StreamRecord> records_;
  const std::string stream_;
  const std::uint64_t from_version_;
  const bool forward_;
  std::size_t next_record_ = 0;
  std::vector<std::byte> buffer_;
  std::vector<EventView> events_;  // views into buffer_
  std::size_t pending_ = 0;
};

Result<std::shared_ptr<SegmentIndex>> index_of(Segment& segment, IndexStore& indexes) {
  if (segment.sealed.load()) {
    return indexes.get(segment);
  }
  std::lock_guard lock(segment.index_mu);
  return segment.index;
}

}  // namespace

Result<std::unique_ptr<LogReader>> make_indexed_stream_reader(
    const SegmentSet& segments, IndexStore& indexes, std::string stream, std::uint64_t from_version,
    Direction direction, std::uint64_t readable_lsn) {
  const std::uint64_t hash = format::stream_hash(stream);
  const bool forward = direction == Direction::forward;
  std::vector<StreamRecord> records;
  for (const auto& segment : segments.snapshot()) {
    if (segment->base_lsn() >= readable_lsn) {
      break;
    }
    CAIRN_ASSIGN_OR_RETURN(auto index, index_of(*segment, indexes));
    CAIRN_ASSERT(index != nullptr);
    for (const auto& e : index->stream_records(hash)) {
      const std::uint64_t lsn = segment->base_lsn() + e.relative_lsn;
      const std::uint64_t last_version = e.first_version + e.count - 1;
      const bool in_range =
          forward ? last_version >= from_version : e.first_version <= from_version;
      if (lsn + e.count <= readable_lsn && in_range) {
        records.push_back({segment, e.position, lsn, e.first_version, e.count});
      }
    }
  }
  // Versions grow with LSNs within a stream, so LSN order is version order.
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.lsn < b.lsn; });
  if (!forward) {
    std::reverse(records.begin(), records.end());
  }
  return std::unique_ptr<LogReader>(std::make_unique<IndexedStreamReader>(
      std::move(records), std::move(stream), from_version, forward));
}

}  // namespace cairn::engine
