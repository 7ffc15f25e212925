// Index files (format/index_file.h): the lookups a stream read makes in
// every sealed segment (the blocked bloom filter and the stream directory)
// and the decoder's refusals that the format version 2 added.
#include "format/index_file.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"

namespace cairn::format {
namespace {

// A stream table as finish_index() leaves it, for hashes drawn by `draw`,
// each stream with 1..3 records.
template <class Draw>
IndexFile index_of(std::size_t streams, Draw draw, std::mt19937_64& rng) {
  IndexFile f;
  f.end_lsn = 0;
  for (std::size_t s = 0; s < streams; ++s) {
    const std::uint64_t hash = draw();
    for (std::uint64_t v = 0, n = 1 + rng() % 3; v < n; ++v) {
      f.streams.push_back(StreamEntry{hash, v, static_cast<std::uint32_t>(f.end_lsn), 1, 0});
      f.end_lsn += 1;
    }
  }
  finish_index(f);
  return f;
}

// What StreamDirectory::find must return: std::equal_range by hash.
std::vector<StreamEntry> expected_entries(const IndexFile& f, std::uint64_t hash) {
  auto [lo, hi] = std::equal_range(
      f.streams.begin(), f.streams.end(), StreamEntry{hash, 0, 0, 0, 0},
      [](const StreamEntry& a, const StreamEntry& b) { return a.stream_hash < b.stream_hash; });
  return {lo, hi};
}

void check_lookups(const IndexFile& f, std::mt19937_64& rng) {
  const StreamDirectory directory(f.streams);
  std::vector<std::uint64_t> probes = {0, 1, ~0ull, ~0ull - 1};
  for (int i = 0; i < 200 && !f.streams.empty(); ++i) {
    const std::uint64_t present = f.streams[rng() % f.streams.size()].stream_hash;
    probes.push_back(present);
    probes.push_back(present + 1);
    probes.push_back(present - 1);
    probes.push_back(rng());
  }
  for (std::uint64_t hash : probes) {
    CAPTURE(hash);
    const auto found = directory.find(f.streams, hash);
    const std::vector<StreamEntry> got(found.begin(), found.end());
    REQUIRE(got == expected_entries(f, hash));
    if (!got.empty()) {
      REQUIRE(bloom_may_contain(f.bloom, hash));  // no false negatives
    }
  }
}

TEST_CASE(
    "the stream directory agrees with a binary search on uniform, clustered and edge hashes") {
  std::mt19937_64 rng(7);
  for (std::size_t n : {0, 1, 2, 17, 1000, 50'000}) {
    CAPTURE(n);
    check_lookups(index_of(
                      n, [&] { return rng(); }, rng),
                  rng);
    // Far from uniform: small integers, and a cluster near the top.
    check_lookups(index_of(
                      n, [&] { return rng() % 64; }, rng),
                  rng);
    check_lookups(index_of(
                      n, [&] { return ~0ull - rng() % 1000; }, rng),
                  rng);
    // One hash only (a stream with many records; or colliding names).
    check_lookups(index_of(
                      n, [] { return 0x8000'0000'0000'0000ull; }, rng),
                  rng);
  }
}

TEST_CASE("the blocked bloom filter has no false negatives and about 1% false positives") {
  std::mt19937_64 rng(11);
  const IndexFile f = index_of(
      100'000, [&] { return xxh3(std::as_bytes(std::span("s", 1)), rng()); }, rng);
  CHECK(f.bloom.size() % kBloomBlockWords == 0);
  for (const StreamEntry& e : f.streams) {
    REQUIRE(bloom_may_contain(f.bloom, e.stream_hash));
  }
  std::size_t false_positives = 0;
  const std::size_t absent = 100'000;
  for (std::size_t i = 0; i < absent; ++i) {
    const std::uint64_t hash = rng();
    false_positives += bloom_may_contain(f.bloom, hash) && expected_entries(f, hash).empty();
  }
  MESSAGE("false positives: " << false_positives << " of " << absent);
  CHECK(false_positives < absent * 25 / 1000);  // 2.5%: 10 bits per key in 512-bit blocks
}

// Re-seals the header checksum after an edit of its bytes [0, 56).
void reseal_header(std::vector<std::byte>& bytes) {
  store_u64(bytes.data() + 56, xxh3(std::span(bytes).first(56), kIndexMagic));
}

TEST_CASE("the index decoder refuses version 1 files and bloom filters of partial blocks") {
  std::mt19937_64 rng(3);
  IndexFile f = index_of(
      100, [&] { return rng(); }, rng);
  std::vector<std::byte> bytes = encode_index(f);
  REQUIRE(decode_index(bytes).has_value());

  std::vector<std::byte> old = bytes;
  store_u32(old.data() + 8, 1);
  reseal_header(old);
  auto refused = decode_index(old);
  REQUIRE(!refused.has_value());
  CHECK(refused.error().message().find("format version 1") != std::string::npos);

  f.bloom.resize(f.bloom.size() - 3);  // an unblocked (version 1 style) size
  auto partial = decode_index(encode_index(f));
  REQUIRE(!partial.has_value());
  CHECK(partial.error().message().find("whole number of blocks") != std::string::npos);
}

}  // namespace
}  // namespace cairn::format
