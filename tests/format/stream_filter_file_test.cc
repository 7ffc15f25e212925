// The stream filter file (format/stream_filter_file.h, SPEC.md section
// 13.2): what is encoded decodes to the same filters, every saved stream
// still probes positive, and every kind of damage is refused with a named
// reason instead of being trusted (a wrongly trusted filter would hide a
// stream's head from an expected-version check).
#include "format/stream_filter_file.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/filter_file.h"
#include "format/index_file.h"

namespace cairn::format {
namespace {

// Three segments; the hashes each holds are returned in `held`.
StreamFilterFile sample(std::vector<std::vector<std::uint64_t>>* held) {
  std::mt19937_64 rng(17);
  StreamFilterFile f;
  f.log_id = 0xABCDEF;
  f.covered_end_lsn = 9000;
  for (std::uint64_t i = 0; i < 3; ++i) {
    SegmentStreamFilter s;
    s.base_lsn = i * 3000;
    s.chain = rng();
    const std::size_t streams = 50 + 100 * i;
    s.bits = bloom_for_keys(streams);
    held->emplace_back();
    for (std::size_t k = 0; k < streams; ++k) {
      const std::uint64_t h = rng();
      bloom_add(s.bits, h);
      held->back().push_back(h);
    }
    f.segments.push_back(std::move(s));
  }
  return f;
}

void restamp(std::vector<std::byte>& b) {
  store_u64(b.data() + 48,
            xxh3(std::span(b).subspan(kStreamFilterHeaderBytes), kStreamFilterMagic));
  store_u64(b.data() + 56, xxh3({b.data(), 56}, kStreamFilterMagic));
}

std::string refusal(const std::vector<std::byte>& bytes) {
  auto r = decode_stream_filters(bytes);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message().find("stream filter file") != std::string::npos);
  return r.error().message();
}

// The i-th segment entry's field at `offset` (0 base LSN, 8 chain, 16 words).
std::byte* entry(std::vector<std::byte>& b, std::size_t i, std::size_t offset) {
  return b.data() + kStreamFilterHeaderBytes + i * kStreamFilterEntryBytes + offset;
}

}  // namespace

TEST_CASE("stream filter file: round trip, and every saved stream still probes positive") {
  std::vector<std::vector<std::uint64_t>> held;
  const StreamFilterFile f = sample(&held);
  const std::vector<std::byte> bytes = encode_stream_filters(f);
  CHECK(kStreamFilterHeaderBytes == kFilterFileHeaderBytes);
  CHECK(bytes.size() ==
        kStreamFilterHeaderBytes + 3 * kStreamFilterEntryBytes +
            8 * (bloom_words_for_keys(50) + bloom_words_for_keys(150) + bloom_words_for_keys(250)));
  auto decoded = decode_stream_filters(bytes);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == f);
  for (std::size_t i = 0; i < held.size(); ++i) {
    for (std::uint64_t h : held[i]) {
      REQUIRE(bloom_may_contain(decoded->segments[i].bits, h));
    }
  }
  StreamFilterFile none;
  auto empty = decode_stream_filters(encode_stream_filters(none));
  REQUIRE(empty.has_value());
  CHECK(empty->segments.empty());
}

TEST_CASE("stream filter file: damage is refused, never trusted") {
  std::vector<std::vector<std::uint64_t>> held;
  const std::vector<std::byte> good = encode_stream_filters(sample(&held));
  SUBCASE("any flipped byte") {
    for (std::size_t at = 0; at < good.size(); at += 29) {
      std::vector<std::byte> bad = good;
      bad[at] ^= std::byte{0x04};
      CAPTURE(at);
      CHECK_FALSE(decode_stream_filters(bad).has_value());
    }
  }
  SUBCASE("cut short, or bytes after the end") {
    for (std::size_t cut :
         {std::size_t{0}, std::size_t{10}, kStreamFilterHeaderBytes, good.size() - 8}) {
      std::vector<std::byte> bad(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
      CHECK_FALSE(decode_stream_filters(bad).has_value());
    }
    std::vector<std::byte> longer = good;
    longer.resize(good.size() + 8);
    restamp(longer);
    CHECK(refusal(longer).find("size") != std::string::npos);
    // Cut by a word, or one more word in the header's count, with the
    // checksums restamped: the size check itself refuses them.
    std::vector<std::byte> shorter(good.begin(), good.end() - 8);
    restamp(shorter);
    CHECK(refusal(shorter).find("size") != std::string::npos);
    std::vector<std::byte> counted = good;
    store_u64(counted.data() + 40, load_u64(counted.data() + 40) + 1);
    restamp(counted);
    CHECK(refusal(counted).find("size") != std::string::npos);
  }
  SUBCASE("another version is named; so is another file's magic") {
    std::vector<std::byte> bad = good;
    store_u32(bad.data() + 8, kStreamFilterFormatVersion + 1);
    restamp(bad);
    auto r = decode_stream_filters(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == Errc::invalid_argument);
    CHECK(r.error().message().find("version " + std::to_string(kStreamFilterFormatVersion + 1)) !=
          std::string::npos);
    bad = good;
    store_u64(bad.data(), kStreamFilterMagic + 1);
    auto other = decode_stream_filters(bad);
    REQUIRE_FALSE(other.has_value());
    CHECK(other.error().code() == Errc::invalid_argument);
  }
  SUBCASE("segments out of order") {
    std::vector<std::byte> bad = good;
    store_u64(entry(bad, 2, 0), load_u64(entry(bad, 1, 0)));
    restamp(bad);
    CHECK(refusal(bad).find("out of order") != std::string::npos);
  }
  SUBCASE("a filter that is not whole blocks, or more words than the file holds") {
    // Moving one word between two entries keeps the total, so only the
    // per-entry shape check can refuse it.
    std::vector<std::byte> bad = good;
    store_u64(entry(bad, 0, 16), load_u64(entry(bad, 0, 16)) - 1);
    store_u64(entry(bad, 1, 16), load_u64(entry(bad, 1, 16)) + 1);
    restamp(bad);
    CHECK(refusal(bad).find("impossible filter size") != std::string::npos);
    bad = good;
    store_u64(entry(bad, 0, 16), 1u << 30);
    restamp(bad);
    CHECK(refusal(bad).find("impossible filter size") != std::string::npos);
  }
  SUBCASE("more segments than the file has room for; a reserved field set") {
    std::vector<std::byte> bad = good;
    store_u64(bad.data() + 24, 4);
    restamp(bad);
    CHECK(refusal(bad).find("size") != std::string::npos);
    bad = good;
    store_u32(bad.data() + 12, 1);
    restamp(bad);
    CHECK(refusal(bad).find("reserved") != std::string::npos);
  }
}

}  // namespace cairn::format
