// libFuzzer target: arbitrary bytes through the fixed-size decoders
// format::decode_meta, decode_segment_header and decode_recovery_point.
//
// Invariants checked (a violation aborts through FUZZ_CHECK):
//  1. Decoding never crashes and never reads outside the bytes given
//     (AddressSanitizer), whatever their length.
//  2. A successful decode had at least the structure's size, carries the
//     format version of this build, and re-encodes to exactly the bytes it
//     was decoded from (nothing the decoder accepts is dropped); a decoded
//     segment header has no segment_header_problem.
//  3. A failed decode is corruption or invalid_argument with a message;
//     input shorter than the structure is corruption, and invalid_argument
//     is only ever a wrong magic or another format version.
//  4. With the magic and trailer checksum stamped (control bit kCodecStamp,
//     so the fuzzer reaches the checks behind the checksum), the outcome is
//     exactly what SPEC.md sections 3, 4 and 8 say: another version is
//     invalid_argument naming both versions; then a non-zero reserved byte
//     or (segment header) an impossible size is corruption; else success.
//  5. A structure stamped as one kind never decodes as another.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/codec.h"
#include "format/layout.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace cairn::fuzz {
namespace {

using Range = std::pair<std::size_t, std::size_t>;  // [first, second)

// The three structures, each with what the SPEC tables say about it.
struct Kind {
  std::size_t size;
  std::uint64_t magic;
  std::vector<Range> reserved;
};

const Kind kMeta{format::kMetaBytes, format::kMetaMagic, {{12, 16}, {32, 56}}};
const Kind kHeader{format::kSegmentHeaderBytes, format::kSegmentMagic, {{52, 56}}};
const Kind kPoint{format::kRecoveryPointBytes, format::kRecoveryPointMagic, {{12, 16}, {64, 72}}};

template <class T, std::size_t N>
std::vector<std::byte> encoded(const T& value, void (*encode)(const T&, std::span<std::byte, N>)) {
  std::array<std::byte, N> out;
  encode(value, out);
  return {out.begin(), out.end()};
}

// Invariants 2 and 3 for one decoder; returns whether it decoded.
template <class T, std::size_t N>
bool check_decoder(std::span<const std::byte> bytes, const Kind& kind,
                   Result<T> (*decode)(std::span<const std::byte>),
                   void (*encode)(const T&, std::span<std::byte, N>)) {
  Result<T> r = decode(bytes);
  if (r.has_value()) {
    FUZZ_CHECK(bytes.size() >= N);
    FUZZ_CHECK(r->format_version == format::kFormatVersion);
    const std::vector<std::byte> again = encoded(*r, encode);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), bytes.begin()));
    return true;
  }
  const Status& s = r.error();
  FUZZ_CHECK(s.code() == Errc::corruption || s.code() == Errc::invalid_argument);
  FUZZ_CHECK(!s.message().empty());
  if (bytes.size() < N) {
    FUZZ_CHECK(s.code() == Errc::corruption);
  }
  if (s.code() == Errc::invalid_argument) {
    const bool wrong_magic = format::load_u64(bytes.data()) != kind.magic;
    const bool other_version = format::load_u32(bytes.data() + 8) != format::kFormatVersion;
    FUZZ_CHECK(wrong_magic || other_version);
  }
  return false;
}

bool decodes(std::span<const std::byte> bytes, int which) {
  switch (which) {
    case 0:
      return check_decoder(bytes, kMeta, &format::decode_meta, &format::encode_meta);
    case 1: {
      const bool ok = check_decoder(bytes, kHeader, &format::decode_segment_header,
                                    &format::encode_segment_header);
      if (ok) {
        FUZZ_CHECK(format::segment_header_problem(*format::decode_segment_header(bytes))[0] ==
                   '\0');
      }
      return ok;
    }
    default:
      return check_decoder(bytes, kPoint, &format::decode_recovery_point,
                           &format::encode_recovery_point);
  }
}

const Kind& kind_of(int which) { return which == 0 ? kMeta : which == 1 ? kHeader : kPoint; }

// Invariant 4: what SPEC.md says a stamped structure decodes to.
void check_stamped(std::vector<std::byte> bytes, int which) {
  const Kind& kind = kind_of(which);
  bytes.resize(kind.size, std::byte{0});
  format::store_u64(bytes.data(), kind.magic);
  const std::span<const std::byte> body = std::span<const std::byte>(bytes).first(kind.size - 8);
  format::store_u64(bytes.data() + kind.size - 8, format::xxh3(body, kind.magic));

  const std::uint32_t version = format::load_u32(bytes.data() + 8);
  bool reserved_zero = true;
  for (const Range& range : kind.reserved) {
    for (std::size_t i = range.first; i < range.second; ++i) {
      reserved_zero = reserved_zero && bytes[i] == std::byte{0};
    }
  }
  Status status;
  const char* problem = "";
  switch (which) {
    case 0:
      status = format::decode_meta(bytes).status();
      break;
    case 1: {
      format::SegmentHeader h;
      h.write_window_bytes = format::load_u32(bytes.data() + 12);
      h.segment_bytes = format::load_u64(bytes.data() + 32);
      h.index_interval_bytes = format::load_u32(bytes.data() + 48);
      problem = format::segment_header_problem(h);
      status = format::decode_segment_header(bytes).status();
      break;
    }
    default:
      status = format::decode_recovery_point(bytes).status();
      break;
  }
  if (version != format::kFormatVersion) {
    FUZZ_CHECK(status.code() == Errc::invalid_argument);
    FUZZ_CHECK(status.message().find("version " + std::to_string(version)) != std::string::npos);
    FUZZ_CHECK(status.message().find("version " + std::to_string(format::kFormatVersion)) !=
               std::string::npos);
  } else if (problem[0] != '\0' || !reserved_zero) {
    FUZZ_CHECK(status.code() == Errc::corruption);
  } else {
    FUZZ_CHECK(status.ok());
  }
  // Invariant 5, and 2 for the stamped bytes.
  for (int other = 0; other < 3; ++other) {
    const bool ok = decodes(bytes, other);
    if (other != which) {
      FUZZ_CHECK(!ok);
    }
  }
}

}  // namespace
}  // namespace cairn::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cairn::fuzz;
  if (size < 1) {
    return 0;
  }
  const std::uint8_t control = data[0];
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  const int selector = control & 0x03;
  for (int which = 0; which < 3; ++which) {
    if (selector != 3 && selector != which) {
      continue;
    }
    decodes(bytes, which);
    if ((control & kCodecStamp) != 0) {
      check_stamped({bytes.begin(), bytes.end()}, which);
    }
  }
  return 0;
}
