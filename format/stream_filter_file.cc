#include "format/stream_filter_file.h"

#include <cairn/assert.h>

#include <string>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/filter_file.h"
#include "format/index_file.h"
#include "format/record.h"

namespace cairn::format {
namespace {

static_assert(kStreamFilterHeaderBytes == kFilterFileHeaderBytes);

constexpr FilterFileKind kKind{kStreamFilterMagic, kStreamFilterFormatVersion,
                               "stream filter file"};

// Frames are checksummed under the file's log, so a frame copied from
// another log's file does not verify.
std::uint64_t frame_seed(std::uint64_t log_id) { return kStreamFilterMagic ^ log_id; }

// Refuses a file on its header alone (SPEC.md 13.2), in the order every
// saved filter file is checked: size, magic, header checksum, version.
Status check_header(std::span<const std::byte> bytes) {
  if (bytes.size() < kStreamFilterHeaderBytes) {
    return filter_file_damaged(kKind, "shorter than its header");
  }
  const std::byte* h = bytes.data();
  if (load_u64(h) != kStreamFilterMagic) {
    return Status::error(Errc::invalid_argument,
                         "stream filter file: wrong magic (not such a file)");
  }
  if (load_u64(h + 56) != xxh3({h, 56}, kStreamFilterMagic)) {
    return filter_file_damaged(kKind, "header checksum mismatch");
  }
  if (load_u32(h + 8) != kStreamFilterFormatVersion) {
    return Status::error(Errc::invalid_argument, "stream filter file has format version " +
                                                     std::to_string(load_u32(h + 8)) +
                                                     "; this build reads version " +
                                                     std::to_string(kStreamFilterFormatVersion));
  }
  if (load_u32(h + 12) != 0 || !is_all_zero(bytes.subspan(24, 32))) {
    return filter_file_damaged(kKind, "reserved header bytes are not zero");
  }
  return Status();
}

// Why the frame at `p` (`left` bytes to the end) does not verify, or "".
// On "" fills `out` and `size`.
std::string read_frame(const std::byte* p, std::uint64_t left, std::uint64_t log_id,
                       const SegmentStreamFilter* before, SegmentStreamFilter& out,
                       std::uint64_t& size) {
  if (left < kStreamFilterFrameHeaderBytes + kStreamFilterFrameChecksumBytes) {
    return "ends inside a frame header";
  }
  const std::uint64_t words = load_u64(p + 24);
  // Bounded by the bytes left before it sizes anything.
  if (words > (left - kStreamFilterFrameHeaderBytes - kStreamFilterFrameChecksumBytes) / 8) {
    return "frame runs past the end of the file";
  }
  size = stream_filter_frame_bytes(words);
  const std::uint64_t checked = size - kStreamFilterFrameChecksumBytes;
  if (load_u64(p + checked) != xxh3({p, checked}, frame_seed(log_id))) {
    return "frame checksum mismatch";
  }
  out.base_lsn = load_u64(p);
  out.end_lsn = load_u64(p + 8);
  out.chain = load_u64(p + 16);
  if (words % kBloomBlockWords != 0) {
    return "frame filter is not whole blocks";
  }
  if (out.end_lsn < out.base_lsn || (before != nullptr && out.base_lsn != before->end_lsn)) {
    return "frame does not follow the one before it";
  }
  load_words(p + kStreamFilterFrameHeaderBytes, words, out.bits);
  return "";
}

}  // namespace

std::size_t stream_filter_frame_bytes(std::size_t words) {
  return kStreamFilterFrameHeaderBytes + words * 8 + kStreamFilterFrameChecksumBytes;
}

std::vector<std::byte> encode_stream_filter_header(std::uint64_t log_id) {
  std::vector<std::byte> out(kStreamFilterHeaderBytes);
  std::byte* h = out.data();
  store_u64(h, kStreamFilterMagic);
  store_u32(h + 8, kStreamFilterFormatVersion);
  store_u64(h + 16, log_id);
  store_u64(h + 56, xxh3({h, 56}, kStreamFilterMagic));
  return out;
}

void append_stream_filter_frames(std::uint64_t log_id, std::span<const StreamFilterFrame> frames,
                                 std::vector<std::byte>& out) {
  for (const StreamFilterFrame& f : frames) {
    CAIRN_ASSERT(f.bits.size() % kBloomBlockWords == 0);
    CAIRN_ASSERT(f.end_lsn >= f.base_lsn);
    const std::size_t at = out.size();
    out.resize(at + stream_filter_frame_bytes(f.bits.size()));
    std::byte* p = out.data() + at;
    store_u64(p, f.base_lsn);
    store_u64(p + 8, f.end_lsn);
    store_u64(p + 16, f.chain);
    store_u64(p + 24, f.bits.size());
    std::byte* end = store_words(p + kStreamFilterFrameHeaderBytes, f.bits);
    store_u64(end, xxh3({p, static_cast<std::size_t>(end - p)}, frame_seed(log_id)));
  }
}

std::vector<std::byte> encode_stream_filters(const StreamFilterFile& f) {
  std::vector<std::byte> out = encode_stream_filter_header(f.log_id);
  std::vector<StreamFilterFrame> frames;
  for (std::size_t i = 0; i < f.segments.size(); ++i) {
    const SegmentStreamFilter& s = f.segments[i];
    CAIRN_ASSERT(i == 0 || s.base_lsn == f.segments[i - 1].end_lsn);
    frames.push_back({s.base_lsn, s.end_lsn, s.chain, s.bits});
  }
  append_stream_filter_frames(f.log_id, frames, out);
  return out;
}

Result<StreamFilterFile> decode_stream_filters(std::span<const std::byte> bytes) {
  CAIRN_TRY(check_header(bytes));
  StreamFilterFile f;
  f.log_id = load_u64(bytes.data() + 16);
  std::uint64_t at = kStreamFilterHeaderBytes;
  while (at < bytes.size()) {
    SegmentStreamFilter s;
    std::uint64_t size = 0;
    const SegmentStreamFilter* before = f.segments.empty() ? nullptr : &f.segments.back();
    std::string why = read_frame(bytes.data() + at, bytes.size() - at, f.log_id, before, s, size);
    if (!why.empty()) {
      f.stopped = "frame " + std::to_string(f.segments.size()) + " at byte " + std::to_string(at) +
                  ": " + why;
      break;
    }
    at += size;
    f.segments.push_back(std::move(s));
    f.frame_ends.push_back(at);
  }
  return f;
}

}  // namespace cairn::format
