#include "format/filter_file.h"

#include <cairn/assert.h>

#include "format/byte_order.h"
#include "format/checksum.h"

namespace cairn::format {

Status filter_file_damaged(const FilterFileKind& kind, const std::string& why) {
  return Status::error(Errc::corruption, std::string(kind.name) + ": " + why);
}

std::byte* store_words(std::byte* p, std::span<const std::uint64_t> words) {
  for (std::uint64_t w : words) {
    store_u64(p, w);
    p += 8;
  }
  return p;
}

const std::byte* load_words(const std::byte* p, std::uint64_t n, std::vector<std::uint64_t>& out) {
  out.resize(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    out[i] = load_u64(p + i * 8);
  }
  return p + n * 8;
}

void seal_filter_file(const FilterFileKind& kind, const FilterFileHeader& header,
                      std::span<std::byte> file) {
  CAIRN_ASSERT(file.size() >= kFilterFileHeaderBytes);
  std::byte* h = file.data();
  store_u64(h, kind.magic);
  store_u32(h + 8, kind.version);
  store_u32(h + 12, header.count);
  store_u64(h + 16, header.log_id);
  store_u64(h + 24, header.covered_segments);
  store_u64(h + 32, header.covered_end_lsn);
  store_u64(h + 40, header.words);
  store_u64(h + 48, xxh3(file.subspan(kFilterFileHeaderBytes), kind.magic));
  store_u64(h + 56, xxh3({h, 56}, kind.magic));
}

Result<FilterFileHeader> open_filter_file(const FilterFileKind& kind,
                                          std::span<const std::byte> file) {
  if (file.size() < kFilterFileHeaderBytes) {
    return filter_file_damaged(kind, "shorter than its header");
  }
  const std::byte* h = file.data();
  if (load_u64(h) != kind.magic) {
    return Status::error(Errc::invalid_argument,
                         std::string(kind.name) + ": wrong magic (not such a file)");
  }
  if (load_u64(h + 56) != xxh3({h, 56}, kind.magic)) {
    return filter_file_damaged(kind, "header checksum mismatch");
  }
  if (load_u32(h + 8) != kind.version) {
    return Status::error(Errc::invalid_argument, std::string(kind.name) + " has format version " +
                                                     std::to_string(load_u32(h + 8)) +
                                                     "; this build reads version " +
                                                     std::to_string(kind.version));
  }
  if (load_u64(h + 48) != xxh3(file.subspan(kFilterFileHeaderBytes), kind.magic)) {
    return filter_file_damaged(kind, "body checksum mismatch");
  }
  FilterFileHeader header;
  header.count = load_u32(h + 12);
  header.log_id = load_u64(h + 16);
  header.covered_segments = load_u64(h + 24);
  header.covered_end_lsn = load_u64(h + 32);
  header.words = load_u64(h + 40);
  return header;
}

}  // namespace cairn::format
