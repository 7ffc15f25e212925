// How the fuzz targets read their input, shared with the seed corpus
// generator (make_fuzz_corpus.cc) so that its seeds mean what it intends.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cairn::fuzz {

// record_scanner_fuzz: input = 3 control bytes, then segment bytes from
// position kSegmentHeaderBlockBytes on.
//   byte 0: flags (kScan*)
//   byte 1: base LSN of the segment (small, so seals can count from it)
//   byte 2: where to cut for the prefix check, in 256ths of the input
inline constexpr std::size_t kScanControlBytes = 3;
// Recompute, record by record, the body and header checksums (and with
// kScanFixLsns the LSNs and the seal's counts and chain) before scanning, so
// the fuzzer reaches the checks behind the checksums.
inline constexpr std::uint8_t kScanFixChecksums = 0x01;
// Scan as a whole segment of kScanSegmentBytes, its last kSealRecordBytes
// (the seal slot) taken from the input's last 80 bytes, zeros in between.
inline constexpr std::uint8_t kScanWholeSegment = 0x02;
// Scan with a small record size limit.
inline constexpr std::uint8_t kScanSmallLimit = 0x04;
inline constexpr std::uint8_t kScanFixLsns = 0x08;
// Smaller than a real segment (kSegmentBytesMin) on purpose: the scanner's
// seal-slot logic does not depend on the size, and a small segment keeps the
// fuzzer fast and lets short inputs reach the slot.
inline constexpr std::uint64_t kScanSegmentBytes = 8u << 10;
inline constexpr std::size_t kScanSmallRecordLimit = 512;
// The log every scanned segment belongs to.
inline constexpr std::uint64_t kScanLogId = 0xF022'0000'0000'0001ull;

// codec_fuzz: input = 1 control byte, then the structure's bytes.
//   byte 0 bits 0-1: 0 meta, 1 segment header, 2 recovery point, 3 all three
//   byte 0 bit 2: stamp the magic and a valid trailer checksum first
inline constexpr std::uint8_t kCodecStamp = 0x04;

}  // namespace cairn::fuzz
