#include "format/record.h"

#include <cairn/assert.h>

#include <algorithm>
#include <cstring>

#include "format/byte_order.h"
#include "format/checksum.h"

namespace cairn::format {
namespace {

using namespace header_field;

void store_header(std::byte* p, const RecordHeader& h, std::uint64_t seed) {
  std::memset(p, 0, kRecordHeaderBytes);
  store_u64(p + kBodyChecksumAt, h.body_checksum);
  store_u64(p + kLsnAt, h.lsn);
  store_u64(p + kPriorDurableAt, h.prior_durable_lsn);
  store_u32(p + kBodyBytesAt, h.body_bytes);
  store_u32(p + kEventCountAt, h.event_count);
  store_u16(p + kKindAt, h.kind);
  store_u16(p + kFlagsAt, h.flags);
  store_u64(p + kHeaderChecksumAt, compute_header_checksum(p, seed));
}

std::string_view as_chars(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::byte* put_bytes(std::byte* p, std::string_view s) {
  if (!s.empty()) {
    std::memcpy(p, s.data(), s.size());
  }
  return p + s.size();
}

}  // namespace

std::uint64_t compute_header_checksum(const std::byte* p, std::uint64_t seed) {
  return xxh3({p + 8, kRecordHeaderBytes - 8}, seed);
}

std::uint64_t compute_header_checksum(const std::byte* p, const SeededXxh3& hash) {
  return hash({p + 8, kRecordHeaderBytes - 8});
}

bool is_all_zero(std::span<const std::byte> bytes) {
  // Word at a time: the scanner calls this over whole preallocated tails.
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    if (w != 0) {
      return false;
    }
  }
  for (; i < bytes.size(); ++i) {
    if (bytes[i] != std::byte{0}) {
      return false;
    }
  }
  return true;
}

const char* record_header_problem(const RecordHeader& h, std::size_t record_bytes_max) {
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

std::size_t batch_body_bytes(std::string_view stream, std::span<const NewEvent> events) {
  std::size_t bytes = kBatchPrefixBytes + stream.size();
  for (const auto& e : events) {
    bytes += kEventHeaderBytes + e.type.size() + e.metadata.size() + e.data.size();
  }
  return bytes;
}

void encode_batch(std::span<std::byte> out, const BatchFields& f,
                  std::span<const NewEvent> events) {
  const std::size_t body_bytes = batch_body_bytes(f.stream, events);
  CAIRN_ASSERT(out.size() == record_bytes(body_bytes));
  CAIRN_ASSERT(!events.empty() && events.size() <= kBatchEventsMax);
  CAIRN_ASSERT(!f.stream.empty() && f.stream.size() <= kStreamNameBytesMax);
  CAIRN_ASSERT(f.prior_durable_lsn <= f.lsn);
  for (const auto& e : events) {
    // Lengths are stored in 16 and 32 bits; the engine validated them, and
    // a silently truncated length would write a record no reader accepts.
    CAIRN_ASSERT(e.type.size() <= kEventTypeBytesMax);
    CAIRN_ASSERT(e.metadata.size() <= kEventBytesMax && e.data.size() <= kEventBytesMax);
  }
  std::byte* body = out.data() + kRecordHeaderBytes;
  std::memset(body, 0, kBatchPrefixBytes);
  store_u64(body + 0, f.first_version);
  store_u16(body + 8, static_cast<std::uint16_t>(f.stream.size()));
  std::byte* p = put_bytes(body + kBatchPrefixBytes, f.stream);
  for (const auto& e : events) {
    std::memset(p, 0, kEventHeaderBytes);
    store_u64(p + 0, static_cast<std::uint64_t>(e.time_ns));
    std::memcpy(p + 8, e.id.bytes.data(), kEventIdBytes);
    store_u32(p + 24, static_cast<std::uint32_t>(e.metadata.size()));
    store_u32(p + 28, static_cast<std::uint32_t>(e.data.size()));
    store_u16(p + 32, static_cast<std::uint16_t>(e.type.size()));
    p = put_bytes(p + kEventHeaderBytes, e.type);
    p = put_bytes(p, e.metadata);
    p = put_bytes(p, e.data);
  }
  CAIRN_ASSERT(p == body + body_bytes);
  std::memset(p, 0, static_cast<std::size_t>(out.data() + out.size() - p));
  RecordHeader h;
  h.body_checksum = xxh3({body, body_bytes}, f.seed);
  h.lsn = f.lsn;
  h.prior_durable_lsn = f.prior_durable_lsn;
  h.body_bytes = static_cast<std::uint32_t>(body_bytes);
  h.event_count = static_cast<std::uint32_t>(events.size());
  h.kind = static_cast<std::uint16_t>(RecordKind::batch);
  store_header(out.data(), h, f.seed);
}

std::uint64_t restamp_prior_durable(std::span<std::byte> record, std::uint64_t seed,
                                    std::uint64_t prior_durable_lsn) {
  CAIRN_ASSERT(record.size() >= kRecordHeaderBytes);
  CAIRN_ASSERT_MSG(prior_durable_lsn <= load_u64(record.data() + kLsnAt),
                   "a record cannot claim its own LSN was durable before it was written");
  store_u64(record.data() + kPriorDurableAt, prior_durable_lsn);
  std::uint64_t checksum = compute_header_checksum(record.data(), seed);
  store_u64(record.data() + kHeaderChecksumAt, checksum);
  return checksum;
}

const char* batch_body_problem(std::span<const std::byte> body, std::uint32_t event_count) {
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

BatchReader::BatchReader(std::span<const std::byte> body, std::uint64_t first_lsn,
                         std::uint32_t event_count)
    : body_(body), lsn_(first_lsn), remaining_(event_count) {
  CAIRN_ASSERT(body.size() >= kBatchPrefixBytes);
  position_ = kBatchPrefixBytes + load_u16(body.data() + 8);
}

std::string_view BatchReader::stream() const {
  return as_chars(body_.subspan(kBatchPrefixBytes, load_u16(body_.data() + 8)));
}

bool BatchReader::next(EventView& out) {
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

void encode_seal(std::span<std::byte, kSealRecordBytes> out, std::uint64_t seed,
                 std::uint64_t end_lsn, std::uint64_t prior_durable_lsn, const Seal& seal) {
  CAIRN_ASSERT(prior_durable_lsn <= end_lsn);
  std::byte* body = out.data() + kRecordHeaderBytes;
  store_u64(body + 0, seal.record_count);
  store_u64(body + 8, seal.event_count);
  store_u64(body + 16, seal.chain);
  store_u64(body + 24, static_cast<std::uint64_t>(seal.sealed_time_ns));
  RecordHeader h;
  h.body_checksum = xxh3({body, kSealBodyBytes}, seed);
  h.lsn = end_lsn;
  h.prior_durable_lsn = prior_durable_lsn;
  h.body_bytes = kSealBodyBytes;
  h.kind = static_cast<std::uint16_t>(RecordKind::seal);
  store_header(out.data(), h, seed);
}

Seal decode_seal_body(std::span<const std::byte> body) {
  CAIRN_ASSERT(body.size() == kSealBodyBytes);
  Seal s;
  s.record_count = load_u64(body.data() + 0);
  s.event_count = load_u64(body.data() + 8);
  s.chain = load_u64(body.data() + 16);
  s.sealed_time_ns = static_cast<std::int64_t>(load_u64(body.data() + 24));
  return s;
}

}  // namespace cairn::format
