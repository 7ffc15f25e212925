// Writes seed corpora for the fuzz targets: valid segments and structures
// (made with the real encoders through tests/support/segment_image.h) in
// the input layout of tests/fuzz/fuzz_input.h, so the fuzzers start from
// inputs that reach deep into the scanner and codecs.
//
//   make_fuzz_corpus DIR   writes DIR/record_scanner/*, DIR/codec/*, DIR/id_filter/* and
//                          DIR/stream_filter/*
//   record_scanner_fuzz DIR/record_scanner -max_total_time=30
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "format/codec.h"
#include "format/id_filter_file.h"
#include "format/index_file.h"
#include "format/layout.h"
#include "format/stream_filter_file.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/support/segment_image.h"

namespace {

using namespace cairn;
using namespace cairn::fuzz;
using test_support::ImageOptions;
using test_support::make_event;
using test_support::SegmentImage;

void write(const std::filesystem::path& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::byte> control(std::uint8_t flags, std::uint8_t base_lsn, std::uint8_t cut) {
  return {std::byte{flags}, std::byte{base_lsn}, std::byte{cut}};
}

SegmentImage image(std::uint8_t base_lsn) {
  ImageOptions options;
  options.log_id = kScanLogId;
  options.base_lsn = base_lsn;
  options.segment_bytes = kScanSegmentBytes;
  return SegmentImage(options);
}

// Control bytes, then the image's records (from the header block on).
std::vector<std::byte> records_input(std::vector<std::byte> input, const SegmentImage& img,
                                     std::uint64_t end) {
  const auto b = img.bytes();
  input.insert(input.end(), b.begin() + format::kSegmentHeaderBlockBytes,
               b.begin() + static_cast<std::ptrdiff_t>(end));
  return input;
}

void scanner_seeds(const std::filesystem::path& dir) {
  {
    SegmentImage img = image(0);
    img.add_batches(4, 3);
    img.add_zero_tail(64);
    write(dir / "unsealed", records_input(control(0, 0, 128), img, img.size()));
    write(dir / "unsealed_fixed",
          records_input(control(kScanFixChecksums | kScanFixLsns, 0, 77), img, img.size()));
  }
  {
    SegmentImage img = image(9);
    img.add_batch("one", {make_event(1, 0, 0)});
    img.add_batch(std::string(300, 's'),
                  {make_event(2, 300, 40), make_event(3, 1, 1), make_event(4, 0, 9)});
    write(dir / "varied", records_input(control(kScanSmallLimit, 9, 200), img, img.size()));
  }
  for (std::uint8_t flags : {std::uint8_t{kScanWholeSegment},
                             std::uint8_t{kScanWholeSegment | kScanFixChecksums | kScanFixLsns}}) {
    // A sealed segment: its records, then the seal for the slot.
    SegmentImage img = image(3);
    img.add_batches(3, 2);
    const std::uint64_t end = img.end_position();
    img.add_seal();
    std::vector<std::byte> input = records_input(control(flags, 3, 250), img, end);
    const auto b = img.bytes();
    input.insert(input.end(), b.end() - format::kSealRecordBytes, b.end());
    write(dir / ("sealed_" + std::to_string(flags)), input);
  }
}

template <std::size_t N>
std::vector<std::byte> with_control(std::uint8_t c, const std::array<std::byte, N>& bytes) {
  std::vector<std::byte> out{std::byte{c}};
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

void codec_seeds(const std::filesystem::path& dir) {
  std::array<std::byte, format::kMetaBytes> meta;
  format::encode_meta({format::kFormatVersion, 42, 1'700'000'000'000'000'000}, meta);
  std::array<std::byte, format::kSegmentHeaderBytes> header;
  format::SegmentHeader h;
  h.write_window_bytes = format::kWriteWindowBytesDefault;
  h.log_id = 42;
  h.base_lsn = 1000;
  h.segment_bytes = format::kSegmentBytesDefault;
  h.index_interval_bytes = format::kIndexIntervalBytesDefault;
  format::encode_segment_header(h, header);
  std::array<std::byte, format::kRecoveryPointBytes> point;
  format::encode_recovery_point({format::kFormatVersion, 42, 1000, 8192, 1042, 7, 3}, point);
  for (std::uint8_t stamp : {std::uint8_t{0}, std::uint8_t{kCodecStamp}}) {
    write(dir / ("meta_" + std::to_string(stamp)), with_control(0 | stamp, meta));
    write(dir / ("header_" + std::to_string(stamp)), with_control(1 | stamp, header));
    write(dir / ("point_" + std::to_string(stamp)), with_control(2 | stamp, point));
  }
}

// A saved id filter of two levels, and the same with the stamp flag set.
void id_filter_seeds(const std::filesystem::path& dir) {
  format::IdFilterFile f;
  f.log_id = 42;
  f.covered_segments = 3;
  f.covered_end_lsn = 3000;
  for (std::uint64_t capacity : {64u, 256u}) {
    format::IdFilterLevel level;
    level.capacity = capacity;
    level.bits = format::bloom_for_keys(capacity);
    for (std::uint64_t i = 0; i < capacity / 2; ++i) {
      format::bloom_add(level.bits, i * 0x9E3779B97F4A7C15ull);
      ++level.keys;
    }
    f.levels.push_back(std::move(level));
  }
  const std::vector<std::byte> encoded = format::encode_id_filter(f);
  for (std::uint8_t flag : {0, 1}) {
    std::vector<std::byte> seed{std::byte{flag}};
    seed.insert(seed.end(), encoded.begin(), encoded.end());
    write(dir / ("filter-" + std::to_string(flag)), seed);
  }
}

// Saved stream filters of three segments (the second empty), and the same
// with the stamp flag set.
void stream_filter_seeds(const std::filesystem::path& dir) {
  format::StreamFilterFile f;
  f.log_id = 42;
  for (std::uint64_t i = 0; i < 3; ++i) {
    format::SegmentStreamFilter s;
    s.base_lsn = i * 1000;
    s.end_lsn = s.base_lsn + 1000;
    s.chain = 0x5EED0000 + i;
    if (i != 1) {
      s.bits = format::bloom_for_keys(40 * (i + 1));
      for (std::uint64_t k = 0; k < 20; ++k) {
        format::bloom_add(s.bits, (k + i * 100) * 0x9E3779B97F4A7C15ull);
      }
    }
    f.segments.push_back(std::move(s));
  }
  const std::vector<std::byte> encoded = format::encode_stream_filters(f);
  for (std::uint8_t flag : {0, 1}) {
    std::vector<std::byte> seed{std::byte{flag}};
    seed.insert(seed.end(), encoded.begin(), encoded.end());
    write(dir / ("filters-" + std::to_string(flag)), seed);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root = argv[1];
  std::filesystem::create_directories(root / "record_scanner");
  std::filesystem::create_directories(root / "codec");
  std::filesystem::create_directories(root / "id_filter");
  std::filesystem::create_directories(root / "stream_filter");
  scanner_seeds(root / "record_scanner");
  codec_seeds(root / "codec");
  id_filter_seeds(root / "id_filter");
  stream_filter_seeds(root / "stream_filter");
  return 0;
}
