// libFuzzer target: arbitrary bytes through format::decode_stream_filters,
// the decoder of the saved per-segment stream filters (SPEC.md 13.2).
//
// Invariants checked (a violation aborts through FUZZ_CHECK):
//  1. Decoding never crashes, never reads outside the bytes given
//     (AddressSanitizer) and never sizes a table from an unchecked count.
//  2. A successful decode re-encodes to exactly the bytes it was decoded
//     from; its segments are in increasing base LSN order and every filter
//     is whole blocks (what the probes rely on).
//  3. A failed decode is corruption or invalid_argument, with a message.
//  4. With the first input byte odd, the input is first given a valid
//     magic and checksums, so the fuzzer also reaches the checks behind
//     them: version, sizes, order, filter shapes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "format/index_file.h"
#include "format/stream_filter_file.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1),
                               reinterpret_cast<const std::byte*>(data + size));
  if ((data[0] & 1) != 0) {
    cairn::fuzz::stamp_filter_file(bytes, cairn::format::kStreamFilterMagic);
  }
  cairn::fuzz::check_decoded(
      cairn::format::decode_stream_filters(bytes), bytes, cairn::format::encode_stream_filters,
      [](const cairn::format::StreamFilterFile& f) {
        const auto& segments = f.segments;
        for (std::size_t i = 0; i < segments.size(); ++i) {
          FUZZ_CHECK(i == 0 || segments[i - 1].base_lsn < segments[i].base_lsn);
          FUZZ_CHECK(segments[i].bits.size() % cairn::format::kBloomBlockWords == 0);
        }
      });
  return 0;
}
