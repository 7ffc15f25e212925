// Record encode and scanner decode with verification (format/).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <span>
#include <vector>

#include "bench/micro/micro_common.h"
#include "format/layout.h"
#include "format/record.h"
#include "format/scanner.h"

namespace cairn_micro {
namespace {

using cairn::format::BatchFields;
using cairn::format::BatchReader;
using cairn::format::RecordScanner;
using cairn::format::RecordView;
using cairn::format::ScanState;
using cairn::format::ScanStop;

// format::encode_batch of one record of N events (arg) of 200 bytes: header,
// body, both XXH3 checksums, padding. What the committer's appenders do per
// append before the batch is written.
void BM_EncodeBatch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::string data = event_data(200);
  std::vector<cairn::NewEvent> events(n);
  for (auto& e : events) {
    e.type = "Deposited";
    e.data = data;
    e.time_ns = 1'700'000'000'000'000'000;
  }
  const std::string stream = "account-12345";
  const std::size_t size =
      cairn::format::record_bytes(cairn::format::batch_body_bytes(stream, events));
  std::vector<std::byte> out(size);
  BatchFields f;
  f.seed = kSeed;
  f.stream = stream;
  std::uint64_t lsn = 0;
  for (auto _ : state) {
    f.lsn = lsn;
    f.prior_durable_lsn = lsn;
    cairn::format::encode_batch(out, f, events);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    lsn += n;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(size));
  state.counters["record_bytes"] = static_cast<double>(size);
}
BENCHMARK(BM_EncodeBatch)->Arg(1)->Arg(10)->ArgName("events");

// format::RecordScanner over a 16 MiB image of one-event records of 200 bytes
// (header and body checksums verified, padding checked), and every event
// decoded with BatchReader: the replay path without I/O. Items = events.
void BM_ScanVerifyDecode(benchmark::State& state) {
  const auto per_record = static_cast<std::uint32_t>(state.range(0));
  const std::uint64_t record_bytes_estimate = 48 + 16 + per_record * (40 + 16 + 9 + 200) + 16;
  const std::uint64_t records = (16u << 20) / record_bytes_estimate;
  const Image image = make_image(records, per_record, 1000);
  const std::span<const std::byte> bytes(image.bytes);
  std::uint64_t events = 0;
  for (auto _ : state) {
    RecordScanner scanner(bytes, 0, kSeed, 0, ScanState::segment_start(0, kSeed));
    RecordView record;
    std::uint64_t n = 0;
    std::uint64_t fold = 0;
    while (scanner.next(record)) {
      BatchReader reader(record.body, record.header.lsn, record.header.event_count);
      cairn::EventView view;
      while (reader.next(view)) {
        fold += view.data.size() + static_cast<unsigned char>(view.data.front());
        ++n;
      }
    }
    if (scanner.stop() != ScanStop::zero_header || n != image.events) {
      state.SkipWithError("scanner did not read the whole image");
      break;
    }
    benchmark::DoNotOptimize(fold);
    events += n;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.SetBytesProcessed(
      state.iterations() *
      static_cast<std::int64_t>(image.end_position - cairn::format::kSegmentHeaderBlockBytes));
}
BENCHMARK(BM_ScanVerifyDecode)
    ->Arg(1)
    ->Arg(10)
    ->ArgName("events_per_record")
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cairn_micro
