// Index lookups (engine::SegmentIndex): LSN -> position (the sparse offset
// index) and stream -> records, on a tail index (in memory, growing) and on
// a sealed one (sorted tables and a bloom filter, as loaded from an index
// file). The index covers a 64 MiB segment of one-event 200-byte records
// over 1,000 streams (about 190,000 records).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "bench/micro/micro_common.h"
#include "engine/segment_index.h"
#include "format/index_file.h"
#include "format/layout.h"
#include "format/scanner.h"

namespace cairn_micro {
namespace {

using cairn::engine::SegmentIndex;

constexpr std::uint64_t kStreams = 1000;

struct Indexes {
  Image image;
  std::unique_ptr<SegmentIndex> tail;
  std::unique_ptr<SegmentIndex> sealed;
  std::vector<std::uint64_t> stream_hashes;
};

// Built once (the first benchmark that needs it pays, outside its timing).
const Indexes& indexes() {
  static const Indexes* built = [] {
    auto* ix = new Indexes;
    const std::uint64_t records = (64u << 20) / 352;
    ix->image = make_image(records, 1, kStreams);
    ix->tail = std::make_unique<SegmentIndex>(1, 0, cairn::format::kIndexIntervalBytesDefault);
    cairn::format::RecordScanner scanner(ix->image.bytes, 0, kSeed, 0,
                                         cairn::format::ScanState::segment_start(0, kSeed));
    cairn::format::RecordView record;
    while (scanner.next(record)) {
      ix->tail->add_record(record, scanner.state().chain);
    }
    ix->sealed = std::make_unique<SegmentIndex>(ix->tail->to_file());
    for (std::uint64_t s = 0; s < kStreams; ++s) {
      ix->stream_hashes.push_back(cairn::format::stream_hash(stream_of(s)));
    }
    return ix;
  }();
  return *built;
}

const SegmentIndex& pick(const Indexes& ix, std::int64_t sealed) {
  return sealed != 0 ? *ix.sealed : *ix.tail;
}

// seek_lsn of a random LSN: where a read from that LSN starts scanning.
void BM_SeekLsn(benchmark::State& state) {
  const Indexes& ix = indexes();
  const SegmentIndex& index = pick(ix, state.range(0));
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    auto seek = index.seek_lsn(rng() % ix.image.events);
    benchmark::DoNotOptimize(seek.position);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SeekLsn)->Arg(0)->Arg(1)->ArgName("sealed");

// stream_records of a stream in the segment (~190 records): the per-segment
// step of reading one stream.
void BM_StreamRecordsHit(benchmark::State& state) {
  const Indexes& ix = indexes();
  const SegmentIndex& index = pick(ix, state.range(0));
  std::mt19937_64 rng(2);
  std::uint64_t found = 0;
  for (auto _ : state) {
    auto entries = index.stream_records(ix.stream_hashes[rng() % kStreams]);
    found += entries.size();
    benchmark::DoNotOptimize(entries.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["records_per_lookup"] =
      static_cast<double>(found) /
      static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
}
BENCHMARK(BM_StreamRecordsHit)->Arg(0)->Arg(1)->ArgName("sealed");

// stream_records of a stream that is not in the segment: what every segment
// without the stream costs a stream read (sealed: the bloom filter answers).
void BM_StreamRecordsMiss(benchmark::State& state) {
  const Indexes& ix = indexes();
  const SegmentIndex& index = pick(ix, state.range(0));
  std::vector<std::uint64_t> absent;
  for (std::uint64_t s = 0; s < 1024; ++s) {
    absent.push_back(cairn::format::stream_hash(stream_of(kStreams + 1 + s)));
  }
  std::uint64_t i = 0;
  std::uint64_t found = 0;
  for (auto _ : state) {
    auto entries = index.stream_records(absent[i++ & 1023]);
    found += entries.size();
    benchmark::DoNotOptimize(entries.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["false_positive_records"] = static_cast<double>(found);
}
BENCHMARK(BM_StreamRecordsMiss)->Arg(0)->Arg(1)->ArgName("sealed");

}  // namespace
}  // namespace cairn_micro
