#include "format/record.h"

#include <cairn/assert.h>

#include <algorithm>
#include <cstring>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/xxh3_inline.h"

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

std::byte* put_bytes(std::byte* p, std::string_view s) {
  if (!s.empty()) {
    std::memcpy(p, s.data(), s.size());
  }
  return p + s.size();
}

}  // namespace

std::uint64_t compute_header_checksum(const std::byte* p, std::uint64_t seed) {
  return inline_hash::header_checksum(p, seed);
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
