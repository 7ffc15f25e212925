#include "format/scanner.h"

#include <cairn/assert.h>

#include <algorithm>
#include <utility>

#include "format/byte_order.h"
#include "format/checksum.h"
#include "format/xxh3_inline.h"

namespace cairn::format {

const char* scan_stop_name(ScanStop stop) {
  switch (stop) {
    case ScanStop::none:
      return "none";
    case ScanStop::end_of_input:
      return "end of input";
    case ScanStop::short_data:
      return "short data";
    case ScanStop::sealed:
      return "sealed";
    case ScanStop::zero_header:
      return "zero header";
    case ScanStop::bad_header_checksum:
      return "bad header checksum";
    case ScanStop::bad_header:
      return "bad header";
    case ScanStop::bad_body_checksum:
      return "bad body checksum";
    case ScanStop::bad_body:
      return "bad body";
    case ScanStop::lsn_gap:
      return "LSN gap";
    case ScanStop::bad_seal:
      return "bad seal";
  }
  return "unknown";
}

bool scan_stop_is_damage(ScanStop stop) {
  switch (stop) {
    case ScanStop::none:
    case ScanStop::end_of_input:
    case ScanStop::sealed:
    case ScanStop::zero_header:
      return false;
    default:
      return true;
  }
}

RecordScanner::RecordScanner(std::span<const std::byte> bytes, std::uint64_t start_position,
                             std::uint64_t seed, std::uint64_t base_lsn, const ScanState& state,
                             std::size_t record_bytes_max, std::uint64_t segment_bytes)
    : bytes_(bytes),
      start_position_(start_position),
      hash_(seed),
      base_lsn_(base_lsn),
      record_bytes_max_(record_bytes_max),
      segment_bytes_(segment_bytes),
      state_(state) {
  CAIRN_ASSERT(state.position >= start_position);
  CAIRN_ASSERT(state.position % kRecordAlignment == 0);
}

// Asks for the cache lines up to kPrefetchAhead bytes past the record at
// `at` before its checksums are computed. A replay from the page cache
// waits on memory: hashing a record is a chain of dependent steps, so
// without this the loads of the next records start only as the hash
// reaches them. Measured (bench/cairn-memory-floor and a replay of 2M
// one-event records, builds alternated): +17% at 1.5 KiB ahead, +35% at
// 3 KiB, no further gain at 6 and 12 KiB. A prefetch never faults; it is
// kept inside the bytes given anyway.
//
// The lines are asked for in bursts of 1 KiB, once what was asked for is
// less than kPrefetchAhead past the record: most records cost one compare
// (measured with callgrind: ~37 -> ~15 instructions per record).
[[gnu::always_inline]] inline void RecordScanner::prefetch_ahead(std::size_t at) {
  constexpr std::size_t kPrefetchAhead = 4096;
  constexpr std::size_t kBurst = 1024;
  constexpr std::size_t kLine = 64;
  if (prefetched_ >= at + kPrefetchAhead) {
    return;
  }
  const std::size_t until = std::min(bytes_.size(), at + kPrefetchAhead + kBurst);
  std::size_t line = std::max(prefetched_, at + kPrefetchAhead / 2);
  if (line + kBurst <= until) {
    // A whole burst, unrolled: no loop test per line.
    const std::byte* from = bytes_.data() + line;
    [&]<std::size_t... k>(std::index_sequence<k...>) {
      (__builtin_prefetch(from + k * kLine), ...);
    }
    (std::make_index_sequence<kBurst / kLine>{});
    line += kBurst;
  }
  for (; line < until; line += kLine) {
    __builtin_prefetch(bytes_.data() + line);
  }
  prefetched_ = std::max(prefetched_, line);
}

bool RecordScanner::fail(ScanStop stop, const char* detail) {
  stop_ = stop;
  detail_ = detail;
  return false;
}

[[gnu::always_inline]] inline bool RecordScanner::scan(RecordView& out) {
  if (stop_ != ScanStop::none) {
    return false;
  }
  const std::uint64_t at = state_.position - start_position_;
  const std::uint64_t left = at <= bytes_.size() ? bytes_.size() - at : 0;
  // Just before the seal slot fewer bytes than a header remain; they must be
  // zero (the end marker) and are all that is checked, so that the seal's
  // own bytes are not mistaken for a damaged header.
  const std::uint64_t window =
      segment_bytes_ != 0 && state_.position < seal_position()
          ? std::min<std::uint64_t>(kRecordHeaderBytes, seal_position() - state_.position)
          : kRecordHeaderBytes;
  if (left < window) {
    return fail(ScanStop::end_of_input, "");
  }
  const std::byte* p = bytes_.data() + at;
  prefetch_ahead(at);
  // A header that starts with a non-zero word is not all zero: the test for
  // the end marker costs one load per record.
  if ((window < 8 || load_u64(p) == 0) && is_all_zero({p, window})) {
    if (!skip_to_seal_slot()) {
      return fail(ScanStop::zero_header, "");
    }
    return next(out);
  }
  if (window < kRecordHeaderBytes) {
    return fail(ScanStop::bad_header_checksum, "non-zero bytes too close to the seal slot");
  }
  if (left < kRecordHeaderBytes) {
    return fail(ScanStop::end_of_input, "");
  }
  const RecordHeader h = load_record_header(p);
  // Nothing in the header, its length least of all, is used before this check.
  if (h.header_checksum != inline_hash::header_checksum(p, hash_.seed())) {
    return fail(ScanStop::bad_header_checksum, "header checksum mismatch");
  }
  if (const char* problem = record_header_problem(h, record_bytes_max_); problem[0] != '\0') {
    return fail(ScanStop::bad_header, problem);
  }
  const std::size_t total = record_bytes(h.body_bytes);
  if (total > left) {
    return fail(ScanStop::short_data, "record runs past the available bytes");
  }
  const std::span<const std::byte> body{p + kRecordHeaderBytes, h.body_bytes};
  if (h.body_checksum != hash_(body)) {
    return fail(ScanStop::bad_body_checksum, "body checksum mismatch");
  }
  const std::size_t padding = total - kRecordHeaderBytes - h.body_bytes;  // 0..7 bytes
  // The padding is the last 0..7 bytes of the record's last word, which
  // lies inside the record (a record is at least a header long).
  if (padding != 0 && (load_u64(p + total - 8) >> (8 * (8 - padding))) != 0) {
    return fail(ScanStop::bad_body, "padding bytes are not zero");
  }
  const bool is_seal = h.kind == static_cast<std::uint16_t>(RecordKind::seal);
  if (segment_bytes_ != 0 && is_seal != (state_.position == seal_position())) {
    return fail(ScanStop::bad_header,
                is_seal ? "seal outside the seal slot" : "batch reaches into the seal slot");
  }
  if (segment_bytes_ != 0 && !is_seal && state_.position + total > seal_position()) {
    return fail(ScanStop::bad_header, "batch reaches into the seal slot");
  }
  if (h.lsn != state_.next_lsn) {
    return fail(ScanStop::lsn_gap, "record LSN is not the next LSN");
  }
  out = RecordView{state_.position, h, body, total};
  if (is_seal) {
    return accept_seal(out);
  }
  if (const char* problem = batch_body_problem(body, h.event_count); problem[0] != '\0') {
    return fail(ScanStop::bad_body, problem);
  }
  state_.position += total;
  state_.next_lsn += h.event_count;
  state_.chain = inline_hash::chain_step(state_.chain, h.header_checksum);
  state_.record_count += 1;
  return true;
}

bool RecordScanner::next(RecordView& out) { return scan(out); }

std::size_t RecordScanner::next_run(std::span<RecordView> out) {
  std::size_t n = 0;
  while (n < out.size() && scan(out[n])) {
    ++n;
  }
  return n;
}

// The end marker of a full segment: zeros from the last record up to the
// seal slot, then the seal. Returns true (and moves to the slot) only when
// the bytes between are all zero and the slot is not.
bool RecordScanner::skip_to_seal_slot() {
  if (segment_bytes_ == 0 || state_.position >= seal_position() ||
      segment_bytes_ > start_position_ + bytes_.size()) {
    return false;
  }
  const std::uint64_t at = state_.position - start_position_;
  const std::uint64_t slot = seal_position() - start_position_;
  if (is_all_zero(bytes_.subspan(slot, kSealRecordBytes)) ||
      !is_all_zero(bytes_.subspan(at, slot - at))) {
    return false;
  }
  state_.position = seal_position();
  return true;
}

bool RecordScanner::accept_seal(const RecordView& view) {
  const Seal seal = decode_seal_body(view.body);
  if (seal.record_count != state_.record_count) {
    return fail(ScanStop::bad_seal, "seal record count differs from the records read");
  }
  if (seal.event_count != state_.next_lsn - base_lsn_) {
    return fail(ScanStop::bad_seal, "seal event count differs from the events read");
  }
  if (seal.chain != state_.chain) {
    return fail(ScanStop::bad_seal, "seal chain differs from the records read");
  }
  state_.position += view.record_bytes;
  // The seal itself is yielded; the next call reports the stop.
  stop_ = ScanStop::sealed;
  return true;
}

LaterRecords probe_later_records(std::span<const std::byte> bytes, std::uint64_t start_position,
                                 std::uint64_t from_position, std::uint64_t seed) {
  LaterRecords found;
  CAIRN_ASSERT(from_position >= start_position);
  std::uint64_t at =
      (from_position - start_position + kRecordAlignment - 1) / kRecordAlignment * kRecordAlignment;
  for (std::uint64_t i = bytes.size(); i > at; --i) {
    if (bytes[i - 1] != std::byte{0}) {
      found.last_nonzero_position = start_position + i;
      break;
    }
  }
  for (; at + kRecordHeaderBytes <= bytes.size(); at += kRecordAlignment) {
    const std::byte* p = bytes.data() + at;
    // Cheap filter first: almost every word of a torn region fails here.
    const RecordHeader h = load_record_header(p);
    if (h.header_checksum == 0 || h.header_checksum != inline_hash::header_checksum(p, seed)) {
      continue;
    }
    if (record_header_problem(h, kRecordBytesMax)[0] != '\0' ||
        record_bytes(h.body_bytes) > bytes.size() - at ||
        h.body_checksum != xxh3({p + kRecordHeaderBytes, h.body_bytes}, seed)) {
      continue;
    }
    if (found.count == 0) {
      found.first_position = start_position + at;
    }
    ++found.count;
    found.max_prior_durable_lsn = std::max(found.max_prior_durable_lsn, h.prior_durable_lsn);
  }
  return found;
}

}  // namespace cairn::format
