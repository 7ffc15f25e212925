// The child of the process-kill test (kill_test.cc). It works on a real log
// through a real backend until the parent kills it with SIGKILL, and reports
// on a pipe every acknowledgement it got, each line written with one write()
// (atomic on a pipe up to PIPE_BUF) only AFTER the call that acknowledged it
// returned OK. So every line the parent reads names events that were
// acknowledged durable before the kill.
//
//   kill_child append  <dir> <posix|io_uring> <seed> <segment_bytes> <threads> <fd>
//   kill_child recover <dir> <posix|io_uring> <seed> <segment_bytes> <close:0|1> <fd>
//
// append: open the log, then 1..4 threads append events of random sizes to
// their own streams (exact expected version) and to one shared stream (any),
// with Durability::sync, async or none; async and none appends are waited for
// in batches with wait_durable. Runs until killed (or 60 s).
// recover: open the log (which recovers it), report, then either close it or
// exit at once without closing (a crash right after recovery).
//
// Lines (all numbers decimal unless noted):
//   O <next_lsn> <durable_lsn> <open_us>       open() returned OK
//   A <first_lsn> <count> <first_version> <stream> <hash hex>
//                                              these events are acknowledged
//   W <lsn_end>                                every LSN below is acknowledged
//   C                                          close() returned OK
//   E <message>                                an unexpected error; exit 3
#include <cairn/log.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/crash/kill_common.h"

using namespace cairn;
using namespace cairn::killtest;

namespace {

int g_fd = -1;

void report(const std::string& line) {
  // One write per line: the pipe keeps it whole (line < PIPE_BUF).
  const std::string text = line + "\n";
  const ssize_t n = ::write(g_fd, text.data(), text.size());
  if (n != static_cast<ssize_t>(text.size())) {
    ::_exit(4);  // the parent is gone
  }
}

[[noreturn]] void fail(const std::string& what) {
  std::string line = "E " + what;
  for (auto& c : line) {
    c = c == '\n' ? ' ' : c;
  }
  report(line.substr(0, 1000));
  std::fprintf(stderr, "kill_child: %s\n", what.c_str());
  ::_exit(3);
}

struct Pending {
  AppendResult result;
  std::string stream;
  std::uint64_t hash;
};

void report_append(const Pending& p) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "A %llu %u %llu %s %016llx",
                static_cast<unsigned long long>(p.result.first_lsn), p.result.count,
                static_cast<unsigned long long>(p.result.first_version), p.stream.c_str(),
                static_cast<unsigned long long>(p.hash));
  report(buf);
}

void appender(Log& log, std::uint64_t seed, unsigned thread, std::uint64_t event_bytes_max) {
  std::mt19937_64 rng(mix(seed ^ mix(thread + 1)));
  auto uniform = [&](std::uint64_t lo, std::uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  const std::string own[3] = {"t" + std::to_string(thread) + ".a",
                              "t" + std::to_string(thread) + ".b",
                              "t" + std::to_string(thread) + ".c"};
  std::uint64_t next_version[3];
  for (int i = 0; i < 3; ++i) {
    next_version[i] = log.next_version(own[i]).value();
  }
  std::vector<Pending> pending;
  for (std::uint64_t counter = 0;; ++counter) {
    // Streams: this thread's own (exact expected version) or the shared one.
    const std::uint64_t pick = uniform(0, 3);
    const std::string stream = pick == 3 ? std::string("shared") : own[pick];
    ExpectedVersion expected = ExpectedVersion::any();
    if (pick < 3) {
      expected = next_version[pick] == 0 ? ExpectedVersion::no_stream()
                                         : ExpectedVersion::exact(next_version[pick] - 1);
    }
    // Sizes: mostly small, some of several KiB, a few up to the largest event.
    const unsigned count = static_cast<unsigned>(uniform(0, 9) < 7 ? 1 : uniform(2, 4));
    std::vector<std::string> data(count);
    std::vector<NewEvent> events(count);
    std::uint64_t hash = 14695981039346656037ull;
    const std::string_view type = event_type(counter);
    for (unsigned i = 0; i < count; ++i) {
      const std::uint64_t r = uniform(0, 99);
      // Capped so that the whole append stays within batch_bytes_max.
      const std::uint64_t cap = event_bytes_max / count - 256;
      std::uint64_t size = r < 80   ? uniform(1, 1500)
                           : r < 95 ? uniform(1500, 8000)
                                    : uniform(std::min<std::uint64_t>(8000, cap), cap);
      size = std::min(size, cap);
      data[i] = make_data(EventKey{seed, thread, counter, i, count}, size);
      events[i].type = type;
      events[i].data = data[i];
      hash = event_hash(type, data[i], hash);
    }
    const std::uint64_t d = uniform(0, 9);
    const Durability durability = d < 5   ? Durability::sync
                                  : d < 9 ? Durability::async
                                          : Durability::none;
    auto r = log.append(stream, expected, events, durability);
    if (!r.has_value()) {
      fail("append to " + stream + ": " + r.error().to_string());
    }
    if (pick < 3) {
      if (r->first_version != next_version[pick]) {
        fail("append to " + stream + " got version " + std::to_string(r->first_version) +
             ", expected " + std::to_string(next_version[pick]));
      }
      next_version[pick] += count;
    }
    Pending p{*r, stream, hash};
    if (durability == Durability::sync) {
      report_append(p);  // the return was the acknowledgement
    } else {
      pending.push_back(p);
      if (pending.size() >= 8 || uniform(0, 3) == 0) {
        const std::uint64_t end = pending.back().result.end_lsn();
        const Status s = log.wait_durable(end);
        if (!s.ok()) {
          fail("wait_durable(" + std::to_string(end) + "): " + s.to_string());
        }
        for (const auto& q : pending) {
          report_append(q);
        }
        report("W " + std::to_string(end));
        pending.clear();
      }
    }
    if (uniform(0, 15) == 0) {
      report("W " + std::to_string(log.durable_lsn()));
    }
  }
}

std::uint64_t parse_u64(const char* s, int base = 10) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, base);
  if (end == s || *end != '\0') {
    std::fprintf(stderr, "kill_child: bad number '%s'\n", s);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr,
                 "usage: kill_child append|recover <dir> posix|io_uring <seed hex> "
                 "<segment_bytes> <threads|close> <fd>\n");
    return 2;
  }
  // Never outlive the test that started us.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const std::string mode = argv[1];
  const std::string dir = argv[2];
  const std::string backend_name = argv[3];
  const std::uint64_t seed = parse_u64(argv[4], 16);
  const std::uint64_t segment_bytes = parse_u64(argv[5]);
  const std::uint64_t extra = parse_u64(argv[6]);
  g_fd = static_cast<int>(parse_u64(argv[7]));
  io::Backend backend = io::Backend::posix;
  if (backend_name == "io_uring") {
    backend = io::Backend::io_uring;
  } else if (backend_name != "posix") {
    std::fprintf(stderr, "kill_child: unknown backend %s\n", backend_name.c_str());
    return 2;
  }
  if (mode != "append" && mode != "recover") {
    std::fprintf(stderr, "kill_child: unknown mode %s\n", mode.c_str());
    return 2;
  }

  const auto start = std::chrono::steady_clock::now();
  auto opened = Log::open(kill_options(dir, backend, segment_bytes));
  if (!opened.has_value()) {
    fail("open: " + opened.error().to_string());
  }
  std::unique_ptr<Log> log = std::move(*opened);
  const auto open_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  report("O " + std::to_string(log->next_lsn()) + " " + std::to_string(log->durable_lsn()) + " " +
         std::to_string(open_us));

  if (mode == "recover") {
    if (extra != 0) {
      const Status s = log->close();
      if (!s.ok()) {
        fail("close: " + s.to_string());
      }
      report("C");
    }
    ::_exit(0);  // without close when not asked: a crash right after recovery
  }

  const unsigned threads = static_cast<unsigned>(extra);
  if (threads < 1 || threads > 16) {
    fail("threads must be 1..16");
  }
  const std::uint64_t event_bytes_max = kill_options(dir, backend, segment_bytes).event_bytes_max;
  for (unsigned t = 0; t < threads; ++t) {
    std::thread([&log, seed, t, event_bytes_max] {
      appender(*log, seed, t, event_bytes_max);
    }).detach();
  }
  std::this_thread::sleep_for(std::chrono::seconds(60));
  ::_exit(0);  // the parent should have killed us long ago
}
