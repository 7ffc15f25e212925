// libFuzzer target: arbitrary bytes through format::decode_id_filter, the
// decoder of the saved log-wide id filter (SPEC.md section 13.1).
//
// Invariants checked (a violation aborts through FUZZ_CHECK):
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
#include <vector>

#include "format/id_filter_file.h"
#include "format/index_file.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1),
                               reinterpret_cast<const std::byte*>(data + size));
  if ((data[0] & 1) != 0) {
    cairn::fuzz::stamp_filter_file(bytes, cairn::format::kIdFilterMagic);
  }
  cairn::fuzz::check_decoded(
      cairn::format::decode_id_filter(bytes), bytes, cairn::format::encode_id_filter,
      [](const cairn::format::IdFilterFile& f) {
        for (const auto& level : f.levels) {
          FUZZ_CHECK(level.keys <= level.capacity);
          FUZZ_CHECK(level.bits.size() == cairn::format::bloom_words_for_keys(level.capacity));
        }
      });
  return 0;
}
