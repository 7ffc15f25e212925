// The fixed-size codecs (format/codec.h): meta file, segment header and
// recovery point. Each test name is the claim it checks.
#include "format/codec.h"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/layout.h"

namespace cairn::format {
namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min();

template <std::size_t N>
std::vector<std::byte> to_vector(const std::array<std::byte, N>& a) {
  return {a.begin(), a.end()};
}

std::vector<std::byte> encoded(const MetaRecord& m) {
  std::array<std::byte, kMetaBytes> out;
  encode_meta(m, out);
  return to_vector(out);
}
std::vector<std::byte> encoded(const SegmentHeader& h) {
  std::array<std::byte, kSegmentHeaderBytes> out;
  encode_segment_header(h, out);
  return to_vector(out);
}
std::vector<std::byte> encoded(const RecoveryPoint& r) {
  std::array<std::byte, kRecoveryPointBytes> out;
  encode_recovery_point(r, out);
  return to_vector(out);
}

Status decode_status(const MetaRecord&, std::span<const std::byte> b) {
  return decode_meta(b).status();
}
Status decode_status(const SegmentHeader&, std::span<const std::byte> b) {
  return decode_segment_header(b).status();
}
Status decode_status(const RecoveryPoint&, std::span<const std::byte> b) {
  return decode_recovery_point(b).status();
}

MetaRecord sample_meta() {
  MetaRecord m;
  m.log_id = 0x0123'4567'89AB'CDEFull;
  m.created_time_ns = 1'700'000'000'123'456'789;
  return m;
}

SegmentHeader sample_header() {
  SegmentHeader h;
  h.write_window_bytes = kWriteWindowBytesDefault;
  h.log_id = 0xFEDC'BA98'7654'3210ull;
  h.base_lsn = 123'456;
  h.segment_bytes = kSegmentBytesDefault;
  h.created_time_ns = 1'700'000'000'000'000'001;
  h.index_interval_bytes = kIndexIntervalBytesDefault;
  return h;
}

RecoveryPoint sample_point() {
  RecoveryPoint r;
  r.log_id = 77;
  r.tail_base_lsn = 1000;
  r.tail_end_position = 8192;
  r.next_lsn = 1042;
  r.tail_chain = 0xC0FF'EEC0'FFEE'C0FFull;
  r.tail_record_count = 9;
  return r;
}

// Each of the three structures goes through the same claims below.
template <class T>
void check_refusals(const T& value, std::size_t size, const char* what) {
  const std::vector<std::byte> good = encoded(value);
  REQUIRE(good.size() == size);
  REQUIRE(decode_status(value, good).ok());

  SUBCASE("a wrong magic is invalid_argument: intact, but not this kind of file") {
    auto bad = good;
    bad[0] ^= std::byte{0x01};
    Status s = decode_status(value, bad);
    CHECK(s.code() == Errc::invalid_argument);
    CHECK(s.message().find("wrong magic") != std::string::npos);
    CHECK(s.message().find(what) != std::string::npos);
  }
  SUBCASE("all zeros is corruption, not a wrong kind of file") {
    std::vector<std::byte> zeros(size, std::byte{0});
    Status s = decode_status(value, zeros);
    CHECK(s.code() == Errc::corruption);
    CHECK(s.message().find("all zeros") != std::string::npos);
  }
  SUBCASE("a flipped checksum byte is corruption") {
    for (std::size_t i = size - 8; i < size; ++i) {
      auto bad = good;
      bad[i] ^= std::byte{0x40};
      Status s = decode_status(value, bad);
      CHECK(s.code() == Errc::corruption);
      CHECK(s.message().find("checksum mismatch") != std::string::npos);
    }
  }
  SUBCASE("a flipped byte anywhere is refused; only the magic bytes say invalid_argument") {
    for (std::size_t i = 0; i < size; ++i) {
      for (std::uint8_t mask : {0x01, 0x80, 0xFF}) {
        auto bad = good;
        bad[i] ^= std::byte{mask};
        Status s = decode_status(value, bad);
        CAPTURE(i);
        CAPTURE(int(mask));
        CHECK(s.code() == (i < 8 ? Errc::invalid_argument : Errc::corruption));
      }
    }
  }
  SUBCASE("short input is corruption that names both sizes") {
    for (std::size_t n = 0; n < size; ++n) {
      Status s = decode_status(value, std::span<const std::byte>(good).first(n));
      CAPTURE(n);
      CHECK(s.code() == Errc::corruption);
      CHECK(s.message().find(std::to_string(n) + " of " + std::to_string(size)) !=
            std::string::npos);
    }
  }
  SUBCASE("bytes after the structure are ignored") {
    auto longer = good;
    longer.resize(size + 100, std::byte{0xAB});
    CHECK(decode_status(value, longer).ok());
  }
  SUBCASE("another format version is invalid_argument naming both versions") {
    T other = value;
    other.format_version = kFormatVersion + 1;
    Status s = decode_status(value, encoded(other));
    CHECK(s.code() == Errc::invalid_argument);
    CHECK(s.message().find("format version " + std::to_string(kFormatVersion + 1)) !=
          std::string::npos);
    CHECK(s.message().find("reads version " + std::to_string(kFormatVersion)) != std::string::npos);
  }
}

TEST_CASE("codec: a meta record round-trips through its 64 bytes") {
  for (MetaRecord m : {sample_meta(), MetaRecord{kFormatVersion, kU64Max, kI64Min},
                       MetaRecord{kFormatVersion, 0, -1}}) {
    auto bytes = encoded(m);
    auto back = decode_meta(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == m);
    CHECK(load_u64(bytes.data()) == kMetaMagic);
  }
}

TEST_CASE("codec: a segment header round-trips through its 64 bytes") {
  SegmentHeader big = sample_header();
  big.log_id = kU64Max;
  big.base_lsn = kU64Max;
  big.segment_bytes = kSegmentBytesMax;
  big.write_window_bytes = std::numeric_limits<std::uint32_t>::max();
  big.index_interval_bytes = std::numeric_limits<std::uint32_t>::max();
  big.created_time_ns = kI64Min;
  SegmentHeader small = sample_header();
  small.segment_bytes = kSegmentBytesMin;
  small.base_lsn = 0;
  for (const SegmentHeader& h : {sample_header(), big, small}) {
    auto bytes = encoded(h);
    auto back = decode_segment_header(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == h);
    CHECK(segment_header_problem(*back)[0] == '\0');
  }
}

TEST_CASE("codec: a recovery point round-trips through its 80 bytes") {
  RecoveryPoint big{kFormatVersion, kU64Max, kU64Max, kU64Max, kU64Max, kU64Max, kU64Max};
  for (const RecoveryPoint& r : {sample_point(), big, RecoveryPoint{}}) {
    auto bytes = encoded(r);
    auto back = decode_recovery_point(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == r);
  }
}

TEST_CASE("codec: the meta decoder refuses wrong magic, version, checksum and length") {
  check_refusals(sample_meta(), kMetaBytes, "meta file");
}

TEST_CASE("codec: the segment header decoder refuses wrong magic, version, checksum and length") {
  check_refusals(sample_header(), kSegmentHeaderBytes, "segment header");
}

TEST_CASE("codec: the recovery point decoder refuses wrong magic, version, checksum and length") {
  check_refusals(sample_point(), kRecoveryPointBytes, "recovery point");
}

TEST_CASE("codec: one structure never decodes as another (magic and checksum seed differ)") {
  // Padded to the longest, so no decoder refuses them for being short.
  auto meta = encoded(sample_meta());
  auto header = encoded(sample_header());
  auto point = encoded(sample_point());
  meta.resize(kRecoveryPointBytes);
  header.resize(kRecoveryPointBytes);
  CHECK(decode_segment_header(meta).status().code() == Errc::invalid_argument);
  CHECK(decode_recovery_point(meta).status().code() == Errc::invalid_argument);
  CHECK(decode_meta(header).status().code() == Errc::invalid_argument);
  CHECK(decode_recovery_point(header).status().code() == Errc::invalid_argument);
  CHECK(decode_meta(point).status().code() == Errc::invalid_argument);
  CHECK(decode_segment_header(point).status().code() == Errc::invalid_argument);

  // With the other kind's magic pasted in, the checksum (seeded by the
  // magic) still tells them apart.
  auto disguised = meta;
  disguised.resize(kSegmentHeaderBytes);
  store_u64(disguised.data(), kSegmentMagic);
  CHECK(decode_segment_header(disguised).status().code() == Errc::corruption);
}

TEST_CASE(
    "codec: a segment header whose checksum verifies but whose sizes are impossible is "
    "corruption with the reason") {
  struct Case {
    const char* name;
    void (*edit)(SegmentHeader&);
    const char* reason;
  };
  const Case cases[] = {
      {"segment below the minimum",
       [](SegmentHeader& h) { h.segment_bytes = kSegmentBytesMin - 8; },
       "segment_bytes out of range"},
      {"segment above the maximum",
       [](SegmentHeader& h) { h.segment_bytes = kSegmentBytesMax + 8; },
       "segment_bytes out of range"},
      {"segment not aligned", [](SegmentHeader& h) { h.segment_bytes = kSegmentBytesMin + 1; },
       "not a multiple"},
      {"segment not a whole number of header blocks",
       [](SegmentHeader& h) { h.segment_bytes = kSegmentBytesMin + kRecordAlignment; },
       "not a multiple"},
      {"zero write window", [](SegmentHeader& h) { h.write_window_bytes = 0; },
       "write_window_bytes is zero"},
      {"zero index interval", [](SegmentHeader& h) { h.index_interval_bytes = 0; },
       "index_interval_bytes is zero"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    SegmentHeader h = sample_header();
    c.edit(h);
    CHECK(std::string(segment_header_problem(h)).find(c.reason) != std::string::npos);
    Status s = decode_segment_header(encoded(h)).status();
    CHECK(s.code() == Errc::corruption);
    CHECK(s.message().find(c.reason) != std::string::npos);
  }
}

TEST_CASE("codec: reserved bytes that are not zero are refused even under a valid checksum") {
  // A checksum-valid structure with bytes this version never writes came
  // from a bug or an incompatible writer: decoding must refuse it rather
  // than drop those bytes (its value would re-encode to other bytes).
  auto reseal = [](std::vector<std::byte> bytes, std::size_t at, std::uint64_t magic) {
    bytes[at] = std::byte{0x01};
    // The trailer rule of codec.cc: XXH3 of the bytes before it, seeded by the magic.
    store_u64(bytes.data() + bytes.size() - 8,
              xxh3(std::span<const std::byte>(bytes).first(bytes.size() - 8), magic));
    return bytes;
  };
  // Reserved ranges of SPEC.md sections 3, 4 and 8.
  for (std::size_t at : {12, 13, 14, 15, 32, 40, 55}) {
    CAPTURE(at);
    Status s = decode_meta(reseal(encoded(sample_meta()), at, kMetaMagic)).status();
    CHECK(s.code() == Errc::corruption);
    CHECK(s.message().find("reserved") != std::string::npos);
  }
  for (std::size_t at : {52, 53, 54, 55}) {
    CAPTURE(at);
    Status s = decode_segment_header(reseal(encoded(sample_header()), at, kSegmentMagic)).status();
    CHECK(s.code() == Errc::corruption);
    CHECK(s.message().find("reserved") != std::string::npos);
  }
  for (std::size_t at : {12, 15, 64, 71}) {
    CAPTURE(at);
    Status s =
        decode_recovery_point(reseal(encoded(sample_point()), at, kRecoveryPointMagic)).status();
    CHECK(s.code() == Errc::corruption);
    CHECK(s.message().find("reserved") != std::string::npos);
  }
  // The same edit on a field byte is a different, valid value: the resealing
  // itself is right.
  CHECK(decode_meta(reseal(encoded(sample_meta()), 16, kMetaMagic)).has_value());
}

TEST_CASE("codec: a decoded structure re-encodes to the bytes it was decoded from") {
  auto meta = encoded(sample_meta());
  auto header = encoded(sample_header());
  auto point = encoded(sample_point());
  CHECK(encoded(*decode_meta(meta)) == meta);
  CHECK(encoded(*decode_segment_header(header)) == header);
  CHECK(encoded(*decode_recovery_point(point)) == point);
}

}  // namespace
}  // namespace cairn::format
