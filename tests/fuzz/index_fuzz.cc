// libFuzzer target: arbitrary bytes through format::decode_index, the
// decoder of segment index files (SPEC.md section 13).
//
// Invariants checked (a violation aborts):
//  1. Decoding never crashes and never reads outside the bytes given
//     (AddressSanitizer), whatever their length or section counts.
//  2. A successful decode re-encodes to exactly the bytes it was decoded
//     from, and its tables are in the order lookups rely on.
//  3. A failed decode is corruption or invalid_argument, with a message.
//  4. With the first input byte odd, the input is first turned into a valid
//     index (its checksums stamped over the rest), so the fuzzer also
//     reaches the checks behind the checksums: sizes, order, version.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/index_file.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using cairn::format::kIndexHeaderBytes;
using cairn::format::kIndexMagic;
using cairn::format::kIndexTableBytes;

// Stamps magic, body checksum and both header checksums, as a writer would.
void stamp(std::vector<std::byte>& b) {
  if (b.size() < kIndexHeaderBytes + kIndexTableBytes) {
    return;
  }
  std::byte* h = b.data();
  std::byte* t = h + kIndexHeaderBytes;
  cairn::format::store_u64(h, kIndexMagic);
  const auto body = std::span(b).subspan(kIndexHeaderBytes + kIndexTableBytes);
  cairn::format::store_u64(t + 32, cairn::format::xxh3(body, kIndexMagic));
  cairn::format::store_u64(t + 56, cairn::format::xxh3({t, 56}, kIndexMagic));
  cairn::format::store_u64(h + 56, cairn::format::xxh3({h, 56}, kIndexMagic));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const bool stamped = (data[0] & 1) != 0;
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1),
                               reinterpret_cast<const std::byte*>(data + size));
  if (stamped) {
    stamp(bytes);
  }
  cairn::fuzz::check_decoded(
      cairn::format::decode_index(bytes), bytes, cairn::format::encode_index,
      [](const cairn::format::IndexFile& f) {
        for (std::size_t i = 1; i < f.sparse.size(); ++i) {
          FUZZ_CHECK(f.sparse[i - 1].relative_lsn < f.sparse[i].relative_lsn);
        }
      });
  return 0;
}
