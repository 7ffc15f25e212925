// Segment images for the micro benchmarks: records made by the real encoder
// (format::encode_batch), laid out as in a segment file, so the scanner and
// the index see exactly what they see in a log.
//
// bench/micro/ measures internals and may include format/ and engine/
// (docs/decisions/0007-micro-benchmarks-use-internals.md).
#pragma once

#include <cairn/event.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "format/layout.h"
#include "format/record.h"

namespace cairn_micro {

inline constexpr std::uint64_t kSeed = 0x5EED5EED12345678ull;

// 200 bytes (or `n`) of incompressible data.
inline std::string event_data(std::size_t n = 200, std::uint64_t salt = 0) {
  std::string s(n, '\0');
  std::uint64_t x = 0x9E3779B97F4A7C15ull ^ (salt * 0xC2B2AE3D27D4EB4Full);
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

inline std::string stream_of(std::uint64_t i) { return "stream-" + std::to_string(i); }

// A segment image: the header block (zeros here: the scanner starts after
// it), then `records` batch records of `events_per_record` events of
// `data_bytes` each, streams round-robin over `streams`, LSNs from 0, then a
// zero header (the end marker).
struct Image {
  std::vector<std::byte> bytes;
  std::uint64_t records = 0;
  std::uint64_t events = 0;
  std::uint64_t end_position = 0;
};

inline Image make_image(std::uint64_t records, std::uint32_t events_per_record,
                        std::uint64_t streams, std::size_t data_bytes = 200) {
  Image image;
  image.bytes.resize(cairn::format::kSegmentHeaderBlockBytes);
  const std::string data = event_data(data_bytes);
  std::vector<cairn::NewEvent> events(events_per_record);
  for (auto& e : events) {
    e.type = "Deposited";
    e.data = data;
    e.time_ns = 1'700'000'000'000'000'000;
  }
  std::vector<std::uint64_t> next_version(streams, 0);
  std::uint64_t lsn = 0;
  for (std::uint64_t r = 0; r < records; ++r) {
    const std::uint64_t s = r % streams;
    const std::string stream = stream_of(s);
    const std::size_t size =
        cairn::format::record_bytes(cairn::format::batch_body_bytes(stream, events));
    const std::size_t at = image.bytes.size();
    image.bytes.resize(at + size);
    cairn::format::BatchFields f;
    f.seed = kSeed;
    f.lsn = lsn;
    f.prior_durable_lsn = lsn;
    f.stream = stream;
    f.first_version = next_version[s];
    cairn::format::encode_batch(std::span<std::byte>(image.bytes.data() + at, size), f, events);
    next_version[s] += events_per_record;
    lsn += events_per_record;
  }
  image.records = records;
  image.events = lsn;
  image.end_position = image.bytes.size();
  image.bytes.resize(image.bytes.size() + cairn::format::kRecordHeaderBytes, std::byte{0});
  return image;
}

}  // namespace cairn_micro
