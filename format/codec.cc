#include "format/codec.h"

#include <algorithm>
#include <array>
#include <string>

#include "format/byte_order.h"
#include "format/checksum.h"

namespace cairn::format {
namespace {

// Every fixed structure ends with a u64 checksum of the bytes before it,
// seeded with its magic so one kind can never verify as another.
std::uint64_t trailer_checksum(std::span<const std::byte> bytes, std::uint64_t magic) {
  return xxh3(bytes.first(bytes.size() - 8), magic);
}

void seal_trailer(std::span<std::byte> out, std::uint64_t magic) {
  store_u64(out.data() + out.size() - 8, trailer_checksum(out, magic));
}

// Shared prologue of every decoder: size, magic, checksum, version, in that
// order, so a wrong file says "not a <kind>" before "damaged".
Status check_structure(std::span<const std::byte> bytes, std::size_t size, std::uint64_t magic,
                       const char* what) {
  if (bytes.size() < size) {
    return Status::error(Errc::corruption, std::string(what) +
                                               " is short: " + std::to_string(bytes.size()) +
                                               " of " + std::to_string(size) + " bytes");
  }
  if (load_u64(bytes.data()) != magic) {
    bool all_zero = std::all_of(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size),
                                [](std::byte b) { return b == std::byte{0}; });
    return Status::error(all_zero ? Errc::corruption : Errc::invalid_argument,
                         all_zero ? std::string(what) + " is all zeros"
                                  : std::string("not a ") + what + " (wrong magic)");
  }
  auto s = bytes.first(size);
  if (load_u64(s.data() + size - 8) != trailer_checksum(s, magic)) {
    return Status::error(Errc::corruption, std::string(what) + " checksum mismatch");
  }
  std::uint32_t version = load_u32(s.data() + 8);
  if (version != kFormatVersion) {
    return Status::error(Errc::invalid_argument,
                         std::string(what) + " has format version " + std::to_string(version) +
                             "; this build reads version " + std::to_string(kFormatVersion));
  }
  return Status();
}

// Epilogue of every decoder: the decoded value must encode back to the very
// bytes it came from. Every field round-trips, so this fails only when a
// reserved byte (one this version always writes as zero) is not zero: a
// checksum-valid structure from a writer this build does not understand,
// whose extra fields we must not drop silently.
template <class T, std::size_t N>
Status check_reserved_zero(std::span<const std::byte> bytes, const T& value,
                           void (*encode)(const T&, std::span<std::byte, N>), const char* what) {
  std::array<std::byte, N> again;
  encode(value, again);
  if (!std::equal(again.begin(), again.end(), bytes.begin())) {
    return Status::error(Errc::corruption,
                         std::string(what) + " has reserved bytes that are not zero");
  }
  return Status();
}

}  // namespace

void encode_meta(const MetaRecord& meta, std::span<std::byte, kMetaBytes> out) {
  std::fill(out.begin(), out.end(), std::byte{0});
  store_u64(out.data() + 0, kMetaMagic);
  store_u32(out.data() + 8, meta.format_version);
  store_u64(out.data() + 16, meta.log_id);
  store_u64(out.data() + 24, static_cast<std::uint64_t>(meta.created_time_ns));
  seal_trailer(out, kMetaMagic);
}

Result<MetaRecord> decode_meta(std::span<const std::byte> bytes) {
  CAIRN_TRY(check_structure(bytes, kMetaBytes, kMetaMagic, "meta file"));
  MetaRecord meta;
  meta.format_version = load_u32(bytes.data() + 8);
  meta.log_id = load_u64(bytes.data() + 16);
  meta.created_time_ns = static_cast<std::int64_t>(load_u64(bytes.data() + 24));
  CAIRN_TRY(check_reserved_zero(bytes, meta, &encode_meta, "meta file"));
  return meta;
}

void encode_segment_header(const SegmentHeader& h, std::span<std::byte, kSegmentHeaderBytes> out) {
  std::fill(out.begin(), out.end(), std::byte{0});
  store_u64(out.data() + 0, kSegmentMagic);
  store_u32(out.data() + 8, h.format_version);
  store_u32(out.data() + 12, h.write_window_bytes);
  store_u64(out.data() + 16, h.log_id);
  store_u64(out.data() + 24, h.base_lsn);
  store_u64(out.data() + 32, h.segment_bytes);
  store_u64(out.data() + 40, static_cast<std::uint64_t>(h.created_time_ns));
  store_u32(out.data() + 48, h.index_interval_bytes);
  seal_trailer(out, kSegmentMagic);
}

Result<SegmentHeader> decode_segment_header(std::span<const std::byte> bytes) {
  CAIRN_TRY(check_structure(bytes, kSegmentHeaderBytes, kSegmentMagic, "segment header"));
  const std::byte* p = bytes.data();
  SegmentHeader h;
  h.format_version = load_u32(p + 8);
  h.write_window_bytes = load_u32(p + 12);
  h.log_id = load_u64(p + 16);
  h.base_lsn = load_u64(p + 24);
  h.segment_bytes = load_u64(p + 32);
  h.created_time_ns = static_cast<std::int64_t>(load_u64(p + 40));
  h.index_interval_bytes = load_u32(p + 48);
  if (const char* problem = segment_header_problem(h); problem[0] != '\0') {
    // The checksum verified, so a writer put these values there: a bug or a
    // newer writer, not bit rot. Either way we cannot use the segment.
    return Status::error(Errc::corruption, std::string("segment header: ") + problem);
  }
  CAIRN_TRY(check_reserved_zero(bytes, h, &encode_segment_header, "segment header"));
  return h;
}

const char* segment_header_problem(const SegmentHeader& h) {
  if (h.segment_bytes < kSegmentBytesMin || h.segment_bytes > kSegmentBytesMax) {
    return "segment_bytes out of range";
  }
  if (h.segment_bytes % kSegmentHeaderBlockBytes != 0) {
    return "segment_bytes not a multiple of the header block size";
  }
  if (h.write_window_bytes == 0) {
    return "write_window_bytes is zero";
  }
  if (h.index_interval_bytes == 0) {
    return "index_interval_bytes is zero";
  }
  return "";
}

void encode_recovery_point(const RecoveryPoint& r, std::span<std::byte, kRecoveryPointBytes> out) {
  std::fill(out.begin(), out.end(), std::byte{0});
  store_u64(out.data() + 0, kRecoveryPointMagic);
  store_u32(out.data() + 8, r.format_version);
  store_u64(out.data() + 16, r.log_id);
  store_u64(out.data() + 24, r.tail_base_lsn);
  store_u64(out.data() + 32, r.tail_end_position);
  store_u64(out.data() + 40, r.next_lsn);
  store_u64(out.data() + 48, r.tail_chain);
  store_u64(out.data() + 56, r.tail_record_count);
  seal_trailer(out, kRecoveryPointMagic);
}

Result<RecoveryPoint> decode_recovery_point(std::span<const std::byte> bytes) {
  CAIRN_TRY(check_structure(bytes, kRecoveryPointBytes, kRecoveryPointMagic, "recovery point"));
  const std::byte* p = bytes.data();
  RecoveryPoint r;
  r.format_version = load_u32(p + 8);
  r.log_id = load_u64(p + 16);
  r.tail_base_lsn = load_u64(p + 24);
  r.tail_end_position = load_u64(p + 32);
  r.next_lsn = load_u64(p + 40);
  r.tail_chain = load_u64(p + 48);
  r.tail_record_count = load_u64(p + 56);
  CAIRN_TRY(check_reserved_zero(bytes, r, &encode_recovery_point, "recovery point"));
  return r;
}

}  // namespace cairn::format
