// cairn-id-probe: what idempotent appends and sealed indexes cost as a log
// grows (decisions 0014, 0015, 0016, 0017). Public API only.
//
//   cairn-id-probe DIR build N     appends N events of 200 bytes with random
//                                  ids over 10,000 streams (async, 8 MiB
//                                  segments), printing the rate every 250,000
//   cairn-id-probe DIR probe MIB   reopens DIR with index_cache_bytes = MIB
//                                  (0: no limit), times the first append with
//                                  a new id (to a stream that exists), then
//                                  the first append to a new stream, then 500
//                                  whole-stream reads, and prints LogStats'
//                                  cache figures and peak RSS after each
//
// Run `probe` twice: the first open after `build` finds no saved id filter
// only if the build did not close cleanly; every later one finds it. Delete
// DIR/ids.filter (DIR/streams.filter) to time the fill from the index files. Nothing here is a
// test: it prints what this machine does, one run at a time.
#include <cairn/log.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

long peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::atol(line.c_str() + 6) / 1024;
    }
  }
  return -1;
}

cairn::NewEvent random_event(std::mt19937_64& rng, const std::string& data) {
  cairn::NewEvent e;
  e.type = "t";
  e.data = data;
  const std::uint64_t a = rng(), b = rng();
  std::memcpy(e.id.bytes.data(), &a, 8);
  std::memcpy(e.id.bytes.data() + 8, &b, 8);
  return e;
}

void print_cache(const cairn::LogStats& s) {
  std::printf("index cache %.1f MB, loads %llu, evictions %llu; peak RSS %ld MB\n",
              static_cast<double>(s.index_cache_bytes) / 1e6,
              static_cast<unsigned long long>(s.index_loads),
              static_cast<unsigned long long>(s.index_evictions), peak_rss_mb());
}

int build(cairn::Log& log, long events) {
  std::mt19937_64 rng(42);
  const std::string data(200, 'x');
  auto t = Clock::now();
  for (long i = 1; i <= events; ++i) {
    const cairn::NewEvent e = random_event(rng, data);
    auto r = log.append("s" + std::to_string(i % 10000), cairn::ExpectedVersion::any(), {&e, 1},
                        cairn::Durability::async);
    if (!r) {
      std::fprintf(stderr, "append: %s\n", r.error().to_string().c_str());
      return 1;
    }
    if (i % 250000 == 0) {
      std::printf("%ld events, %llu segments: %.0f appends/s\n", i,
                  static_cast<unsigned long long>(log.stats().segment_count),
                  250000 / seconds_since(t));
      std::fflush(stdout);
      t = Clock::now();
    }
  }
  return log.wait_durable(log.next_lsn()).ok() ? 0 : 1;
}

int probe(cairn::Log& log) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()));
  const std::string data(200, 'y');
  // A new id on a stream that exists (its head is in the newest segments):
  // the cost of the id check alone.
  const cairn::NewEvent e = random_event(rng, data);
  auto t = Clock::now();
  auto r = log.append("s1", cairn::ExpectedVersion::any(), {&e, 1}, cairn::Durability::async);
  if (!r) {
    std::fprintf(stderr, "append: %s\n", r.error().to_string().c_str());
    return 1;
  }
  std::printf("first append with a new id: %.1f ms; ", seconds_since(t) * 1e3);
  print_cache(log.stats());
  // A stream no segment holds: its head is looked up in every sealed one.
  cairn::NewEvent plain;
  plain.type = "t";
  plain.data = data;
  t = Clock::now();
  r = log.append("new-" + std::to_string(rng()), cairn::ExpectedVersion::any(), {&plain, 1},
                 cairn::Durability::async);
  if (!r) {
    std::fprintf(stderr, "append: %s\n", r.error().to_string().c_str());
    return 1;
  }
  std::printf("first append to a new stream: %.1f ms; ", seconds_since(t) * 1e3);
  print_cache(log.stats());
  t = Clock::now();
  std::uint64_t events = 0;
  for (int k = 0; k < 500; ++k) {
    cairn::ReadOptions o;
    o.stream = "s" + std::to_string((k * 7919) % 10000);
    auto reader = log.read(o);
    if (!reader) {
      std::fprintf(stderr, "read: %s\n", reader.error().to_string().c_str());
      return 1;
    }
    cairn::EventView view;
    while (true) {
      auto more = (*reader)->next(view);
      if (!more) {
        std::fprintf(stderr, "read: %s\n", more.error().to_string().c_str());
        return 1;
      }
      if (!*more) {
        break;
      }
      ++events;
    }
  }
  std::printf("500 whole-stream reads (%llu events): %.0f reads/s; ",
              static_cast<unsigned long long>(events), 500 / seconds_since(t));
  print_cache(log.stats());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || (std::strcmp(argv[2], "build") != 0 && std::strcmp(argv[2], "probe") != 0)) {
    std::fprintf(stderr, "usage: %s DIR build EVENTS | %s DIR probe CACHE_MIB\n", argv[0], argv[0]);
    return 2;
  }
  const bool building = std::strcmp(argv[2], "build") == 0;
  const long n = std::atol(argv[3]);
  cairn::LogOptions o;
  o.directory = argv[1];
  o.segment_bytes = 8u << 20;
  if (!building) {
    o.create_if_missing = false;
    o.index_cache_bytes = static_cast<std::size_t>(n) << 20;
  }
  auto log = cairn::Log::open(o);
  if (!log) {
    std::fprintf(stderr, "open %s: %s\n", argv[1], log.error().to_string().c_str());
    return 1;
  }
  std::printf("opened %s: %llu segments; peak RSS %ld MB\n", argv[1],
              static_cast<unsigned long long>((*log)->stats().segment_count), peak_rss_mb());
  return building ? build(**log, n) : probe(**log);
}
