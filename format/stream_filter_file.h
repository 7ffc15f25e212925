// The stream filter file (SPEC.md section 13.2): the stream filter of each of
// the log's first sealed segments, copied out of their index files and saved
// in one file, so that the first append to a stream after open (whose head
// is looked up segment by segment, newest first) need not read every sealed
// index file to learn which segments may hold it (decision 0017).
//
// The file grows by appending (decision 0018): a 64-byte header, then one
// self-checked frame per segment, in segment order. A save appends the
// frames of the segments sealed since the last one and fdatasyncs, so its
// cost is the new filters, not the whole log's. A frame that does not
// verify (a save torn by a crash, damage) ends the file for the reader: the
// frames before it still count, and the next save overwrites from there.
// Derived data: ignored, and the filters read from the indexes, when
// missing, damaged or not matching the log.
#pragma once

#include <cairn/status.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cairn::format {

inline constexpr std::uint64_t kStreamFilterMagic = 0x4654534E52494143ull;  // "CAIRNSTF"
inline constexpr std::uint32_t kStreamFilterFormatVersion = 2;
inline constexpr std::size_t kStreamFilterHeaderBytes = 64;  // kFilterFileHeaderBytes
// A frame: base LSN, end LSN, end chain, word count, then the words, then
// the frame checksum.
inline constexpr std::size_t kStreamFilterFrameHeaderBytes = 32;
inline constexpr std::size_t kStreamFilterFrameChecksumBytes = 8;

// One segment's filter: the index file's bloom over its stream hashes
// (empty: a segment with no batch, which may hold any stream).
struct SegmentStreamFilter {
  std::uint64_t base_lsn = 0;
  std::uint64_t end_lsn = 0;
  // The record chain at the segment's end (its seal's), so that a filter is
  // given only to the very segment it was built from.
  std::uint64_t chain = 0;
  std::vector<std::uint64_t> bits;
  bool operator==(const SegmentStreamFilter&) const = default;
};

// What a save appends for one segment; the words are viewed, not copied.
struct StreamFilterFrame {
  std::uint64_t base_lsn = 0;
  std::uint64_t end_lsn = 0;
  std::uint64_t chain = 0;
  std::span<const std::uint64_t> bits;
};

struct StreamFilterFile {
  std::uint64_t log_id = 0;
  // The frames that verified, in order: the filters of the log's first
  // segments, each starting where the one before ended.
  std::vector<SegmentStreamFilter> segments;
  // Byte just past each of those frames (frame_ends[i] ends segments[i]).
  std::vector<std::uint64_t> frame_ends;
  // Why decoding stopped before the end of the bytes ("" if it did not): a
  // torn or damaged frame. The bytes from there on are ignored.
  std::string stopped;
  bool operator==(const StreamFilterFile&) const = default;
};

std::size_t stream_filter_frame_bytes(std::size_t words);
// The 64-byte header of a file of `log_id`'s filters.
std::vector<std::byte> encode_stream_filter_header(std::uint64_t log_id);
// Appends the frames to `out` (which already holds the header and earlier
// frames of the same log).
void append_stream_filter_frames(std::uint64_t log_id, std::span<const StreamFilterFrame> frames,
                                 std::vector<std::byte>& out);
// The header and every segment's frame: what a decode of it returns.
std::vector<std::byte> encode_stream_filters(const StreamFilterFile& filters);
// Refuses the whole file on its header: shorter than it, wrong magic
// (invalid_argument), header checksum (corruption), version
// (invalid_argument), reserved bytes. Then reads frames until one does not
// verify (checksum, size, whole blocks, order) and says why in `stopped`.
Result<StreamFilterFile> decode_stream_filters(std::span<const std::byte> bytes);

}  // namespace cairn::format
