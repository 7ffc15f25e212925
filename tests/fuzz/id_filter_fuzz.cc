// libFuzzer target: arbitrary bytes through format::decode_id_filter, the
// decoder of the saved log-wide id filter (SPEC.md section 13.1).
//
// Invariants checked (a violation aborts):
//  1. Decoding never crashes, never reads outside the bytes given
//     (AddressSanitizer) and never sizes a level from an unchecked count.
//  2. A successful decode re-encodes to exactly the bytes it was decoded
//     from, and every level has the shape its probes rely on.
//  3. A failed decode is corruption or invalid_argument, with a message.
//  4. With the first input byte odd, the input is first given a valid
//     magic and checksums, so the fuzzer also reaches the checks behind
//     them: version, sizes, level shapes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/id_filter_file.h"
#include "format/index_file.h"

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "id_filter_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

using cairn::format::kIdFilterHeaderBytes;
using cairn::format::kIdFilterMagic;

// Stamps magic, body checksum and header checksum, as a writer would.
void stamp(std::vector<std::byte>& b) {
  if (b.size() < kIdFilterHeaderBytes) {
    return;
  }
  std::byte* h = b.data();
  cairn::format::store_u64(h, kIdFilterMagic);
  const auto body = std::span(b).subspan(kIdFilterHeaderBytes);
  cairn::format::store_u64(h + 48, cairn::format::xxh3(body, kIdFilterMagic));
  cairn::format::store_u64(h + 56, cairn::format::xxh3({h, 56}, kIdFilterMagic));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1),
                               reinterpret_cast<const std::byte*>(data + size));
  if ((data[0] & 1) != 0) {
    stamp(bytes);
  }
  auto decoded = cairn::format::decode_id_filter(bytes);
  if (decoded.has_value()) {
    require(cairn::format::encode_id_filter(*decoded) == bytes, "re-encode differs from input");
    for (const auto& level : decoded->levels) {
      require(level.keys <= level.capacity, "more keys than capacity");
      require(level.bits.size() == cairn::format::bloom_words_for_keys(level.capacity),
              "level size differs from its capacity's");
    }
  } else {
    const auto code = decoded.error().code();
    require(code == cairn::Errc::corruption || code == cairn::Errc::invalid_argument,
            "unexpected error code");
    require(!decoded.error().message().empty(), "error without a message");
  }
  return 0;
}
