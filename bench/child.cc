// Child processes of the harness (see child.h): the parent re-executes
// /proc/self/exe with --child and a request on the command line, reads one
// "result key=value ..." or "error ..." line from the child's stdout, and
// waits for it.
#include "child.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "dataset.h"

extern char** environ;

namespace cairn_bench {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<pid_t> g_child{0};

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::vector<std::string> request_args(const ChildRequest& r) {
  return {"--child",
          r.mode,
          r.system,
          r.directory,
          std::to_string(r.capacity_events),
          std::to_string(r.segment_bytes),
          std::to_string(r.event_bytes),
          std::to_string(r.streams),
          std::to_string(r.run_length),
          std::to_string(r.start),
          std::to_string(r.count),
          std::to_string(r.until_segments),
          r.crash ? "crash" : "close"};
}

bool parse_request(int argc, char** argv, ChildRequest& r) {
  if (argc != 14) {
    return false;
  }
  auto u64 = [](const char* s) { return std::strtoull(s, nullptr, 10); };
  r.mode = argv[2];
  r.system = argv[3];
  r.directory = argv[4];
  r.capacity_events = u64(argv[5]);
  r.segment_bytes = u64(argv[6]);
  r.event_bytes = static_cast<std::size_t>(u64(argv[7]));
  r.streams = u64(argv[8]);
  r.run_length = u64(argv[9]);
  r.start = u64(argv[10]);
  r.count = u64(argv[11]);
  r.until_segments = u64(argv[12]);
  r.crash = std::strcmp(argv[13], "crash") == 0;
  return r.streams > 0 && r.run_length > 0 && r.event_bytes > 0;
}

// Writes the result line and flushes it (a crashing child dies right after).
void report(const std::map<std::string, double>& values) {
  std::string line = "result";
  for (const auto& [k, v] : values) {
    char buf[64];
    // %.17g: exact for counts (a loaded event count of 3,942,642 printed
    // with %.6g came back as 3,942,640, and the next writer's expected
    // versions were off by two).
    std::snprintf(buf, sizeof buf, " %s=%.17g", k.c_str(), v);
    line += buf;
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

int fail(const std::string& e) {
  std::string one_line = e;
  for (char& c : one_line) {
    if (c == '\n') {
      c = ' ';
    }
  }
  std::printf("error %s\n", one_line.c_str());
  std::fflush(stdout);
  return 1;
}

}  // namespace

double self_status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  std::size_t n = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, n, key) == 0) {
      return std::atof(line.c_str() + n);
    }
  }
  return -1;
}

std::unique_ptr<Peer> make_peer_by_name(const std::string& name) {
#if CAIRN_BENCH_HAVE_CAIRN
  if (name == "cairn") {
    return make_cairn_peer();
  }
  if (name == "cairn-1") {
    return make_cairn_single_flight_peer();
  }
  if (name == "cairn-uring") {
    return make_cairn_uring_peer();
  }
#endif
  if (name == "raw") {
    return make_raw_peer();
  }
#if CAIRN_BENCH_HAVE_SQLITE
  if (name == "sqlite") {
    return make_sqlite_peer();
  }
#endif
#if CAIRN_BENCH_HAVE_ROCKSDB
  if (name == "rocksdb") {
    return make_rocksdb_peer();
  }
#endif
#if CAIRN_BENCH_HAVE_LMDB
  if (name == "lmdb") {
    return make_lmdb_peer();
  }
#endif
  return nullptr;
}

void kill_running_child() {
  pid_t pid = g_child.load();
  if (pid > 0) {
    ::kill(pid, SIGKILL);
  }
}

ChildResult run_child(const ChildRequest& request) {
  ChildResult result;
  std::vector<std::string> args = request_args(request);
  std::string self = "/proc/self/exe";
  std::vector<char*> argv;
  argv.push_back(self.data());
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    result.error = std::string("posix_spawn: ") + std::strerror(rc);
    return result;
  }
  g_child = pid;
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;

  std::istringstream lines(out);
  std::string line;
  bool have_result = false;
  while (std::getline(lines, line)) {
    if (line.rfind("error ", 0) == 0) {
      result.error = line.substr(6);
    } else if (line.rfind("result", 0) == 0) {
      have_result = true;
      std::istringstream fields(line.substr(6));
      std::string kv;
      while (fields >> kv) {
        auto eq = kv.find('=');
        if (eq != std::string::npos) {
          result.values[kv.substr(0, eq)] = std::atof(kv.c_str() + eq + 1);
        }
      }
    }
  }
  if (!result.error.empty()) {
    return result;
  }
  const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (request.crash && request.mode == "load") {
    if (!killed || !have_result) {
      result.error =
          "crash child did not report and die by SIGKILL (status " + std::to_string(status) + ")";
    }
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !have_result) {
    result.error = "child " + request.mode + " of " + request.system + " ended with status " +
                   std::to_string(status) +
                   (WIFSIGNALED(status) ? " (signal " + std::to_string(WTERMSIG(status)) + ")"
                                        : std::string());
  }
  return result;
}

int child_main(int argc, char** argv) {
  ChildRequest r;
  if (!parse_request(argc, argv, r)) {
    return fail("bad --child request");
  }
  auto peer = make_peer_by_name(r.system);
  if (!peer) {
    return fail("system " + r.system + " is not built in");
  }
  PeerOptions po;
  po.directory = r.directory;
  po.capacity_events = r.capacity_events;
  po.segment_bytes = r.segment_bytes;
  po.event_bytes = r.event_bytes;
  std::map<std::string, double> values;
  values["rss_before_kb"] = self_status_kb("VmRSS:");
  auto t_open = Clock::now();
  if (Error e = peer->open(po); !e.empty()) {
    return fail(e);
  }
  values["open_ms"] = ms_since(t_open);
  values["rss_after_kb"] = self_status_kb("VmRSS:");
  values["segments"] = static_cast<double>(peer->segment_count());
  auto streams = peer->stream_count();
  values["streams"] = streams ? static_cast<double>(*streams) : -1;

  if (r.mode == "load") {
    DataPool pool(r.event_bytes);
    Layout layout{r.streams, r.run_length};
    std::uint64_t loaded = 0;
    auto t_load = Clock::now();
    // Loading up to a segment count: chunks of about 1/8 of a segment, each
    // made durable before the segments are counted (appends are
    // asynchronous, so the files appear only as the committer writes).
    const std::uint64_t chunk =
        r.until_segments > 0
            ? std::max<std::uint64_t>(64, r.segment_bytes / (r.event_bytes + 100) / 8)
            : 10'000;
    Error stop_error;
    Error e = load_events(
        *peer, pool, layout, r.start, r.count, loaded,
        [&] {
          if (r.until_segments == 0) {
            return false;
          }
          stop_error = peer->flush();
          return !stop_error.empty() || peer->segment_count() >= r.until_segments;
        },
        chunk);
    if (e.empty()) {
      e = stop_error;
    }
    if (e.empty()) {
      e = peer->flush();
    }
    if (!e.empty()) {
      return fail(e);
    }
    values["load_s"] = ms_since(t_load) / 1000.0;
    values["loaded"] = static_cast<double>(loaded);
    values["rss_loaded_kb"] = self_status_kb("VmRSS:");
    values["hwm_kb"] = self_status_kb("VmHWM:");
    values["segments"] = static_cast<double>(peer->segment_count());
    streams = peer->stream_count();
    values["streams"] = streams ? static_cast<double>(*streams) : -1;
    if (r.crash) {
      report(values);
      ::raise(SIGKILL);
      std::_Exit(9);  // not reached
    }
  } else if (r.mode != "open") {
    return fail("unknown child mode " + r.mode);
  }
  values["hwm_kb"] = std::max(values["hwm_kb"], self_status_kb("VmHWM:"));
  auto t_close = Clock::now();
  if (Error e = peer->close(); !e.empty()) {
    return fail(e);
  }
  values["close_ms"] = ms_since(t_close);
  report(values);
  return 0;
}

}  // namespace cairn_bench
