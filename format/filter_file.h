// The 64-byte header shared by the saved log-wide filter files: the id
// filter (SPEC.md section 13.1) and the stream filters (section 13.2). Both
// are derived data that describe the log's first `covered_segments`
// segments; each file has its own magic and version, and checksums seeded
// with its magic, so one never verifies as the other.
#pragma once

#include <cairn/status.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cairn::format {

inline constexpr std::size_t kFilterFileHeaderBytes = 64;

// Which file: its magic, its own format version, and the name its
// refusals give it ("id filter file").
struct FilterFileKind {
  std::uint64_t magic;
  std::uint32_t version;
  const char* name;
};

// Header fields (little-endian): magic @0, version @8, count @12 (the
// file's own table length), log_id @16, covered_segments @24,
// covered_end_lsn @32, words @40, body checksum @48 (XXH3-64 of every byte
// after the header, seed = magic), header checksum @56 (of bytes [0, 56)).
struct FilterFileHeader {
  std::uint32_t count = 0;
  std::uint64_t log_id = 0;
  std::uint64_t covered_segments = 0;
  std::uint64_t covered_end_lsn = 0;
  std::uint64_t words = 0;
};

// Writes the header into the first 64 bytes of `file`, whose body must be
// complete: the checksums cover it.
void seal_filter_file(const FilterFileKind& kind, const FilterFileHeader& header,
                      std::span<std::byte> file);
// Checks, in this order: length, magic (invalid_argument: not such a file),
// header checksum, version (invalid_argument, naming both), body checksum.
// The caller checks the sizes its body's tables imply.
Result<FilterFileHeader> open_filter_file(const FilterFileKind& kind,
                                          std::span<const std::byte> file);
// Filter words, little-endian: store returns the byte after the last;
// load fills `out` with `n` words (the caller has bounded n) and returns
// the byte after them.
std::byte* store_words(std::byte* p, std::span<const std::uint64_t> words);
const std::byte* load_words(const std::byte* p, std::uint64_t n, std::vector<std::uint64_t>& out);
// A corruption error that names the file kind.
Status filter_file_damaged(const FilterFileKind& kind, const std::string& why);

}  // namespace cairn::format
