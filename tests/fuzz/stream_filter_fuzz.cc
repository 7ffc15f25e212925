// libFuzzer target: arbitrary bytes through format::decode_stream_filters,
// the decoder of the saved per-segment stream filters (SPEC.md 13.2).
//
// Invariants checked (a violation aborts through FUZZ_CHECK):
//  1. Decoding never crashes, never reads outside the bytes given
//     (AddressSanitizer) and never sizes a filter from an unchecked count.
//  2. A successful decode re-encodes to exactly the bytes of the header and
//     the frames it kept; it says why it stopped if and only if bytes
//     follow them; its frames each start where the one before ended, and
//     every filter is whole blocks (what the probes rely on).
//  3. A failed decode (a bad header) is corruption or invalid_argument,
//     with a message.
//  4. With the first input byte odd, the input is first given a valid
//     magic, header checksum and frame checksums, as a writer would, so the
//     fuzzer also reaches the checks behind them: version, reserved bytes,
//     frame order, filter shapes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "format/index_file.h"
#include "format/stream_filter_file.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace cairn::format;

void stamp(std::vector<std::byte>& b) {
  if (b.size() < kStreamFilterHeaderBytes) {
    return;
  }
  store_u64(b.data(), kStreamFilterMagic);
  store_u64(b.data() + 56, xxh3({b.data(), 56}, kStreamFilterMagic));
  const std::uint64_t seed = kStreamFilterMagic ^ load_u64(b.data() + 16);
  std::size_t at = kStreamFilterHeaderBytes;
  while (b.size() - at >= stream_filter_frame_bytes(0)) {
    const std::uint64_t words = load_u64(b.data() + at + 24);
    if (words > (b.size() - at - stream_filter_frame_bytes(0)) / 8) {
      return;
    }
    const std::size_t checked = kStreamFilterFrameHeaderBytes + words * 8;
    store_u64(b.data() + at + checked, xxh3({b.data() + at, checked}, seed));
    at += stream_filter_frame_bytes(words);
  }
}

void check_shape(const StreamFilterFile& f, const std::vector<std::byte>& bytes) {
  FUZZ_CHECK(f.frame_ends.size() == f.segments.size());
  const std::size_t end = f.frame_ends.empty() ? kStreamFilterHeaderBytes : f.frame_ends.back();
  FUZZ_CHECK(end <= bytes.size());
  FUZZ_CHECK(f.stopped.empty() == (end == bytes.size()));
  FUZZ_CHECK(encode_stream_filters(f) ==
             std::vector<std::byte>(bytes.begin(), bytes.begin() + end));
  for (std::size_t i = 0; i < f.segments.size(); ++i) {
    FUZZ_CHECK(i == 0 || f.segments[i - 1].end_lsn == f.segments[i].base_lsn);
    FUZZ_CHECK(f.segments[i].base_lsn <= f.segments[i].end_lsn);
    FUZZ_CHECK(f.segments[i].bits.size() % kBloomBlockWords == 0);
  }
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
  auto decoded = decode_stream_filters(bytes);
  if (decoded.has_value()) {
    check_shape(*decoded, bytes);
  } else {
    cairn::fuzz::check_refusal(decoded.error());
  }
  return 0;
}
