// What every libFuzzer target here uses to report a broken invariant (an
// abort, which libFuzzer turns into a saved crashing input) and to check the
// refusals its decoder gives.
#pragma once

#include <cairn/status.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/filter_file.h"

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace cairn::fuzz {

// A decoder's refusal: corruption or invalid_argument, with a message.
inline void check_refusal(const Status& status) {
  FUZZ_CHECK(status.code() == Errc::corruption || status.code() == Errc::invalid_argument);
  FUZZ_CHECK(!status.message().empty());
}

// A file decoder's verdict on `bytes`: a decoded value must re-encode to
// exactly those bytes and pass `shape` (the invariants its users rely on);
// a failure must be a refusal.
template <class T, class Encode, class Shape>
void check_decoded(const Result<T>& decoded, const std::vector<std::byte>& bytes, Encode encode,
                   Shape shape) {
  if (decoded.has_value()) {
    FUZZ_CHECK(encode(*decoded) == bytes);  // re-encodes exactly
    shape(*decoded);
  } else {
    check_refusal(decoded.error());
  }
}

// Stamps a saved filter file's magic and both checksums (format/
// filter_file.h) over whatever the rest holds, as a writer would, so that
// the fuzzer reaches the checks behind them.
inline void stamp_filter_file(std::vector<std::byte>& b, std::uint64_t magic) {
  if (b.size() < format::kFilterFileHeaderBytes) {
    return;
  }
  std::byte* h = b.data();
  format::store_u64(h, magic);
  const auto body = std::span(b).subspan(format::kFilterFileHeaderBytes);
  format::store_u64(h + 48, format::xxh3(body, magic));
  format::store_u64(h + 56, format::xxh3({h, 56}, magic));
}

}  // namespace cairn::fuzz
