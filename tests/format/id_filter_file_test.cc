// The id filter file (format/id_filter_file.h, SPEC.md section 13.1): what
// is encoded decodes to the same filter, probes still answer the same, and
// every kind of damage is refused with a named reason instead of being
// trusted (a wrongly trusted filter would let a retried append be written
// twice).
#include "format/id_filter_file.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/index_file.h"

namespace cairn::format {
namespace {

IdFilterFile sample(std::vector<std::uint64_t>* hashes) {
  std::mt19937_64 rng(11);
  IdFilterFile f;
  f.log_id = 0xABCDEF;
  f.covered_segments = 7;
  f.covered_end_lsn = 123456;
  for (std::uint64_t capacity : {100u, 400u}) {
    IdFilterLevel level;
    level.capacity = capacity;
    level.bits = bloom_for_keys(capacity);
    for (std::uint64_t i = 0; i < capacity - 3; ++i) {
      const std::uint64_t h = rng();
      bloom_add(level.bits, h);
      hashes->push_back(h);
      ++level.keys;
    }
    f.levels.push_back(std::move(level));
  }
  return f;
}

// Restamps the checksums after an edit, so the decoder's later checks run.
void restamp(std::vector<std::byte>& b) {
  store_u64(b.data() + 48, xxh3(std::span(b).subspan(kIdFilterHeaderBytes), kIdFilterMagic));
  store_u64(b.data() + 56, xxh3({b.data(), 56}, kIdFilterMagic));
}

std::string refusal(const std::vector<std::byte>& bytes) {
  auto r = decode_id_filter(bytes);
  REQUIRE_FALSE(r.has_value());
  return r.error().message();
}

}  // namespace

TEST_CASE("id filter file: round trip, and every saved hash still probes positive") {
  std::vector<std::uint64_t> hashes;
  const IdFilterFile f = sample(&hashes);
  const std::vector<std::byte> bytes = encode_id_filter(f);
  CHECK(bytes.size() == kIdFilterHeaderBytes + 2 * kIdFilterLevelBytes +
                            8 * (bloom_words_for_keys(100) + bloom_words_for_keys(400)));
  auto decoded = decode_id_filter(bytes);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == f);
  for (std::uint64_t h : hashes) {
    bool found = false;
    for (const auto& level : decoded->levels) {
      found = found || bloom_may_contain(level.bits, h);
    }
    REQUIRE(found);
  }
  IdFilterFile empty;
  auto none = decode_id_filter(encode_id_filter(empty));
  REQUIRE(none.has_value());
  CHECK(none->levels.empty());
}

TEST_CASE("id filter file: damage is refused, never trusted") {
  std::vector<std::uint64_t> hashes;
  const std::vector<std::byte> good = encode_id_filter(sample(&hashes));
  SUBCASE("any flipped byte") {
    for (std::size_t at = 0; at < good.size(); at += 37) {
      std::vector<std::byte> bad = good;
      bad[at] ^= std::byte{0x10};
      CAPTURE(at);
      CHECK_FALSE(decode_id_filter(bad).has_value());
    }
  }
  SUBCASE("cut short, or bytes after the end") {
    for (std::size_t cut :
         {std::size_t{0}, std::size_t{10}, kIdFilterHeaderBytes, good.size() - 8}) {
      std::vector<std::byte> bad(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
      CHECK_FALSE(decode_id_filter(bad).has_value());
    }
    std::vector<std::byte> longer = good;
    longer.resize(good.size() + 8);
    restamp(longer);
    CHECK(refusal(longer).find("size") != std::string::npos);
  }
  SUBCASE("another version is named") {
    std::vector<std::byte> bad = good;
    store_u32(bad.data() + 8, kIdFilterFormatVersion + 1);
    restamp(bad);
    auto r = decode_id_filter(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == Errc::invalid_argument);
    CHECK(r.error().message().find("version " + std::to_string(kIdFilterFormatVersion + 1)) !=
          std::string::npos);
  }
  SUBCASE("a level whose shape its probes cannot rely on") {
    // More keys than capacity; a capacity that does not give its word count.
    std::vector<std::byte> bad = good;
    const std::size_t level0 = kIdFilterHeaderBytes;
    store_u64(bad.data() + level0 + 8, load_u64(bad.data() + level0) + 1);
    restamp(bad);
    CHECK(refusal(bad).find("impossible shape") != std::string::npos);
    bad = good;
    store_u64(bad.data() + level0, 100000);
    restamp(bad);
    CHECK(refusal(bad).find("impossible shape") != std::string::npos);
  }
  SUBCASE("too many levels for its size") {
    std::vector<std::byte> bad = good;
    store_u32(bad.data() + 12, 3);
    restamp(bad);
    CHECK(refusal(bad).find("size") != std::string::npos);
  }
}

}  // namespace cairn::format
