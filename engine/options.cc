#include "engine/options.h"

#include "format/layout.h"

namespace cairn {

std::string ExpectedVersion::to_string() const {
  if (is_any()) return "any";
  if (is_no_stream()) return "no stream";
  if (is_stream_exists()) return "stream exists";
  return "version " + std::to_string(exact_version());
}

namespace engine {
namespace {

Status bad(const std::string& message) {
  return Status::error(Errc::invalid_argument, "invalid LogOptions: " + message);
}

std::string n(std::uint64_t v) { return std::to_string(v); }

}  // namespace

std::size_t batch_bytes_needed(std::size_t event_bytes_max) {
  return format::record_bytes(format::kBatchPrefixBytes + format::kStreamNameBytesMax +
                              format::kEventHeaderBytes + event_bytes_max);
}

Status validate_options(const LogOptions& o) {
  using namespace format;
  if (o.directory.empty()) {
    return bad("directory is empty");
  }
  if (o.event_bytes_max == 0 || o.event_bytes_max > kEventBytesMax) {
    return bad("event_bytes_max must be 1.." + n(kEventBytesMax) + ", got " + n(o.event_bytes_max));
  }
  if (o.batch_bytes_max < batch_bytes_needed(o.event_bytes_max) ||
      o.batch_bytes_max > kRecordBytesMax) {
    return bad("batch_bytes_max must be " + n(batch_bytes_needed(o.event_bytes_max)) + ".." +
               n(kRecordBytesMax) + " (one largest event with the longest stream name), got " +
               n(o.batch_bytes_max));
  }
  if (o.write_window_bytes < o.batch_bytes_max) {
    return bad("write_window_bytes (" + n(o.write_window_bytes) +
               ") must be at least batch_bytes_max (" + n(o.batch_bytes_max) + ")");
  }
  if (o.segment_bytes < kSegmentBytesMin || o.segment_bytes > kSegmentBytesMax ||
      o.segment_bytes % kSegmentHeaderBlockBytes != 0) {
    return bad("segment_bytes must be a multiple of " + n(kSegmentHeaderBlockBytes) + " in " +
               n(kSegmentBytesMin) + ".." + n(kSegmentBytesMax) + ", got " + n(o.segment_bytes));
  }
  const std::uint64_t needed = kSegmentHeaderBlockBytes + o.batch_bytes_max + kSealRecordBytes;
  if (o.segment_bytes < needed) {
    return bad("segment_bytes " + n(o.segment_bytes) + " cannot hold one largest batch (" +
               n(o.batch_bytes_max) + " bytes) with the header block and seal; need at least " +
               n(needed));
  }
  if (o.batches_in_flight < 1 || o.batches_in_flight > 16) {
    return bad("batches_in_flight must be 1..16, got " + n(o.batches_in_flight));
  }
  if (o.index_interval_bytes == 0) {
    return bad("index_interval_bytes must be positive");
  }
  return Status();
}

}  // namespace engine
}  // namespace cairn
