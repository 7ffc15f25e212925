// cairn-memory-floor: how fast this machine can walk the bytes of a replay,
// to tell what any verifying reader can reach here from what the engine
// costs (the evidence behind issue 5's replay targets). Public API and the
// bench's XXH3 build only.
//
//   cairn-memory-floor DIR [ROUNDS]   DIR is a Cairn log (e.g. one kept by
//                                     `cairn-compare --keep`); its segments
//                                     are mapped read-only and walked in
//                                     fixed 352-byte strides, the size of a
//                                     one-event record of 200 data bytes
//
// Each round runs, in turn, over the same mapped bytes:
//   two-lines  one load from the first and one from the last 64-byte line
//              of each stride: what a reader that verifies nothing touches
//              per event (an LMDB cursor reads the key and the value's ends)
//   all-lines  one load from every 64-byte line: the least any reader that
//              checks every byte must move, with no computing at all
//   xxh3       XXH3-64 of each stride (the checksum work alone, no parsing),
//              the AVX2 build where the CPU has it, as Cairn's and as the
//              raw reference of cairn-compare
//   xxh3-ahead the same, asking for the lines ~4 KiB ahead first (as the
//              engine's scanner does): how much of xxh3's time is waiting
//   cairn      Log::read_from(0) over the whole log: the engine's replay,
//              every record's checksums verified, events handed out one
//              per next() call
//   cairn-many the same replay through next_many(), 256 views per call
//              (what cairn-compare's replay uses)
// and prints strides (events) per second for each, then the median per
// kind. The first three count strides, the last real events; both are one
// per 352 bytes for the cairn-compare replay data set. Nothing here is a
// test: it prints what this machine does.
#include <cairn/log.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "record_hash.h"

namespace {

constexpr std::size_t kStride = 352;
// xxh3-ahead asks for the lines this many strides ahead (~4 KiB, as the
// engine's scanner does).
constexpr std::size_t kAheadStrides = 12;

struct Mapped {
  const unsigned char* bytes;
  std::size_t size;
};

std::vector<Mapped> map_segments(const std::string& dir) {
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".seg") {
      paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<Mapped> out;
  for (const auto& path : paths) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
      std::perror(path.c_str());
      std::exit(1);
    }
    void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) {
      std::perror("mmap");
      std::exit(1);
    }
    out.push_back({static_cast<const unsigned char*>(p), static_cast<std::size_t>(st.st_size)});
  }
  return out;
}

std::uint64_t load(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Walks every stride of every segment with `per_stride`; returns strides.
template <class F>
std::uint64_t walk(const std::vector<Mapped>& segments, std::uint64_t& sink, F per_stride) {
  std::uint64_t strides = 0;
  for (const Mapped& m : segments) {
    for (std::size_t at = 0; at + kStride <= m.size; at += kStride) {
      sink += per_stride(m.bytes + at);
      ++strides;
    }
  }
  return strides;
}

std::uint64_t replay(cairn::Log& log, std::uint64_t& sink) {
  auto reader = log.read_from(0);
  if (!reader) {
    std::fprintf(stderr, "read_from: %s\n", reader.error().to_string().c_str());
    std::exit(1);
  }
  cairn::EventView view;
  std::uint64_t events = 0;
  while (true) {
    auto more = (*reader)->next(view);
    if (!more || !*more) {
      if (!more) {
        std::fprintf(stderr, "read: %s\n", more.error().to_string().c_str());
        std::exit(1);
      }
      return events;
    }
    ++events;
    if (!view.data.empty()) {
      sink += static_cast<unsigned char>(view.data.front()) +
              static_cast<unsigned char>(view.data.back());
    }
  }
}

std::uint64_t replay_many(cairn::Log& log, std::uint64_t& sink) {
  auto reader = log.read_from(0);
  if (!reader) {
    std::fprintf(stderr, "read_from: %s\n", reader.error().to_string().c_str());
    std::exit(1);
  }
  std::vector<cairn::EventView> views(256);
  std::uint64_t events = 0;
  while (true) {
    auto got = (*reader)->next_many(views);
    if (!got) {
      std::fprintf(stderr, "read: %s\n", got.error().to_string().c_str());
      std::exit(1);
    }
    if (*got == 0) {
      return events;
    }
    events += *got;
    for (std::size_t i = 0; i < *got; ++i) {
      const std::string_view data = views[i].data;
      if (!data.empty()) {
        sink += static_cast<unsigned char>(data.front()) + static_cast<unsigned char>(data.back());
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [ROUNDS]\n", argv[0]);
    return 2;
  }
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  cairn::LogOptions options;
  options.directory = argv[1];
  options.create_if_missing = false;
  auto log = cairn::Log::open(options);
  if (!log) {
    std::fprintf(stderr, "open: %s\n", log.error().to_string().c_str());
    return 1;
  }
  const std::vector<Mapped> segments = map_segments(argv[1]);
  std::uint64_t sink = 0;
  using Clock = std::chrono::steady_clock;
  std::map<std::string, std::vector<double>> rates;
  const auto timed = [&](const char* kind, auto body) {
    const auto t = Clock::now();
    const std::uint64_t n = body();
    const double s = std::chrono::duration<double>(Clock::now() - t).count();
    rates[kind].push_back(static_cast<double>(n) / s);
    std::printf("  %-11s %6.2fM/s\n", kind, static_cast<double>(n) / s / 1e6);
  };
  for (int r = 0; r <= rounds; ++r) {
    std::printf(r == 0 ? "warm-up (not counted)\n" : "round %d\n", r);
    timed("two-lines", [&] {
      return walk(segments, sink, [](const unsigned char* p) { return load(p) + load(p + 344); });
    });
    timed("all-lines", [&] {
      return walk(segments, sink, [](const unsigned char* p) {
        std::uint64_t s = 0;
        for (std::size_t line = 0; line < kStride; line += 64) {
          s += load(p + line);
        }
        return s;
      });
    });
    timed("xxh3", [&] {
      return walk(segments, sink,
                  [](const unsigned char* p) { return cairn_bench::record_hash(p, kStride); });
    });
    timed("xxh3-ahead", [&] {
      return walk(segments, sink, [](const unsigned char* p) {
        for (std::size_t line = 0; line < kStride; line += 64) {
          __builtin_prefetch(p + kAheadStrides * kStride + line);
        }
        return cairn_bench::record_hash(p, kStride);
      });
    });
    timed("cairn", [&] { return replay(**log, sink); });
    timed("cairn-many", [&] { return replay_many(**log, sink); });
    if (r == 0) {
      rates.clear();
    }
  }
  std::printf("median of %d rounds (events or strides per second):\n", rounds);
  for (auto& [kind, v] : rates) {
    std::sort(v.begin(), v.end());
    std::printf("  %-11s %6.2fM/s\n", kind.c_str(), v[v.size() / 2] / 1e6);
  }
  std::printf("(checksum of the loads, so none is optimised away: %llu)\n",
              static_cast<unsigned long long>(sink % 1000));
  return 0;
}
