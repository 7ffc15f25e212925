// Records (SPEC.md section 5): the 48-byte record header, the batch body that
// carries 1..N events of one stream, and the seal (section 6). Encoding writes
// into caller-owned buffers; decoding reads caller-owned bytes and never
// allocates. Nothing here trusts a length before the header checksum that
// covers it has verified.
#pragma once

#include <cairn/assert.h>
#include <cairn/event.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/layout.h"

namespace cairn::format {

inline std::string_view as_chars(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

struct RecordHeader {
  std::uint64_t header_checksum = 0;  // XXH3 of header bytes [8, 48), seeded
  std::uint64_t body_checksum = 0;    // XXH3 of the body (padding excluded), seeded
  std::uint64_t lsn = 0;              // batch: first LSN; seal: the segment's end LSN
  // Every LSN below this was durable when the record was written. Lets
  // recovery prove that damaged data before this record was acknowledged.
  std::uint64_t prior_durable_lsn = 0;
  std::uint32_t body_bytes = 0;
  std::uint32_t event_count = 0;  // seal: 0
  std::uint16_t kind = 0;         // RecordKind; 0 never parses
  std::uint16_t flags = 0;
  std::uint32_t reserved = 0;  // bytes [44, 48): zero in format version 1
};

// Byte positions inside the record header (SPEC.md section 5.1).
namespace header_field {
inline constexpr std::size_t kHeaderChecksumAt = 0;
inline constexpr std::size_t kBodyChecksumAt = 8;
inline constexpr std::size_t kLsnAt = 16;
inline constexpr std::size_t kPriorDurableAt = 24;
inline constexpr std::size_t kBodyBytesAt = 32;
inline constexpr std::size_t kEventCountAt = 36;
inline constexpr std::size_t kKindAt = 40;
inline constexpr std::size_t kFlagsAt = 42;
inline constexpr std::size_t kReservedAt = 44;
}  // namespace header_field

// Field-by-field load of 48 bytes; no checks. Inline: the scanner calls it
// for every record.
inline RecordHeader load_record_header(const std::byte* p) {
  using namespace header_field;
  RecordHeader h;
  h.header_checksum = load_u64(p + kHeaderChecksumAt);
  h.body_checksum = load_u64(p + kBodyChecksumAt);
  h.lsn = load_u64(p + kLsnAt);
  h.prior_durable_lsn = load_u64(p + kPriorDurableAt);
  h.body_bytes = load_u32(p + kBodyBytesAt);
  h.event_count = load_u32(p + kEventCountAt);
  h.kind = load_u16(p + kKindAt);
  h.flags = load_u16(p + kFlagsAt);
  h.reserved = load_u32(p + kReservedAt);
  return h;
}
// XXH3 of header bytes [8, 48) of the encoded header at p.
std::uint64_t compute_header_checksum(const std::byte* p, std::uint64_t seed);
bool is_all_zero(std::span<const std::byte> bytes);

// Why a header whose checksum verified still cannot be a record, or "" if it
// can: unknown kind, unknown flags, impossible sizes. Inline, as the two
// functions below: the scanner runs them for every record.
inline const char* record_header_problem(const RecordHeader& h, std::size_t record_bytes_max) {
  if (h.kind == 0 || h.kind > kRecordKindMax) {
    return "unknown record kind";
  }
  if ((h.flags & ~kRecordFlagsKnown) != 0) {
    return "unknown record flags";
  }
  if (h.reserved != 0) {
    return "reserved header bytes are not zero";
  }
  if (record_bytes(h.body_bytes) > record_bytes_max) {
    return "record larger than the limit";
  }
  if (h.kind == static_cast<std::uint16_t>(RecordKind::seal)) {
    if (h.body_bytes != kSealBodyBytes || h.event_count != 0) {
      return "malformed seal header";
    }
  } else if (h.event_count == 0 || h.event_count > kBatchEventsMax) {
    return "batch event count out of range";
  } else if (h.body_bytes < kBatchPrefixBytes + h.event_count * kEventHeaderBytes) {
    return "batch body too small for its events";
  }
  if (h.prior_durable_lsn > h.lsn) {
    // Nothing at or after this record's LSN can have been durable before it
    // was written.
    return "prior durable LSN beyond the record's LSN";
  }
  return "";
}

// --- batches ---

// Body bytes of a batch of `events` for `stream` (SPEC.md section 5.2).
std::size_t batch_body_bytes(std::string_view stream, std::span<const NewEvent> events);

struct BatchFields {
  std::uint64_t seed = 0;
  std::uint64_t lsn = 0;
  std::uint64_t prior_durable_lsn = 0;
  std::string_view stream;
  std::uint64_t first_version = 0;
};

// Encodes header + body + zero padding into `out`, which must be exactly
// record_bytes(batch_body_bytes(...)) long. Each event's time_ns is written
// as given (the caller stamps it).
void encode_batch(std::span<std::byte> out, const BatchFields& fields,
                  std::span<const NewEvent> events);

// Rewrites prior_durable_lsn of an encoded record in place and recomputes its
// header checksum; returns the new header checksum. The committer stamps each
// record just before it submits the batch.
std::uint64_t restamp_prior_durable(std::span<std::byte> record, std::uint64_t seed,
                                    std::uint64_t prior_durable_lsn);

// Why a batch body (whose body checksum verified) is malformed, or "".
inline const char* batch_body_problem(std::span<const std::byte> body, std::uint32_t event_count) {
  if (body.size() < kBatchPrefixBytes) {
    return "batch body shorter than its prefix";
  }
  const std::size_t stream_bytes = load_u16(body.data() + 8);
  if (load_u16(body.data() + 10) != 0 || load_u32(body.data() + 12) != 0) {
    return "reserved batch prefix bytes are not zero";
  }
  if (stream_bytes == 0 || stream_bytes > kStreamNameBytesMax) {
    return "stream name length out of range";
  }
  std::size_t at = kBatchPrefixBytes + stream_bytes;
  for (std::uint32_t i = 0; i < event_count; ++i) {
    if (body.size() - std::min(at, body.size()) < kEventHeaderBytes) {
      return "event header runs past the batch body";
    }
    const std::byte* e = body.data() + at;
    const std::uint64_t sizes =
        std::uint64_t{load_u32(e + 24)} + load_u32(e + 28) + load_u16(e + 32);
    if (load_u16(e + 32) > kEventTypeBytesMax) {
      return "event type longer than the limit";
    }
    if (load_u16(e + 34) != 0 || load_u32(e + 36) != 0) {
      return "reserved event header bytes are not zero";
    }
    if (sizes > body.size() - at - kEventHeaderBytes) {
      return "event runs past the batch body";
    }
    at += kEventHeaderBytes + sizes;
  }
  return at == body.size() ? "" : "batch body has bytes after its last event";
}

// Iterates the events of a batch body that passed batch_body_problem().
class BatchReader {
 public:
  BatchReader(std::span<const std::byte> body, std::uint64_t first_lsn, std::uint32_t event_count);
  bool next(EventView& out);
  bool done() const { return remaining_ == 0; }
  std::string_view stream() const;
  std::uint64_t first_version() const { return load_u64(body_.data()); }

 private:
  // Only the body and counters are kept; the stream and first version are
  // read from the body when used. Copying a stream view stored by the
  // constructor into each event stalled on store forwarding right after
  // construction (measured: ~8% of a replay of one-event batches).
  std::span<const std::byte> body_;
  std::size_t position_ = 0;
  std::uint64_t lsn_;
  std::uint32_t remaining_;
  std::uint64_t index_ = 0;
};

inline BatchReader::BatchReader(std::span<const std::byte> body, std::uint64_t first_lsn,
                                std::uint32_t event_count)
    : body_(body), lsn_(first_lsn), remaining_(event_count) {
  CAIRN_ASSERT(body.size() >= kBatchPrefixBytes);
  position_ = kBatchPrefixBytes + load_u16(body.data() + 8);
}

inline std::string_view BatchReader::stream() const {
  return as_chars(body_.subspan(kBatchPrefixBytes, load_u16(body_.data() + 8)));
}

inline bool BatchReader::next(EventView& out) {
  if (remaining_ == 0) {
    return false;
  }
  const std::byte* e = body_.data() + position_;
  const std::size_t metadata_bytes = load_u32(e + 24);
  const std::size_t data_bytes = load_u32(e + 28);
  const std::size_t type_bytes = load_u16(e + 32);
  // The body was validated by batch_body_problem(); this guards against a
  // caller that skipped it.
  CAIRN_ASSERT(position_ + kEventHeaderBytes + type_bytes + metadata_bytes + data_bytes <=
               body_.size());
  out.lsn = lsn_ + index_;
  out.stream = stream();
  out.version = first_version() + index_;
  out.time_ns = static_cast<std::int64_t>(load_u64(e));
  std::memcpy(out.id.bytes.data(), e + 8, kEventIdBytes);
  std::size_t at = position_ + kEventHeaderBytes;
  out.type = as_chars(body_.subspan(at, type_bytes));
  at += type_bytes;
  out.metadata = as_chars(body_.subspan(at, metadata_bytes));
  at += metadata_bytes;
  out.data = as_chars(body_.subspan(at, data_bytes));
  position_ = at + data_bytes;
  ++index_;
  --remaining_;
  return true;
}

// --- seals ---

struct Seal {
  std::uint64_t record_count = 0;  // batch records in the segment
  std::uint64_t event_count = 0;   // events in the segment (end LSN - base LSN)
  std::uint64_t chain = 0;         // record chain over every batch record
  std::int64_t sealed_time_ns = 0;
  bool operator==(const Seal&) const = default;
};

void encode_seal(std::span<std::byte, kSealRecordBytes> out, std::uint64_t seed,
                 std::uint64_t end_lsn, std::uint64_t prior_durable_lsn, const Seal& seal);
Seal decode_seal_body(std::span<const std::byte> body);

}  // namespace cairn::format
