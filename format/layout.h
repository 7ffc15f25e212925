// Every on-disk constant of the Cairn format, once. SPEC.md is the prose for
// these numbers; each constant names the SPEC.md section it implements, and
// the two change in the same commit. No I/O, no threads: format/ turns bytes
// into values and back, nothing else.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cairn::format {

// --- SPEC.md section 2: files of a log directory -------------------------

// Format version written in the log meta file and every segment header. A
// reader refuses any other version with a message naming both versions.
inline constexpr std::uint32_t kFormatVersion = 1;

inline constexpr const char* kMetaFileName = "cairn.meta";
inline constexpr const char* kLockFileName = "LOCK";
inline constexpr const char* kRecoveryPointFileName = "recovery.point";
// The saved log-wide id filter (SPEC.md section 13.1): derived data.
inline constexpr const char* kIdFilterFileName = "ids.filter";
// The saved stream filters of the sealed segments (SPEC.md section 13.2).
inline constexpr const char* kStreamFilterFileName = "streams.filter";
inline constexpr const char* kSegmentSuffix = ".seg";
inline constexpr const char* kTmpSuffix = ".tmp";
inline constexpr const char* kBrokenSuffix = ".broken";
// "<base LSN, 20 decimal digits>.seg": sorts by name in LSN order.
inline constexpr std::size_t kSegmentNameDigits = 20;

// --- SPEC.md section 3: the meta file ------------------------------------

inline constexpr std::uint64_t kMetaMagic = 0x4154454D4E524941ull;  // "AIRNMETA"
inline constexpr std::size_t kMetaBytes = 64;

// --- SPEC.md section 4: the segment header --------------------------------

inline constexpr std::uint64_t kSegmentMagic = 0x4745534E52494143ull;  // "CAIRNSEG"
// Encoded header bytes; the rest of the header block is zero.
inline constexpr std::size_t kSegmentHeaderBytes = 64;
// Records start at this position, so the header never shares a 4 KiB page
// with records: an O_DIRECT writer can write records without rewriting it.
inline constexpr std::size_t kSegmentHeaderBlockBytes = 4096;

// --- SPEC.md section 5: records ------------------------------------------

inline constexpr std::size_t kRecordHeaderBytes = 48;
// Records start at multiples of this, and are zero-padded to it.
inline constexpr std::size_t kRecordAlignment = 8;

// Record kinds. Zero is not a kind, so an all-zero header never parses as a
// record (SPEC.md section 5.4, the end marker).
enum class RecordKind : std::uint16_t {
  batch = 1,  // one atomic append: 1..N events of one stream
  seal = 2,   // closes a full segment (SPEC.md section 6)
};
inline constexpr std::uint16_t kRecordKindMax = 2;
// No flag is defined in version 1; a reader refuses a record with any flag set.
inline constexpr std::uint16_t kRecordFlagsKnown = 0;

// --- SPEC.md section 5.2: the batch body ----------------------------------

inline constexpr std::size_t kBatchPrefixBytes = 16;
inline constexpr std::size_t kEventHeaderBytes = 40;
inline constexpr std::size_t kEventIdBytes = 16;

// --- SPEC.md section 6: the seal, in the last kSealRecordBytes of a segment (the seal slot) ---

inline constexpr std::size_t kSealBodyBytes = 32;
inline constexpr std::size_t kSealRecordBytes = kRecordHeaderBytes + kSealBodyBytes;

// --- SPEC.md section 7: limits --------------------------------------------

inline constexpr std::size_t kStreamNameBytesMax = 1024;
inline constexpr std::size_t kEventTypeBytesMax = 256;
// Hard ceilings; a log may configure lower limits (LogOptions).
inline constexpr std::size_t kEventBytesMax = 16u << 20;  // type + metadata + data
inline constexpr std::size_t kBatchEventsMax = 65535;
inline constexpr std::size_t kRecordBytesMax = 64u << 20;  // header + body + padding
inline constexpr std::uint64_t kSegmentBytesMin = 64u << 10;
// Positions in index files are 32-bit (SPEC.md section 13).
inline constexpr std::uint64_t kSegmentBytesMax = 1ull << 32;
// Defaults (LogOptions).
inline constexpr std::uint64_t kSegmentBytesDefault = 64u << 20;
inline constexpr std::size_t kEventBytesMaxDefault = 1u << 20;
inline constexpr std::size_t kBatchBytesMaxDefault = 4u << 20;
inline constexpr std::uint32_t kWriteWindowBytesDefault = 16u << 20;
inline constexpr std::uint32_t kIndexIntervalBytesDefault = 4096;

// --- SPEC.md section 8: the recovery point ---------------------------------

inline constexpr std::uint64_t kRecoveryPointMagic = 0x544E494F50434552ull;  // "RECPOINT"
inline constexpr std::size_t kRecoveryPointBytes = 80;

// Relationships the codecs rely on.
static_assert(kRecordHeaderBytes % kRecordAlignment == 0);
static_assert(kBatchPrefixBytes % kRecordAlignment == 0);
static_assert(kEventHeaderBytes % kRecordAlignment == 0);
static_assert(kSealRecordBytes % kRecordAlignment == 0);
static_assert(kSegmentHeaderBlockBytes % kRecordAlignment == 0);
static_assert(kSegmentHeaderBytes <= kSegmentHeaderBlockBytes);
static_assert(kBatchBytesMaxDefault <= kWriteWindowBytesDefault);
static_assert(kEventBytesMaxDefault <= kBatchBytesMaxDefault);

// Bytes of a record whose body is `body_bytes`, padding included.
constexpr std::size_t record_bytes(std::size_t body_bytes) {
  return (kRecordHeaderBytes + body_bytes + kRecordAlignment - 1) / kRecordAlignment *
         kRecordAlignment;
}

}  // namespace cairn::format
