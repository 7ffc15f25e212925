#include "format/stream_filter_file.h"

#include <cairn/assert.h>

#include <string>

#include "format/byte_order.h"
#include "format/filter_file.h"
#include "format/index_file.h"

namespace cairn::format {
namespace {

static_assert(kStreamFilterHeaderBytes == kFilterFileHeaderBytes);

constexpr FilterFileKind kKind{kStreamFilterMagic, kStreamFilterFormatVersion,
                               "stream filter file"};

}  // namespace

std::vector<std::byte> encode_stream_filters(const StreamFilterFile& f) {
  std::size_t words = 0;
  for (std::size_t i = 0; i < f.segments.size(); ++i) {
    CAIRN_ASSERT(f.segments[i].bits.size() % kBloomBlockWords == 0);
    CAIRN_ASSERT(i == 0 || f.segments[i].base_lsn > f.segments[i - 1].base_lsn);
    words += f.segments[i].bits.size();
  }
  std::vector<std::byte> out(kStreamFilterHeaderBytes +
                             f.segments.size() * kStreamFilterEntryBytes + words * 8);
  std::byte* p = out.data() + kStreamFilterHeaderBytes;
  for (const SegmentStreamFilter& s : f.segments) {
    store_u64(p, s.base_lsn);
    store_u64(p + 8, s.chain);
    store_u64(p + 16, s.bits.size());
    p += kStreamFilterEntryBytes;
  }
  for (const SegmentStreamFilter& s : f.segments) {
    p = store_words(p, s.bits);
  }
  CAIRN_ASSERT(p == out.data() + out.size());
  FilterFileHeader header;
  header.log_id = f.log_id;
  header.covered_segments = f.segments.size();
  header.covered_end_lsn = f.covered_end_lsn;
  header.words = words;
  seal_filter_file(kKind, header, out);
  return out;
}

Result<StreamFilterFile> decode_stream_filters(std::span<const std::byte> bytes) {
  CAIRN_ASSIGN_OR_RETURN(const FilterFileHeader header, open_filter_file(kKind, bytes));
  if (header.count != 0) {
    return filter_file_damaged(kKind, "reserved field is not zero");
  }
  const std::uint64_t body_bytes = bytes.size() - kStreamFilterHeaderBytes;
  const std::uint64_t count = header.covered_segments;
  // Both bounded by the body before either sizes anything.
  if (count > body_bytes / kStreamFilterEntryBytes || header.words > body_bytes / 8 ||
      body_bytes != count * kStreamFilterEntryBytes + header.words * 8) {
    return filter_file_damaged(kKind, "size differs from its header");
  }
  StreamFilterFile f;
  f.log_id = header.log_id;
  f.covered_end_lsn = header.covered_end_lsn;
  f.segments.resize(count);
  const std::byte* table = bytes.data() + kStreamFilterHeaderBytes;
  const std::byte* bits = table + count * kStreamFilterEntryBytes;
  std::uint64_t words_left = header.words;
  for (std::uint64_t i = 0; i < count; ++i) {
    SegmentStreamFilter& s = f.segments[i];
    s.base_lsn = load_u64(table + i * kStreamFilterEntryBytes);
    s.chain = load_u64(table + i * kStreamFilterEntryBytes + 8);
    const std::uint64_t n = load_u64(table + i * kStreamFilterEntryBytes + 16);
    if (i > 0 && s.base_lsn <= f.segments[i - 1].base_lsn) {
      return filter_file_damaged(kKind, "segment " + std::to_string(i) + " is out of order");
    }
    if (n > words_left || n % kBloomBlockWords != 0) {
      return filter_file_damaged(kKind,
                                 "segment " + std::to_string(i) + " has an impossible filter size");
    }
    bits = load_words(bits, n, s.bits);
    words_left -= n;
  }
  if (words_left != 0) {
    return filter_file_damaged(kKind, "words after the last filter");
  }
  return f;
}

}  // namespace cairn::format
