// A committer cycle on the in-memory file system: Log::append with
// Durability::sync on cairn::testing::MemFileSystem, so every append goes
// through the group committer (LSN assignment, encode, batch, write, sync,
// index update, acknowledgement) with no disk underneath. 1 and 4 threads
// (each its own stream); with several threads, appends share batches.
#include <benchmark/benchmark.h>
#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>

#include <memory>
#include <string>

#include "bench/micro/micro_common.h"

namespace cairn_micro {
namespace {

std::unique_ptr<cairn::Log> g_log;
std::shared_ptr<cairn::testing::MemFileSystem> g_fs;

void BM_CommitterSyncAppend(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_fs = std::make_shared<cairn::testing::MemFileSystem>();
    cairn::LogOptions o;
    o.directory = "/log";
    o.file_system = g_fs;
    o.durability = cairn::Durability::sync;
    auto log = cairn::Log::open(o);
    if (!log) {
      state.SkipWithError(log.error().to_string().c_str());
    } else {
      g_log = std::move(*log);
    }
  }
  const std::string data = event_data(200, static_cast<std::uint64_t>(state.thread_index()));
  const std::string stream = stream_of(static_cast<std::uint64_t>(state.thread_index()));
  cairn::NewEvent e;
  e.type = "Deposited";
  e.data = data;
  for (auto _ : state) {
    if (!g_log) {
      break;
    }
    auto r = g_log->append(stream, cairn::ExpectedVersion::any(), {&e, 1}, cairn::Durability::sync);
    if (!r) {
      state.SkipWithError(r.error().to_string().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    if (g_log) {
      auto stats = g_log->stats();
      state.counters["events_per_sync"] =
          stats.fsync_count > 0
              ? static_cast<double>(stats.next_lsn) / static_cast<double>(stats.fsync_count)
              : 0;
      (void)g_log->close();
    }
    g_log.reset();
    g_fs.reset();
  }
}
BENCHMARK(BM_CommitterSyncAppend)->Threads(1)->Threads(4)->UseRealTime();

}  // namespace
}  // namespace cairn_micro
