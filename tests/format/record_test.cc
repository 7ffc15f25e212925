// Records (format/record.h): the 48-byte header, batch bodies, seals, the
// seeded checksums, and the checks behind the checksums. Each test name is
// the claim it checks.
#include "format/record.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/layout.h"
#include "tests/support/segment_image.h"

namespace cairn::format {
namespace {

using test_support::field_at;
using test_support::ImageEvent;
using test_support::make_event;
using test_support::RecordField;

constexpr std::uint64_t kSeed = 0xABCD'EF01'2345'6789ull;

// One encoded batch and the events it was made from.
struct Encoded {
  std::vector<ImageEvent> events;
  std::string stream;
  std::vector<std::byte> bytes;

  std::span<const std::byte> body() const {
    return std::span<const std::byte>(bytes).subspan(kRecordHeaderBytes,
                                                     load_u32(bytes.data() + 32));
  }
  std::span<std::byte> mutable_body() {
    return std::span<std::byte>(bytes).subspan(kRecordHeaderBytes, load_u32(bytes.data() + 32));
  }
};

Encoded encode(std::string stream, std::vector<ImageEvent> events, std::uint64_t lsn = 100,
               std::uint64_t prior_durable_lsn = 90, std::uint64_t first_version = 7,
               std::uint64_t seed = kSeed) {
  Encoded e;
  e.stream = std::move(stream);
  e.events = std::move(events);
  std::vector<NewEvent> views;
  for (const auto& ev : e.events) {
    views.push_back(ev.view());
  }
  e.bytes.assign(record_bytes(batch_body_bytes(e.stream, views)), std::byte{0xEE});
  BatchFields f;
  f.seed = seed;
  f.lsn = lsn;
  f.prior_durable_lsn = prior_durable_lsn;
  f.stream = e.stream;
  f.first_version = first_version;
  encode_batch(e.bytes, f, views);
  return e;
}

// Decodes `e` the way the scanner would and checks every event against what
// was encoded.
void check_decodes_to_what_was_encoded(const Encoded& e, std::uint64_t lsn,
                                       std::uint64_t first_version) {
  const RecordHeader h = load_record_header(e.bytes.data());
  REQUIRE(h.header_checksum == compute_header_checksum(e.bytes.data(), kSeed));
  REQUIRE(record_header_problem(h, kRecordBytesMax) == std::string());
  CHECK(h.kind == static_cast<std::uint16_t>(RecordKind::batch));
  CHECK(h.flags == 0);
  CHECK(h.lsn == lsn);
  CHECK(h.event_count == e.events.size());
  CHECK(record_bytes(h.body_bytes) == e.bytes.size());
  const auto body = e.body();
  CHECK(h.body_checksum == xxh3(body, kSeed));
  REQUIRE(batch_body_problem(body, h.event_count) == std::string());
  // Padding is zero, whatever was in the buffer before.
  for (std::size_t i = kRecordHeaderBytes + h.body_bytes; i < e.bytes.size(); ++i) {
    CHECK(e.bytes[i] == std::byte{0});
  }

  BatchReader reader(body, h.lsn, h.event_count);
  CHECK(reader.stream() == e.stream);
  CHECK(reader.first_version() == first_version);
  EventView v;
  for (std::size_t i = 0; i < e.events.size(); ++i) {
    REQUIRE(reader.next(v));
    CAPTURE(i);
    CHECK(v.lsn == lsn + i);
    CHECK(v.version == first_version + i);
    CHECK(v.stream == e.stream);
    CHECK(v.type == e.events[i].type);
    CHECK(v.id == e.events[i].id);
    CHECK(v.time_ns == e.events[i].time_ns);
    CHECK(v.metadata == e.events[i].metadata);
    CHECK(v.data == e.events[i].data);
  }
  CHECK_FALSE(reader.next(v));
  CHECK_FALSE(reader.next(v));
}

TEST_CASE("record: the test helper's header field positions are the format's") {
  Encoded e = encode("s", {make_event(1)}, 0x1122'3344'5566'7788ull, 0x1122'3344'5566'7700ull);
  const RecordHeader h = load_record_header(e.bytes.data());
  const std::byte* p = e.bytes.data();
  CHECK(load_u64(p + field_at(RecordField::header_checksum)) == h.header_checksum);
  CHECK(load_u64(p + field_at(RecordField::body_checksum)) == h.body_checksum);
  CHECK(load_u64(p + field_at(RecordField::lsn)) == h.lsn);
  CHECK(load_u64(p + field_at(RecordField::prior_durable_lsn)) == h.prior_durable_lsn);
  CHECK(load_u32(p + field_at(RecordField::body_bytes)) == h.body_bytes);
  CHECK(load_u32(p + field_at(RecordField::event_count)) == h.event_count);
  CHECK(load_u16(p + field_at(RecordField::kind)) == h.kind);
  CHECK(load_u16(p + field_at(RecordField::flags)) == h.flags);
  CHECK(load_u32(p + field_at(RecordField::reserved)) == 0);
  CHECK(h.reserved == 0);
  CHECK(h.lsn == 0x1122'3344'5566'7788ull);
  CHECK(h.prior_durable_lsn == 0x1122'3344'5566'7700ull);
}

TEST_CASE("record: a batch of one event round-trips") {
  Encoded e = encode("orders-1", {make_event(3, 100, 12)}, 100, 90, 7);
  check_decodes_to_what_was_encoded(e, 100, 7);
}

TEST_CASE("record: a batch of many events, some with empty metadata or data, round-trips") {
  std::vector<ImageEvent> events;
  for (std::uint64_t i = 0; i < 300; ++i) {
    events.push_back(make_event(i, i % 5 == 0 ? 0 : i % 61, i % 3 == 0 ? 0 : i % 17));
  }
  events[7].time_ns = -1;
  events[8].time_ns = std::numeric_limits<std::int64_t>::min();
  events[9].time_ns = std::numeric_limits<std::int64_t>::max();
  events[10].metadata.clear();
  events[10].data.clear();
  Encoded e = encode("accounts", events, 5000, 4999, 1'000'000);
  check_decodes_to_what_was_encoded(e, 5000, 1'000'000);
}

TEST_CASE("record: the longest type and stream name round-trip") {
  ImageEvent ev = make_event(1);
  ev.type.assign(kEventTypeBytesMax, 'T');
  Encoded e = encode(std::string(kStreamNameBytesMax, 'S'), {ev, make_event(2)});
  check_decodes_to_what_was_encoded(e, 100, 7);
}

TEST_CASE("record: a batch of the most events allowed round-trips") {
  std::vector<ImageEvent> events(kBatchEventsMax);
  for (std::size_t i = 0; i < events.size(); ++i) {
    events[i].type = "t";
    events[i].id.bytes[0] = static_cast<std::uint8_t>(i);
    events[i].id.bytes[1] = static_cast<std::uint8_t>(i >> 8);
  }
  Encoded e = encode("big", std::move(events), 0, 0, 0);
  const RecordHeader h = load_record_header(e.bytes.data());
  REQUIRE(record_header_problem(h, kRecordBytesMax) == std::string());
  REQUIRE(batch_body_problem(e.body(), h.event_count) == std::string());
  BatchReader reader(e.body(), h.lsn, h.event_count);
  EventView v;
  std::size_t n = 0;
  while (reader.next(v)) {
    CHECK(v.id.bytes[0] == static_cast<std::uint8_t>(n));
    ++n;
  }
  CHECK(n == kBatchEventsMax);
}

TEST_CASE("record: batch_body_bytes and record_bytes follow the layout") {
  std::vector<ImageEvent> events = {make_event(1, 10, 3), make_event(2, 0, 0)};
  std::vector<NewEvent> views = {events[0].view(), events[1].view()};
  const std::size_t expected = kBatchPrefixBytes + 3 + 2 * kEventHeaderBytes +
                               events[0].type.size() + 3 + 10 + events[1].type.size();
  CHECK(batch_body_bytes("abc", views) == expected);
  for (std::size_t body = 0; body < 64; ++body) {
    const std::size_t total = record_bytes(body);
    CHECK(total % kRecordAlignment == 0);
    CHECK(total >= kRecordHeaderBytes + body);
    CHECK(total < kRecordHeaderBytes + body + kRecordAlignment);
  }
}

TEST_CASE("record: a seal round-trips and its header is a valid seal header") {
  Seal seal{12, 3456, 0x1234'5678'9ABC'DEF0ull, -5};
  std::array<std::byte, kSealRecordBytes> out;
  out.fill(std::byte{0xEE});
  encode_seal(out, kSeed, 9999, 9990, seal);
  const RecordHeader h = load_record_header(out.data());
  CHECK(h.header_checksum == compute_header_checksum(out.data(), kSeed));
  CHECK(h.kind == static_cast<std::uint16_t>(RecordKind::seal));
  CHECK(h.lsn == 9999);
  CHECK(h.prior_durable_lsn == 9990);
  CHECK(h.body_bytes == kSealBodyBytes);
  CHECK(h.event_count == 0);
  CHECK(h.flags == 0);
  CHECK(load_u32(out.data() + field_at(RecordField::reserved)) == 0);
  CHECK(record_header_problem(h, kRecordBytesMax) == std::string());
  const auto body = std::span<const std::byte>(out).subspan(kRecordHeaderBytes);
  CHECK(h.body_checksum == xxh3(body, kSeed));
  CHECK(decode_seal_body(body) == seal);
}

TEST_CASE("record: an all-zero header is never a record") {
  std::array<std::byte, kRecordHeaderBytes> zeros{};
  CHECK(is_all_zero(zeros));
  const RecordHeader h = load_record_header(zeros.data());
  CHECK(std::string(record_header_problem(h, kRecordBytesMax)) == "unknown record kind");
}

TEST_CASE("record: is_all_zero sees a non-zero byte at any position of any length") {
  std::vector<std::byte> bytes(40, std::byte{0});
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    CHECK(is_all_zero(std::span<const std::byte>(bytes).first(n)));
    for (std::size_t i = 0; i < n; ++i) {
      bytes[i] = std::byte{0x10};
      CHECK_FALSE(is_all_zero(std::span<const std::byte>(bytes).first(n)));
      bytes[i] = std::byte{0};
    }
  }
}

TEST_CASE("record: a header whose fields are impossible names the problem") {
  RecordHeader good;
  good.kind = static_cast<std::uint16_t>(RecordKind::batch);
  good.event_count = 2;
  good.body_bytes = static_cast<std::uint32_t>(kBatchPrefixBytes + 1 + 2 * kEventHeaderBytes);
  good.lsn = 10;
  good.prior_durable_lsn = 10;
  REQUIRE(record_header_problem(good, kRecordBytesMax) == std::string());

  RecordHeader seal;
  seal.kind = static_cast<std::uint16_t>(RecordKind::seal);
  seal.body_bytes = kSealBodyBytes;
  REQUIRE(record_header_problem(seal, kRecordBytesMax) == std::string());

  struct Case {
    const char* name;
    RecordHeader h;
    const char* problem;
  };
  std::vector<Case> cases;
  auto with = [](RecordHeader h, auto edit) {
    edit(h);
    return h;
  };
  cases.push_back(
      {"kind 0", with(good, [](RecordHeader& h) { h.kind = 0; }), "unknown record kind"});
  cases.push_back({"kind past the last",
                   with(good, [](RecordHeader& h) { h.kind = kRecordKindMax + 1; }),
                   "unknown record kind"});
  cases.push_back(
      {"a flag", with(good, [](RecordHeader& h) { h.flags = 1; }), "unknown record flags"});
  cases.push_back({"the top flag", with(good, [](RecordHeader& h) { h.flags = 0x8000; }),
                   "unknown record flags"});
  cases.push_back({"a reserved byte", with(good, [](RecordHeader& h) { h.reserved = 0x0100; }),
                   "reserved header bytes are not zero"});
  cases.push_back({"larger than the limit",
                   with(good, [](RecordHeader& h) { h.body_bytes = 0xFFFF'FFFF; }),
                   "record larger than the limit"});
  cases.push_back({"seal with events", with(seal, [](RecordHeader& h) { h.event_count = 1; }),
                   "malformed seal header"});
  cases.push_back({"seal with a longer body",
                   with(seal, [](RecordHeader& h) { h.body_bytes = kSealBodyBytes + 8; }),
                   "malformed seal header"});
  cases.push_back({"batch of no events", with(good, [](RecordHeader& h) { h.event_count = 0; }),
                   "batch event count out of range"});
  cases.push_back({"batch of too many events",
                   with(good,
                        [](RecordHeader& h) {
                          h.event_count = kBatchEventsMax + 1;
                          h.body_bytes = 32u << 20;
                        }),
                   "batch event count out of range"});
  cases.push_back({"body too small for its events",
                   with(good, [](RecordHeader& h) { h.event_count = 3; }),
                   "batch body too small for its events"});
  cases.push_back({"prior durable LSN after the record",
                   with(good, [](RecordHeader& h) { h.prior_durable_lsn = 11; }),
                   "prior durable LSN beyond the record's LSN"});
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(std::string(record_header_problem(c.h, kRecordBytesMax)) == c.problem);
  }
  // The limit is the caller's: a smaller one refuses a record the default allows.
  CHECK(std::string(record_header_problem(good, kRecordHeaderBytes)) ==
        "record larger than the limit");
}

TEST_CASE("record: a malformed batch body names the problem") {
  const Encoded base = encode("stream", {make_event(1, 9, 4), make_event(2, 5, 0)});
  const std::uint32_t count = 2;
  REQUIRE(batch_body_problem(base.body(), count) == std::string());
  const std::size_t event0 = kBatchPrefixBytes + base.stream.size();

  struct Case {
    const char* name;
    void (*edit)(std::span<std::byte> body, std::size_t event0);
    const char* problem;
  };
  const Case cases[] = {
      {"reserved prefix u16", [](std::span<std::byte> b, std::size_t) { b[10] = std::byte{1}; },
       "reserved batch prefix bytes are not zero"},
      {"reserved prefix u32", [](std::span<std::byte> b, std::size_t) { b[15] = std::byte{1}; },
       "reserved batch prefix bytes are not zero"},
      {"empty stream name", [](std::span<std::byte> b, std::size_t) { store_u16(b.data() + 8, 0); },
       "stream name length out of range"},
      {"stream name too long",
       [](std::span<std::byte> b, std::size_t) {
         store_u16(b.data() + 8, static_cast<std::uint16_t>(kStreamNameBytesMax + 1));
       },
       "stream name length out of range"},
      {"stream name past the body",
       [](std::span<std::byte> b, std::size_t) {
         store_u16(b.data() + 8, static_cast<std::uint16_t>(kStreamNameBytesMax));
       },
       "event header runs past the batch body"},
      {"type too long",
       [](std::span<std::byte> b, std::size_t e) {
         store_u16(b.data() + e + 32, static_cast<std::uint16_t>(kEventTypeBytesMax + 1));
       },
       "event type longer than the limit"},
      {"reserved event u16",
       [](std::span<std::byte> b, std::size_t e) { b[e + 34] = std::byte{1}; },
       "reserved event header bytes are not zero"},
      {"reserved event u32",
       [](std::span<std::byte> b, std::size_t e) { b[e + 39] = std::byte{0x80}; },
       "reserved event header bytes are not zero"},
      {"data past the body",
       [](std::span<std::byte> b, std::size_t e) { store_u32(b.data() + e + 28, 0xFFFF'FFFF); },
       "event runs past the batch body"},
      {"metadata and data past the body (no overflow)",
       [](std::span<std::byte> b, std::size_t e) {
         store_u32(b.data() + e + 24, 0xFFFF'FFFF);
         store_u32(b.data() + e + 28, 0xFFFF'FFFF);
       },
       "event runs past the batch body"},
      {"first event shorter than written",
       [](std::span<std::byte> b, std::size_t e) { store_u32(b.data() + e + 28, 8); },
       "event"},  // the second event's header now starts inside data: some event problem
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Encoded e = base;
    c.edit(e.mutable_body(), event0);
    const std::string problem = batch_body_problem(e.body(), count);
    CHECK(problem.find(c.problem) != std::string::npos);
  }

  CHECK(std::string(batch_body_problem(base.body().first(kBatchPrefixBytes - 1), count)) ==
        "batch body shorter than its prefix");
  CHECK(std::string(batch_body_problem(base.body(), count + 1)) ==
        "event header runs past the batch body");
  CHECK(std::string(batch_body_problem(base.body(), count - 1)) ==
        "batch body has bytes after its last event");
  std::vector<std::byte> longer(base.body().begin(), base.body().end());
  longer.push_back(std::byte{0});
  CHECK(std::string(batch_body_problem(longer, count)) ==
        "batch body has bytes after its last event");
  CHECK(std::string(batch_body_problem(base.body().first(base.body().size() - 1), count)) ==
        "event runs past the batch body");
}

TEST_CASE("record: checksums are bound to the seed of the log and segment") {
  CHECK(record_seed(1, 0) == record_seed(1, 0));
  CHECK(record_seed(1, 0) != record_seed(2, 0));
  CHECK(record_seed(1, 0) != record_seed(1, 1));
  CHECK(record_seed(1, 2) != record_seed(2, 1));

  Encoded e = encode("s", {make_event(1)});
  CHECK(compute_header_checksum(e.bytes.data(), kSeed) == load_u64(e.bytes.data()));
  CHECK(compute_header_checksum(e.bytes.data(), kSeed + 1) != load_u64(e.bytes.data()));
  CHECK(xxh3(e.body(), kSeed + 1) != load_record_header(e.bytes.data()).body_checksum);
}

TEST_CASE("record: the chain depends on every header checksum and their order") {
  const std::uint64_t seed = record_seed(7, 0);
  const std::uint64_t ab = chain_step(chain_step(seed, 1), 2);
  const std::uint64_t ba = chain_step(chain_step(seed, 2), 1);
  CHECK(ab != ba);
  CHECK(chain_step(seed, 1) != chain_step(seed, 2));
  CHECK(chain_step(seed, 1) != chain_step(seed + 1, 1));
}

TEST_CASE(
    "record: restamp_prior_durable changes only prior_durable_lsn and keeps the record "
    "valid") {
  Encoded e = encode("s", {make_event(1), make_event(2)}, 500, 0, 3);
  const std::vector<std::byte> before = e.bytes;
  const RecordHeader old_header = load_record_header(e.bytes.data());
  for (std::uint64_t stamp : {std::uint64_t{0}, std::uint64_t{250}, std::uint64_t{500}}) {
    CAPTURE(stamp);
    const std::uint64_t checksum = restamp_prior_durable(e.bytes, kSeed, stamp);
    const RecordHeader h = load_record_header(e.bytes.data());
    CHECK(h.header_checksum == checksum);
    CHECK(checksum == compute_header_checksum(e.bytes.data(), kSeed));
    CHECK(h.prior_durable_lsn == stamp);
    CHECK(h.lsn == old_header.lsn);
    CHECK(h.body_checksum == old_header.body_checksum);
    CHECK(h.body_bytes == old_header.body_bytes);
    CHECK(h.event_count == old_header.event_count);
    CHECK(h.kind == old_header.kind);
    CHECK(record_header_problem(h, kRecordBytesMax) == std::string());
    // Only bytes [0, 8) and [24, 32) may change.
    for (std::size_t i = 0; i < e.bytes.size(); ++i) {
      if (i >= 8 && (i < 24 || i >= 32)) {
        CHECK(e.bytes[i] == before[i]);
      }
    }
    check_decodes_to_what_was_encoded(e, 500, 3);
  }
  // Restamping to the original value restores the original bytes.
  restamp_prior_durable(e.bytes, kSeed, 0);
  CHECK(e.bytes == before);
}

}  // namespace
}  // namespace cairn::format
