// The stream filter file (format/stream_filter_file.h, SPEC.md section
// 13.2): what is encoded decodes to the same filters, every saved stream
// still probes positive, frames appended later read as one file, and damage
// is never trusted: a bad header refuses the file with a named reason, a
// bad frame ends the frames there (a wrongly trusted filter would hide a
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

constexpr std::uint64_t kLogId = 0xABCDEF;

// Three segments of 3000 LSNs; the hashes each holds are returned in `held`.
StreamFilterFile sample(std::vector<std::vector<std::uint64_t>>* held) {
  std::mt19937_64 rng(17);
  StreamFilterFile f;
  f.log_id = kLogId;
  std::uint64_t end = 0;
  for (std::uint64_t i = 0; i < 3; ++i) {
    SegmentStreamFilter s;
    s.base_lsn = i * 3000;
    s.end_lsn = s.base_lsn + 3000;
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
    end = kStreamFilterHeaderBytes;
    for (const auto& seg : f.segments) {
      end += stream_filter_frame_bytes(seg.bits.size());
    }
    f.frame_ends.push_back(end);
  }
  return f;
}

// The byte where frame i starts.
std::size_t frame_at(const StreamFilterFile& f, std::size_t i) {
  return i == 0 ? kStreamFilterHeaderBytes : f.frame_ends[i - 1];
}

// Recomputes frame i's checksum over whatever it now holds (as a writer
// would), so that the checks behind the checksum are reached.
void restamp_frame(std::vector<std::byte>& b, std::size_t at) {
  const std::size_t words = load_u64(b.data() + at + 24);
  const std::size_t checked = kStreamFilterFrameHeaderBytes + words * 8;
  store_u64(b.data() + at + checked, xxh3({b.data() + at, checked}, kStreamFilterMagic ^ kLogId));
}

void restamp_header(std::vector<std::byte>& b) {
  store_u64(b.data() + 56, xxh3({b.data(), 56}, kStreamFilterMagic));
}

std::string refusal(const std::vector<std::byte>& bytes) {
  auto r = decode_stream_filters(bytes);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message().find("stream filter file") != std::string::npos);
  return r.error().message();
}

// Decodes, and returns how many frames were kept and why it stopped.
std::pair<std::size_t, std::string> kept(const std::vector<std::byte>& bytes) {
  auto r = decode_stream_filters(bytes);
  REQUIRE_MESSAGE(r.has_value(), r.error().to_string());
  return {r->segments.size(), r->stopped};
}

}  // namespace

TEST_CASE("stream filter file: round trip, and every saved stream still probes positive") {
  std::vector<std::vector<std::uint64_t>> held;
  const StreamFilterFile f = sample(&held);
  const std::vector<std::byte> bytes = encode_stream_filters(f);
  CHECK(kStreamFilterHeaderBytes == kFilterFileHeaderBytes);
  CHECK(bytes.size() ==
        kStreamFilterHeaderBytes + 3 * stream_filter_frame_bytes(0) +
            8 * (bloom_words_for_keys(50) + bloom_words_for_keys(150) + bloom_words_for_keys(250)));
  CHECK(bytes.size() == f.frame_ends.back());
  auto decoded = decode_stream_filters(bytes);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == f);
  for (std::size_t i = 0; i < held.size(); ++i) {
    for (std::uint64_t h : held[i]) {
      REQUIRE(bloom_may_contain(decoded->segments[i].bits, h));
    }
  }
  StreamFilterFile none;
  none.log_id = kLogId;
  auto empty = decode_stream_filters(encode_stream_filters(none));
  REQUIRE(empty.has_value());
  CHECK(empty->segments.empty());
  CHECK(empty->stopped.empty());
}

TEST_CASE("stream filter file: frames appended later read as one file") {
  std::vector<std::vector<std::uint64_t>> held;
  const StreamFilterFile f = sample(&held);
  std::vector<std::byte> bytes = encode_stream_filter_header(kLogId);
  for (const SegmentStreamFilter& s : f.segments) {
    const StreamFilterFrame frame{s.base_lsn, s.end_lsn, s.chain, s.bits};
    append_stream_filter_frames(kLogId, {&frame, 1}, bytes);
  }
  CHECK(bytes == encode_stream_filters(f));
}

TEST_CASE("stream filter file: a bad header refuses the file, naming why") {
  std::vector<std::vector<std::uint64_t>> held;
  const std::vector<std::byte> good = encode_stream_filters(sample(&held));
  SUBCASE("any flipped header byte, or a header cut short") {
    for (std::size_t at = 0; at < kStreamFilterHeaderBytes; ++at) {
      std::vector<std::byte> bad = good;
      bad[at] ^= std::byte{0x04};
      CAPTURE(at);
      CHECK_FALSE(decode_stream_filters(bad).has_value());
    }
    for (std::size_t cut : {std::size_t{0}, std::size_t{10}, kStreamFilterHeaderBytes - 1}) {
      std::vector<std::byte> bad(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
      CHECK(refusal(bad).find("shorter than its header") != std::string::npos);
    }
  }
  SUBCASE("another version is named; so is another file's magic") {
    std::vector<std::byte> bad = good;
    store_u32(bad.data() + 8, kStreamFilterFormatVersion + 1);
    restamp_header(bad);
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
  SUBCASE("a reserved header byte set") {
    for (std::size_t at : {std::size_t{12}, std::size_t{24}, std::size_t{55}}) {
      std::vector<std::byte> bad = good;
      bad[at] = std::byte{1};
      restamp_header(bad);
      CHECK(refusal(bad).find("reserved") != std::string::npos);
    }
  }
}

TEST_CASE("stream filter file: a bad frame ends the frames there, the ones before still count") {
  std::vector<std::vector<std::uint64_t>> held;
  const StreamFilterFile f = sample(&held);
  const std::vector<std::byte> good = encode_stream_filters(f);
  SUBCASE("any flipped frame byte keeps exactly the frames before it") {
    for (std::size_t at = kStreamFilterHeaderBytes; at < good.size(); at += 7) {
      std::vector<std::byte> bad = good;
      bad[at] ^= std::byte{0x04};
      std::size_t frame = 0;
      while (f.frame_ends[frame] <= at) {
        ++frame;
      }
      CAPTURE(at);
      const auto [n, why] = kept(bad);
      CHECK(n == frame);
      CHECK(why.find("frame " + std::to_string(frame)) != std::string::npos);
    }
  }
  SUBCASE("a save torn anywhere keeps the whole frames before the cut") {
    for (std::size_t cut = kStreamFilterHeaderBytes; cut <= good.size(); cut += 5) {
      std::vector<std::byte> torn(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
      std::size_t whole = 0;
      while (whole < 3 && f.frame_ends[whole] <= cut) {
        ++whole;
      }
      CAPTURE(cut);
      const auto [n, why] = kept(torn);
      CHECK(n == whole);
      CHECK(why.empty() ==
            (whole == 0 ? cut == kStreamFilterHeaderBytes : cut == f.frame_ends[whole - 1]));
    }
  }
  SUBCASE("restamped frames that do not follow, or are not whole blocks, or run past the end") {
    std::vector<std::byte> bad = good;
    const std::size_t second = frame_at(f, 1);
    store_u64(bad.data() + second, 2999);  // base LSN not the first frame's end
    restamp_frame(bad, second);
    auto [n, why] = kept(bad);
    CHECK(n == 1);
    CHECK(why.find("does not follow") != std::string::npos);
    bad = good;
    store_u64(bad.data() + second + 8, 2000);  // ends before it begins
    restamp_frame(bad, second);
    std::tie(n, why) = kept(bad);
    CHECK(n == 1);
    CHECK(why.find("does not follow") != std::string::npos);
    // One word fewer: the frame still fits, its filter is not whole blocks.
    bad = good;
    store_u64(bad.data() + second + 24, load_u64(bad.data() + second + 24) - 1);
    restamp_frame(bad, second);
    std::tie(n, why) = kept(bad);
    CHECK(n == 1);
    CHECK(why.find("whole blocks") != std::string::npos);
    bad = good;
    store_u64(bad.data() + second + 24, std::uint64_t{1} << 60);
    std::tie(n, why) = kept(bad);
    CHECK(n == 1);
    CHECK(why.find("runs past the end") != std::string::npos);
  }
  SUBCASE("a frame copied from another log's file does not verify") {
    StreamFilterFile other = f;
    other.log_id = kLogId + 1;
    std::vector<std::byte> mixed = encode_stream_filters(other);
    std::copy(good.begin(), good.begin() + kStreamFilterHeaderBytes, mixed.begin());
    const auto [n, why] = kept(mixed);
    CHECK(n == 0);
    CHECK(why.find("checksum") != std::string::npos);
  }
}

}  // namespace cairn::format
