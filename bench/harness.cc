// cairn-compare: Cairn and the systems a user would otherwise pick, on the
// same workloads, in one process and one run, reported side by side with
// Cairn's ratio to each (BRIEF.md section 7, issues 3 and 7).
//
//   cairn-compare [--quick] [--dir DIR] [--workloads a,b] [--systems a,b]
//                 [--repeat N] [--csv FILE] [--json FILE] ...   (--help)
//
// Every measurement runs in a fresh subdirectory of its own, is bounded in
// time (--seconds) and in events, and is repeated --repeat times with the
// systems interleaved; the table shows the repeat with the median events/s.
// Open-time and memory measurements (opentime, manystreams) run in child
// processes: cairn-compare --child ... (child.cc).
#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child.h"
#include "dataset.h"
#include "fsync_counter.h"
#include "peer.h"
#include "stats.h"

namespace cairn_bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// --- settings ----------------------------------------------------------------

const char* const kWorkloads[] = {"append1", "appendmt",   "append10", "pipelined",  "replay",
                                  "space",   "streamread", "opentime", "manystreams"};

struct Settings {
  bool quick = false;
  std::string dir_parent = "/var/tmp";
  bool keep = false;
  std::set<std::string> workloads;
  std::set<std::string> systems;  // empty = all built in
  std::vector<int> threads{4, 16, 64};
  double seconds = 3.0;                         // per append measurement
  std::uint64_t append_max_events = 1'000'000;  // per append measurement
  std::uint64_t pipelined_events = 2'000'000;
  std::uint64_t replay_events = 2'000'000;
  std::uint64_t replay_streams = 1000;
  std::uint64_t replay_reads = 3;  // full reads per load; the median counts
  std::size_t event_bytes = 200;
  int repeat = 3;
  std::string csv;
  std::string json;
  // append10: events per append, writer threads.
  std::uint64_t batch = 10;
  std::vector<int> batch_threads{1, 16};
  // streamread: data set and the number of timed stream reads.
  std::uint64_t streamread_events = 10'000'000;
  std::uint64_t streamread_streams = 100'000;
  std::uint64_t streamread_reads = 20'000;
  // opentime: Cairn's log grown to these segment counts of this size; the
  // peers get the same events when opentime_peers is set.
  std::vector<std::uint64_t> opentime_segments{16, 128};
  std::uint64_t opentime_segment_bytes = 64u << 20;
  bool opentime_peers = false;
  // manystreams: streams and events per stream.
  std::uint64_t manystreams_streams = 1'000'000;
  std::uint64_t manystreams_events_per_stream = 2;
};

void usage(std::FILE* out) {
  std::fprintf(out,
               R"(usage: cairn-compare [options]

Runs Cairn and its peers (raw pwrite+fdatasync reference, SQLite, RocksDB,
LMDB; those built in) on the same workloads and prints one table per
workload with Cairn's ratio to each peer.

  --quick               small, fast run (about two minutes): 0.3 s per append
                        measurement, 200k events for replay/pipelined/streamread,
                        opentime on 1 MiB segments (4 and 32), 50k streams for
                        manystreams, --repeat 1
  --dir DIR             parent of the fresh working directory (default /var/tmp);
                        the working directory is removed at the end
  --keep                keep the working directory
  --workloads LIST      comma-separated, from: append1, appendmt, append10,
                        pipelined, replay, space, streamread, opentime,
                        manystreams (default: all)
  --systems LIST        comma-separated, from: cairn, cairn-1 (batches_in_flight = 1;
                        only when listed), cairn-uring (the io_uring backend; only
                        when listed), raw, sqlite, rocksdb, lmdb
  --threads LIST        writer threads for appendmt (default 4,16,64)
  --seconds S           time bound of each append measurement (default 3)
  --append-max N        event bound of each append measurement (default 1000000)
  --events N            events of the replay data set (default 2000000)
  --replay-reads N      full reads of each loaded replay data set; the median
                        is that repeat's value (default 3; 1 in --quick)
  --pipelined-events N  events of the pipelined measurement (default 2000000)
  --event-bytes B       bytes of event data (default 200)
  --repeat N            repeat each measurement, report the median (default 3)
  --batch N             events per append of append10 (default 10)
  --batch-threads LIST  writer threads of append10 (default 1,16)
  --streamread-events N   data set of streamread (default 10000000)
  --streamread-streams N  streams of that data set (default 100000)
  --streamread-reads N    timed stream reads (default 20000)
  --opentime-segments LIST  Cairn segment counts the log grows to (default 16,128)
  --opentime-segment-mib N  segment size of the opentime log (default 64)
  --opentime-peers      also time the peers' open on the same events (on in
                        --quick; off by default in a full run: loading 8 GiB
                        into SQLite/RocksDB/LMDB takes many minutes)
  --manystreams-streams N   streams of manystreams (default 1000000)
  --manystreams-events N    events per stream of manystreams (default 2)
  --csv FILE            also write every reported row as CSV
  --json FILE           also write machine, settings and rows as JSON
  --help
)");
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) {
    if (!cur.empty()) {
      out.push_back(cur);
    }
  }
  return out;
}

[[noreturn]] void bad_usage(const std::string& why) {
  std::fprintf(stderr, "cairn-compare: %s (see --help)\n", why.c_str());
  std::exit(2);
}

std::uint64_t parse_count(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n == 0) {
    bad_usage(flag + " wants a positive integer, got '" + v + "'");
  }
  return n;
}

Settings parse_args(int argc, char** argv) {
  Settings s;
  std::map<std::string, std::string> given;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (a == "--quick" || a == "--keep" || a == "--opentime-peers") {
      given[a] = "1";
      continue;
    }
    std::string value;
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      bad_usage(a + " needs a value");
    }
    given[a] = value;
  }
  if (given.count("--quick")) {
    s.quick = true;
    s.seconds = 0.3;
    s.append_max_events = 100'000;
    s.pipelined_events = 200'000;
    s.replay_events = 200'000;
    s.replay_reads = 1;
    s.repeat = 1;
    s.streamread_events = 200'000;
    s.streamread_streams = 2'000;
    s.streamread_reads = 2'000;
    s.opentime_segments = {4, 32};
    s.opentime_segment_bytes = 1u << 20;
    s.opentime_peers = true;
    s.manystreams_streams = 50'000;
  }
  for (const auto& [flag, v] : given) {
    if (flag == "--quick") {
    } else if (flag == "--keep") {
      s.keep = true;
    } else if (flag == "--opentime-peers") {
      s.opentime_peers = true;
    } else if (flag == "--batch") {
      s.batch = std::min<std::uint64_t>(parse_count(flag, v), 10'000);
    } else if (flag == "--batch-threads") {
      s.batch_threads.clear();
      for (const auto& t : split(v, ',')) {
        s.batch_threads.push_back(
            static_cast<int>(std::min<std::uint64_t>(parse_count(flag, t), 1024)));
      }
    } else if (flag == "--streamread-events") {
      s.streamread_events = parse_count(flag, v);
    } else if (flag == "--streamread-streams") {
      s.streamread_streams = parse_count(flag, v);
    } else if (flag == "--streamread-reads") {
      s.streamread_reads = parse_count(flag, v);
    } else if (flag == "--opentime-segments") {
      s.opentime_segments.clear();
      for (const auto& t : split(v, ',')) {
        s.opentime_segments.push_back(parse_count(flag, t));
      }
      std::sort(s.opentime_segments.begin(), s.opentime_segments.end());
    } else if (flag == "--opentime-segment-mib") {
      s.opentime_segment_bytes = std::min<std::uint64_t>(parse_count(flag, v), 4096) << 20;
    } else if (flag == "--manystreams-streams") {
      s.manystreams_streams = parse_count(flag, v);
    } else if (flag == "--manystreams-events") {
      s.manystreams_events_per_stream = parse_count(flag, v);
    } else if (flag == "--dir") {
      s.dir_parent = v;
    } else if (flag == "--workloads") {
      for (const auto& w : split(v, ',')) {
        if (std::find_if(std::begin(kWorkloads), std::end(kWorkloads),
                         [&w](const char* k) { return w == k; }) == std::end(kWorkloads)) {
          bad_usage("unknown workload '" + w + "'");
        }
        s.workloads.insert(w);
      }
    } else if (flag == "--systems") {
      for (const auto& n : split(v, ',')) {
        s.systems.insert(n);
      }
    } else if (flag == "--threads") {
      s.threads.clear();
      for (const auto& t : split(v, ',')) {
        s.threads.push_back(static_cast<int>(std::min<std::uint64_t>(parse_count(flag, t), 1024)));
      }
    } else if (flag == "--seconds") {
      s.seconds = std::atof(v.c_str());
      if (!(s.seconds > 0 && s.seconds <= 600)) {
        bad_usage("--seconds wants a number in (0, 600]");
      }
    } else if (flag == "--append-max") {
      s.append_max_events = parse_count(flag, v);
    } else if (flag == "--events") {
      s.replay_events = parse_count(flag, v);
    } else if (flag == "--replay-reads") {
      s.replay_reads = parse_count(flag, v);
    } else if (flag == "--pipelined-events") {
      s.pipelined_events = parse_count(flag, v);
    } else if (flag == "--event-bytes") {
      s.event_bytes = parse_count(flag, v);
      if (s.event_bytes > (1u << 20)) {
        bad_usage("--event-bytes is at most 1 MiB");
      }
    } else if (flag == "--repeat") {
      s.repeat = static_cast<int>(std::min<std::uint64_t>(parse_count(flag, v), 100));
    } else if (flag == "--csv") {
      s.csv = v;
    } else if (flag == "--json") {
      s.json = v;
    } else {
      bad_usage("unknown option " + flag);
    }
  }
  if (s.workloads.empty()) {
    s.workloads.insert(std::begin(kWorkloads), std::end(kWorkloads));
  }
  return s;
}

// --- the systems -----------------------------------------------------------

struct System {
  std::string name;
  std::function<std::unique_ptr<Peer>()> make;
};

std::vector<System> built_in_systems() {
  std::vector<System> v;
#if CAIRN_BENCH_HAVE_CAIRN
  v.push_back({"cairn", make_cairn_peer});
  v.push_back({"cairn-1", make_cairn_single_flight_peer});
  v.push_back({"cairn-uring", make_cairn_uring_peer});
#endif
  v.push_back({"raw", make_raw_peer});
#if CAIRN_BENCH_HAVE_SQLITE
  v.push_back({"sqlite", make_sqlite_peer});
#endif
#if CAIRN_BENCH_HAVE_ROCKSDB
  v.push_back({"rocksdb", make_rocksdb_peer});
#endif
#if CAIRN_BENCH_HAVE_LMDB
  v.push_back({"lmdb", make_lmdb_peer});
#endif
  return v;
}

// --- the machine -----------------------------------------------------------

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string fs_type_name(long type) {
  switch (static_cast<unsigned long>(type)) {
    case 0xEF53:
      return "ext4";  // also ext2/ext3
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794C7630:
      return "overlayfs";
    case 0x2FC12FC1:
      return "zfs";
    case 0xF2F52010:
      return "f2fs";
    case 0x6969:
      return "nfs";
    case 0x65735546:
      return "fuse";
    case 0x858458F6:
      return "ramfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(type));
      return buf;
    }
  }
}

struct Machine {
  std::vector<std::pair<std::string, std::string>> facts;
  std::string fs_type;

  void add(const std::string& k, const std::string& v) { facts.emplace_back(k, v); }
};

Machine describe_machine(const std::string& dir) {
  Machine m;
  cpu_set_t set;
  CPU_ZERO(&set);
  int usable = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
  m.add("nproc",
        std::to_string(usable) + " (online " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + ")");
  std::string model = "?";
  bool hypervisor = false;
  {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (model == "?" && line.rfind("model name", 0) == 0) {
        model = line.substr(line.find(':') + 2);
      }
      if (line.rfind("flags", 0) == 0 && line.find(" hypervisor") != std::string::npos) {
        hypervisor = true;
      }
    }
  }
  m.add("cpu", model + (hypervisor ? " (virtual machine)" : ""));
  {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kb = 0;
    if (in >> key >> kb) {
      m.add("memory", std::to_string(kb / 1024) + " MiB");
    }
  }
  struct utsname u {};
  if (uname(&u) == 0) {
    m.add("kernel", std::string(u.sysname) + " " + u.release + " " + u.machine);
  }
  struct statfs sf {};
  m.fs_type = statfs(dir.c_str(), &sf) == 0 ? fs_type_name(sf.f_type) : "?";
  // The mount the directory is on: the longest mount point that prefixes it.
  std::string device = "?", options = "?", mount_point;
  {
    std::error_code ec;
    std::string real = fs::canonical(dir, ec).string();
    std::ifstream in("/proc/mounts");
    std::string dev, mp, type, opts, rest;
    while (in >> dev >> mp >> type >> opts) {
      std::getline(in, rest);
      bool prefix = real == mp || mp == "/" ||
                    (real.rfind(mp, 0) == 0 && real.size() > mp.size() && real[mp.size()] == '/');
      if (prefix && mp.size() >= mount_point.size()) {
        mount_point = mp;
        device = dev;
        options = opts;
      }
    }
  }
  m.add("bench dir", dir);
  m.add("file system",
        m.fs_type + " (statfs), " + device + " on " + mount_point + " (" + options + ")");
  m.add("load average", read_first_line("/proc/loadavg"));
  char stamp[64];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
  m.add("date", stamp);
  return m;
}

// --- resources -------------------------------------------------------------

// Peak RSS per phase: the kernel's high-water mark (VmHWM) is reset by
// writing 5 to /proc/self/clear_refs; getrusage's ru_maxrss is a process-wide
// maximum that cannot be reset, so it is only the fallback.
bool g_rss_resettable = false;

void reset_peak_rss() {
  int fd = ::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    g_rss_resettable = ::write(fd, "5", 1) == 1;
    ::close(fd);
  }
}

double status_kb(const char* key) {
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

double peak_rss_mb() {
  if (g_rss_resettable) {
    double kb = status_kb("VmHWM:");
    if (kb >= 0) {
      return kb / 1024.0;
    }
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

struct DiskUsage {
  std::uint64_t apparent = 0;   // sum of file sizes
  std::uint64_t allocated = 0;  // sum of allocated blocks
};

DiskUsage disk_usage(const std::string& dir) {
  DiskUsage u;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      u.apparent += static_cast<std::uint64_t>(st.st_size);
      u.allocated += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  }
  return u;
}

// --- measurements ----------------------------------------------------------

// Ends the process when one measurement runs far past its bounds (a peer
// that hangs must not hang the run): prints what was running, removes the
// working directory unless --keep, exits with status 3.
class Watchdog {
 public:
  Watchdog(std::string root, bool keep) : root_(std::move(root)), keep_(keep) {
    thread_ = std::thread([this] { watch(); });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void arm(const std::string& what, double seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    what_ = what;
    limit_seconds_ = seconds;
    deadline_ = Clock::now() +
                std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    armed_ = true;
  }
  void disarm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = false;
  }

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!quit_) {
      cv_.wait_for(lock, std::chrono::milliseconds(200));
      if (armed_ && Clock::now() > deadline_) {
        std::fprintf(stderr, "\ncairn-compare: %s did not finish within %.0f s; giving up\n",
                     what_.c_str(), limit_seconds_);
        kill_running_child();
        if (!keep_) {
          std::error_code ec;
          fs::remove_all(root_, ec);
        } else {
          std::fprintf(stderr, "cairn-compare: working directory kept: %s\n", root_.c_str());
        }
        std::fflush(stdout);
        std::_Exit(3);
      }
    }
  }

  std::string root_;
  bool keep_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  std::string what_;
  double limit_seconds_ = 0;
  Clock::time_point deadline_;
  bool armed_ = false;
  bool quit_ = false;
};

struct Measurement {
  std::string workload;
  std::string system;
  int threads = 1;
  std::uint64_t events = 0;  // counted in events/s
  double seconds = 0;        // the window events/s is measured over
  // Every event and the whole run including the drain after the deadline
  // (the same as events/seconds where there is no deadline).
  std::uint64_t total_events = 0;
  double total_seconds = 0;
  double events_per_s = 0;
  double mb_per_s = 0;  // event data bytes (not bytes written to disk)
  bool has_latency = false;
  Percentiles latency;
  std::optional<std::uint64_t> fsyncs;
  double peak_rss_mb = 0;
  // replay / space
  bool checksums = false;
  double reopen_ms = 0;
  double load_events_per_s = 0;
  double load_peak_rss_mb = 0;
  DiskUsage disk;
  int repeats = 1;
  std::string error;
  // append10: events per append (latency is per append).
  std::uint64_t batch = 1;
  // streamread
  std::uint64_t streams = 0;
  std::uint64_t reads = 0;
  double reads_per_s = 0;
  // opentime / manystreams (reopen_ms above is the clean open)
  std::string point;     // "16 segments", ...
  double segments = -1;  // Cairn's segment files at this point
  double crash_open_ms = -1;
  double rss_open_mb = -1;        // RSS of a fresh process after open
  double rss_open_delta_mb = -1;  // ... minus its RSS before open
  double writer_rss_mb = -1;      // RSS of the loading process, after loading
  double memory_streams = -1;     // streams the system says it holds in memory

  double fsyncs_per_s() const {
    return fsyncs && total_seconds > 0 ? static_cast<double>(*fsyncs) / total_seconds : NAN;
  }
  double events_per_fsync() const {
    return fsyncs && *fsyncs > 0 ? static_cast<double>(total_events) / static_cast<double>(*fsyncs)
                                 : NAN;
  }
};

// The end of a load shared by the workloads that load, then reopen: let the
// peer finish background work, close it, and record the load's peak RSS.
Error settle_and_close(Peer& peer, Measurement& m) {
  if (Error e = peer.settle(); !e.empty()) {
    return e;
  }
  if (Error e = peer.close(); !e.empty()) {
    return e;
  }
  m.load_peak_rss_mb = peak_rss_mb();
  return {};
}

// Opens a fresh peer on the loaded data, timing the open, and starts a new
// peak-RSS window for what follows.
Error reopen_timed(Peer& peer, const PeerOptions& po, Measurement& m) {
  const auto t_open = Clock::now();
  if (Error e = peer.open(po); !e.empty()) {
    return e;
  }
  m.reopen_ms = seconds_between(t_open, Clock::now()) * 1000.0;
  reset_peak_rss();
  return {};
}

class Runner {
 public:
  Runner(Settings settings, std::vector<System> systems, std::string root)
      : s_(std::move(settings)),
        systems_(std::move(systems)),
        root_(std::move(root)),
        pool_(s_.event_bytes),
        watchdog_(root_, s_.keep) {}

  // Most time one measurement of `workload` may take, set-up included.
  double time_limit(const std::string& workload) const {
    if (workload == "replay") {
      // Bulk loads run at tens of thousands of events/s at worst.
      return 120.0 + static_cast<double>(s_.replay_events) / 10'000.0;
    }
    if (workload == "pipelined") {
      return 120.0 + std::max(s_.seconds, 10.0) * 2;
    }
    if (workload == "streamread") {
      return 120.0 + static_cast<double>(s_.streamread_events) / 10'000.0 +
             static_cast<double>(s_.streamread_reads) / 100.0;
    }
    if (workload == "manystreams") {
      return 300.0 +
             static_cast<double>(s_.manystreams_streams * s_.manystreams_events_per_stream) /
                 5'000.0;
    }
    if (workload == "opentime") {
      // Every point's events, loaded at 5,000 events/s at worst, plus opens.
      return 300.0 + static_cast<double>(s_.opentime_segments.back()) *
                         opentime_events_per_segment() / 5'000.0;
    }
    return 60.0 + s_.seconds * 2;
  }

  std::map<std::string, std::string> descriptions;

  // A fresh, empty directory for one measurement (if it cannot be made, the
  // peer's open() fails and reports it).
  std::string fresh_dir(const std::string& label) {
    std::string d = root_ + "/" + std::to_string(++dir_counter_) + "-" + label;
    std::error_code ec;
    fs::create_directories(d, ec);
    return d;
  }

  void done_with(const std::string& dir) {
    if (!s_.keep) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }

  static void finish(Measurement& m, std::uint64_t data_bytes_per_event) {
    if (m.seconds > 0) {
      m.events_per_s = static_cast<double>(m.events) / m.seconds;
      m.mb_per_s = static_cast<double>(m.events * data_bytes_per_event) / m.seconds / 1e6;
    }
  }

  std::optional<std::uint64_t> fsync_delta(std::optional<std::uint64_t> before,
                                           std::optional<std::uint64_t> after) {
    if (!before || !after) {
      return std::nullopt;
    }
    return *after - *before;
  }

  // Durable appends from `threads` threads, each to its own stream, of
  // `batch` events each (one atomic unit: append_many when batch > 1).
  Measurement append(const System& sys, const std::string& workload, int threads,
                     std::uint64_t batch = 1) {
    Measurement m;
    m.workload = workload;
    m.system = sys.name;
    m.threads = threads;
    m.batch = batch;
    std::string dir = fresh_dir(workload + "-" + sys.name + "-" + std::to_string(threads));
    auto peer = sys.make();
    PeerOptions po;
    po.directory = dir;
    po.threads = threads;
    po.capacity_events = s_.append_max_events + batch * static_cast<std::uint64_t>(threads);
    po.prewrite = true;
    po.event_bytes = s_.event_bytes;
    if (Error e = peer->open(po); !e.empty()) {
      m.error = e;
      done_with(dir);
      return m;
    }
    descriptions[sys.name] = peer->describe();

    std::vector<std::vector<std::uint64_t>> lat(static_cast<std::size_t>(threads));
    std::vector<Clock::time_point> finished(static_cast<std::size_t>(threads));
    // Appends completed by the deadline, per thread (see "throughput" below).
    std::vector<std::uint64_t> in_window(static_cast<std::size_t>(threads), 0);
    std::atomic<std::uint64_t> claimed{0};
    std::atomic<bool> stop{false};
    std::mutex error_mu;
    std::string first_error;
    std::latch go(1);
    Clock::time_point start, deadline;

    reset_peak_rss();
    auto fsyncs_before = peer->fsyncs();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        auto& my = lat[static_cast<std::size_t>(t)];
        my.reserve(
            static_cast<std::size_t>(std::min<std::uint64_t>(s_.append_max_events, 1u << 16)));
        const std::string stream = stream_name(static_cast<std::uint64_t>(t));
        go.wait();
        std::uint64_t version = 0;
        std::vector<EventRef> many(static_cast<std::size_t>(batch));
        while (!stop.load(std::memory_order_relaxed) &&
               claimed.fetch_add(batch, std::memory_order_relaxed) < s_.append_max_events) {
          for (std::uint64_t i = 0; i < batch; ++i) {
            many[i] = EventRef{stream, version + i,
                               pool_.data(static_cast<std::uint64_t>(t), version + i)};
          }
          auto t0 = Clock::now();
          if (t0 >= deadline) {
            break;
          }
          Error e = batch == 1 ? peer->append(t, many[0]) : peer->append_many(t, many);
          auto t1 = Clock::now();
          if (!e.empty()) {
            std::lock_guard<std::mutex> lock(error_mu);
            if (first_error.empty()) {
              first_error = e;
            }
            stop = true;
            break;
          }
          my.push_back(static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
          if (t1 <= deadline) {
            in_window[static_cast<std::size_t>(t)] += batch;
          }
          version += batch;
        }
        finished[static_cast<std::size_t>(t)] = Clock::now();
      });
    }
    start = Clock::now();
    deadline = start + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(s_.seconds));
    go.count_down();
    for (auto& w : workers) {
      w.join();
    }
    Clock::time_point end = *std::max_element(finished.begin(), finished.end());
    auto fsyncs_after = peer->fsyncs();
    if (Error e = peer->close(); !e.empty() && first_error.empty()) {
      first_error = e;
    }
    peer.reset();
    m.peak_rss_mb = peak_rss_mb();
    done_with(dir);

    std::vector<std::uint64_t> all;
    for (auto& v : lat) {
      all.insert(all.end(), v.begin(), v.end());
      v.clear();
      v.shrink_to_fit();
    }
    // Throughput counts the appends completed inside the window [start,
    // min(deadline, last finish)], when every thread was still appending:
    // after the deadline threads drain one by one, and a writer parked in a
    // back-off (SQLite's busy handler sleeps up to 100 ms) would otherwise
    // stretch the run. Latency percentiles include every completed append,
    // and fsyncs/s and events per fsync use the whole run.
    std::uint64_t window_events = 0;
    for (std::uint64_t n : in_window) {
      window_events += n;
    }
    m.events = window_events;
    m.seconds = seconds_between(start, std::min(end, deadline));
    m.total_events = all.size() * batch;
    m.total_seconds = seconds_between(start, end);
    m.has_latency = true;
    m.latency = percentiles_ns(all);
    m.fsyncs = fsync_delta(fsyncs_before, fsyncs_after);
    m.error = first_error;
    finish(m, s_.event_bytes);
    return m;
  }

  // Open-loop appends from one thread, then one wait for durability.
  Measurement pipelined(const System& sys) {
    Measurement m;
    m.workload = "pipelined";
    m.system = sys.name;
    std::string dir = fresh_dir("pipelined-" + sys.name);
    auto peer = sys.make();
    PeerOptions po;
    po.directory = dir;
    po.capacity_events = s_.pipelined_events;
    po.prewrite = true;
    po.event_bytes = s_.event_bytes;
    if (Error e = peer->open(po); !e.empty()) {
      m.error = e;
      done_with(dir);
      return m;
    }
    descriptions[sys.name] = peer->describe();
    std::vector<std::uint64_t> lat;
    lat.reserve(static_cast<std::size_t>(s_.pipelined_events));
    const std::string stream = stream_name(0);
    reset_peak_rss();
    auto fsyncs_before = peer->fsyncs();
    auto start = Clock::now();
    // Bounded by the event count first (every system gets the same count);
    // the time bound only stops a system that is far slower than expected.
    auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(std::max(s_.seconds, 10.0)));
    std::uint64_t n = 0;
    Error err;
    for (; n < s_.pipelined_events; ++n) {
      auto t0 = Clock::now();
      if (t0 >= deadline) {
        break;
      }
      err = peer->append_async(EventRef{stream, n, pool_.data(0, n)});
      auto t1 = Clock::now();
      if (!err.empty()) {
        break;
      }
      lat.push_back(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
    if (err.empty()) {
      err = peer->wait_durable();
    }
    auto end = Clock::now();
    auto fsyncs_after = peer->fsyncs();
    if (Error e = peer->close(); !e.empty() && err.empty()) {
      err = e;
    }
    peer.reset();
    m.peak_rss_mb = peak_rss_mb();
    done_with(dir);
    m.events = m.total_events = n;
    m.seconds = m.total_seconds = seconds_between(start, end);
    m.has_latency = true;  // of the append call, not of durability
    m.latency = percentiles_ns(lat);
    m.fsyncs = fsync_delta(fsyncs_before, fsyncs_after);
    m.error = err;
    finish(m, s_.event_bytes);
    return m;
  }

  // What every full read must return: all events, in LSN order, all data.
  Error check_replay(const ReplaySink& sink) const {
    if (sink.out_of_order) {
      return "replay returned LSNs out of order or with gaps";
    }
    if (sink.events != s_.replay_events || sink.data_bytes != s_.replay_events * s_.event_bytes) {
      return "replay returned " + std::to_string(sink.events) + " events / " +
             std::to_string(sink.data_bytes) + " data bytes, expected " +
             std::to_string(s_.replay_events) + " / " +
             std::to_string(s_.replay_events * s_.event_bytes);
    }
    return {};
  }

  // Bulk load, settle, measure disk, reopen (timed), full replays (timed,
  // the median of --replay-reads).
  Measurement replay(const System& sys) {
    Measurement m;
    m.workload = "replay";
    m.system = sys.name;
    std::string dir = fresh_dir("replay-" + sys.name);
    PeerOptions po;
    po.directory = dir;
    po.capacity_events = s_.replay_events;
    po.event_bytes = s_.event_bytes;
    auto fail = [&](const Error& e) {
      m.error = e;
      done_with(dir);
      return m;
    };
    std::vector<std::string> streams;
    const std::uint64_t stream_count = std::min(s_.replay_streams, s_.replay_events);
    for (std::uint64_t i = 0; i < stream_count; ++i) {
      streams.push_back(stream_name(i));
    }
    {
      auto peer = sys.make();
      if (Error e = peer->open(po); !e.empty()) {
        return fail(e);
      }
      descriptions[sys.name] = peer->describe();
      m.checksums = peer->replay_verifies_checksums();
      reset_peak_rss();
      constexpr std::uint64_t kChunk = 10'000;
      std::vector<EventRef> chunk;
      chunk.reserve(kChunk);
      auto start = Clock::now();
      for (std::uint64_t i = 0; i < s_.replay_events;) {
        chunk.clear();
        for (; i < s_.replay_events && chunk.size() < kChunk; ++i) {
          std::uint64_t stream = i % stream_count;
          std::uint64_t version = i / stream_count;
          chunk.push_back(EventRef{streams[stream], version, pool_.data(stream, version)});
        }
        if (Error e = peer->load(chunk); !e.empty()) {
          return fail(e);
        }
      }
      if (Error e = peer->flush(); !e.empty()) {
        return fail(e);
      }
      auto loaded = Clock::now();
      m.load_events_per_s = static_cast<double>(s_.replay_events) / seconds_between(start, loaded);
      if (Error e = settle_and_close(*peer, m); !e.empty()) {
        return fail(e);
      }
    }
    m.disk = disk_usage(dir);

    auto peer = sys.make();
    if (Error e = reopen_timed(*peer, po, m); !e.empty()) {
      return fail(e);
    }
    // Several full reads of the same loaded data, the median reported: one
    // load costs far more than a read, and on a shared machine a single
    // read swings with whatever else runs (writeback of the load included).
    std::vector<double> read_seconds;
    ReplaySink sink;
    Error e;
    for (std::uint64_t r = 0; r < s_.replay_reads && e.empty(); ++r) {
      sink = ReplaySink{};
      auto start = Clock::now();
      e = peer->replay(sink);
      read_seconds.push_back(seconds_between(start, Clock::now()));
      e = e.empty() ? check_replay(sink) : e;
    }
    m.peak_rss_mb = peak_rss_mb();
    if (Error c = peer->close(); !c.empty() && e.empty()) {
      e = c;
    }
    peer.reset();
    std::sort(read_seconds.begin(), read_seconds.end());
    m.events = m.total_events = sink.events;
    m.seconds = m.total_seconds = read_seconds[read_seconds.size() / 2];
    m.error = e;
    finish(m, s_.event_bytes);
    done_with(dir);
    return m;
  }

  // Bulk-loads the streamread data set (streams round-robin, so each
  // stream's events are spread over the whole log), settles, closes,
  // reopens (timed), then times random whole-stream reads: the same
  // sequence of streams for every system.
  Measurement streamread(const System& sys) {
    Measurement m;
    m.workload = "streamread";
    m.system = sys.name;
    const std::uint64_t n = s_.streamread_events;
    const Layout layout{std::min(s_.streamread_streams, n), 1};
    m.streams = layout.streams;
    std::string dir = fresh_dir("streamread-" + sys.name);
    PeerOptions po;
    po.directory = dir;
    po.capacity_events = n;
    po.event_bytes = s_.event_bytes;
    po.stream_reads = true;
    auto fail = [&](const Error& e) {
      m.error = e;
      done_with(dir);
      return m;
    };
    {
      auto peer = sys.make();
      if (Error e = peer->open(po); !e.empty()) {
        return fail(e);
      }
      descriptions[sys.name] = peer->describe();
      reset_peak_rss();
      std::uint64_t loaded = 0;
      auto start = Clock::now();
      Error e = load_events(*peer, pool_, layout, 0, n, loaded, [] { return false; });
      if (e.empty()) {
        e = peer->flush();
      }
      if (!e.empty()) {
        return fail(e);
      }
      m.load_events_per_s = static_cast<double>(n) / seconds_between(start, Clock::now());
      if (Error e2 = settle_and_close(*peer, m); !e2.empty()) {
        return fail(e2);
      }
    }
    m.disk = disk_usage(dir);

    auto peer = sys.make();
    if (Error e = reopen_timed(*peer, po, m); !e.empty()) {
      return fail(e);
    }
    std::mt19937_64 rng(20261126);
    std::vector<std::uint64_t> lat;
    lat.reserve(static_cast<std::size_t>(s_.streamread_reads));
    StreamSink sink;
    std::uint64_t events = 0;
    Error err;
    auto start = Clock::now();
    for (std::uint64_t r = 0; r < s_.streamread_reads; ++r) {
      const std::uint64_t k = rng() % layout.streams;
      const std::string name = stream_name(k);
      sink.reset();
      auto t0 = Clock::now();
      err = peer->read_stream(name, sink);
      auto t1 = Clock::now();
      if (!err.empty()) {
        break;
      }
      // Checked outside the timed call: every event, in version order, with
      // the bytes that were written.
      const std::uint64_t expected = layout.stream_events(k, n);
      std::uint64_t fold = 0;
      for (std::uint64_t v = 0; v < expected; ++v) {
        std::string_view d = pool_.data(k, v);
        fold = fold * 31 + static_cast<unsigned char>(d.front()) +
               static_cast<unsigned char>(d.back());
      }
      if (sink.out_of_order || sink.events != expected ||
          sink.data_bytes != expected * s_.event_bytes || sink.fold != fold) {
        err = "read of " + name + " returned " + std::to_string(sink.events) + " events" +
              (sink.out_of_order ? " out of order" : "") + ", expected " +
              std::to_string(expected) + (sink.fold != fold ? " (data differs)" : "");
        break;
      }
      lat.push_back(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
      events += sink.events;
    }
    auto end = Clock::now();
    m.peak_rss_mb = peak_rss_mb();
    if (Error c = peer->close(); !c.empty() && err.empty()) {
      err = c;
    }
    peer.reset();
    m.reads = lat.size();
    m.events = m.total_events = events;
    m.seconds = m.total_seconds = seconds_between(start, end);
    m.reads_per_s = m.seconds > 0 ? static_cast<double>(m.reads) / m.seconds : 0;
    m.has_latency = true;
    m.latency = percentiles_ns(lat);
    m.error = err;
    finish(m, s_.event_bytes);
    done_with(dir);
    return m;
  }

  // Bytes on disk per event a system needs at most (for the disk check).
  static constexpr double kDiskBytesPerEventMax = 2.0 * 1024;

  Error check_disk(const std::string& dir, double bytes_needed) const {
    struct statvfs v {};
    if (::statvfs(dir.c_str(), &v) != 0) {
      return {};
    }
    double free_bytes = static_cast<double>(v.f_bavail) * static_cast<double>(v.f_frsize);
    if (free_bytes < bytes_needed + (1ull << 30)) {
      return "not enough free disk space under " + dir + ": this step needs about " +
             fixed(bytes_needed / (1ull << 30), 1) + " GiB (+1 GiB margin), " +
             fixed(free_bytes / (1ull << 30), 1) + " GiB free";
    }
    return {};
  }

  // Median of the successful children's `key`; -1 if none.
  static double median_of(const std::vector<ChildResult>& results, const std::string& key,
                          double scale = 1.0) {
    std::vector<double> v;
    for (const auto& r : results) {
      if (r.error.empty() && r.get(key) >= 0) {
        v.push_back(r.get(key) * scale);
      }
    }
    return v.empty() ? -1 : v[median_index(v)];
  }

  // Open repeats of the process-based measurements (each a child process;
  // cheap, so at least 3).
  int open_repeats() const { return std::max(3, s_.repeat); }

  // Opens `dir` clean open_repeats() times, then open_repeats() times: a
  // child appends `tail_events` more (durably) and is killed with SIGKILL,
  // and a fresh child opens (recovers) the store. Fills reopen_ms,
  // crash_open_ms, the RSS columns, segments and memory_streams; advances
  // `cursor` by the tails. Returns an error, or "".
  Error time_opens(const ChildRequest& base, std::uint64_t& cursor, std::uint64_t tail_events,
                   Measurement& m) {
    std::vector<ChildResult> clean, crashed;
    for (int r = 0; r < open_repeats(); ++r) {
      ChildRequest o = base;
      o.mode = "open";
      clean.push_back(run_child(o));
      if (!clean.back().error.empty()) {
        return "clean open: " + clean.back().error;
      }
    }
    for (int r = 0; r < open_repeats(); ++r) {
      ChildRequest c = base;
      c.mode = "load";
      c.crash = true;
      c.start = cursor;
      c.count = tail_events;
      ChildResult killed = run_child(c);
      if (!killed.error.empty()) {
        return "writer to be killed: " + killed.error;
      }
      cursor += static_cast<std::uint64_t>(killed.get("loaded", 0));
      ChildRequest o = base;
      o.mode = "open";
      crashed.push_back(run_child(o));
      if (!crashed.back().error.empty()) {
        return "open after kill -9: " + crashed.back().error;
      }
    }
    m.reopen_ms = median_of(clean, "open_ms");
    m.crash_open_ms = median_of(crashed, "open_ms");
    m.rss_open_mb = median_of(clean, "rss_after_kb", 1.0 / 1024);
    std::vector<ChildResult> all = clean;
    for (auto& r : all) {
      r.values["delta_kb"] = r.get("rss_after_kb") - r.get("rss_before_kb");
    }
    m.rss_open_delta_mb = median_of(all, "delta_kb", 1.0 / 1024);
    m.segments = crashed.back().get("segments");
    m.memory_streams = crashed.back().get("streams");
    return {};
  }

  // Grows one system's store through the opentime points (Cairn: to each
  // segment count; peers: to the event count Cairn had there) and times its
  // open after a clean close and after kill -9 of a writer at each point.
  std::vector<Measurement> opentime(const System& sys, std::vector<std::uint64_t>& events_at,
                                    std::uint64_t& tail_events) {
    std::vector<Measurement> rows;
    const bool defines = sys.name == "cairn";
    const Layout layout{1000, 10};
    const std::string dir = fresh_dir("opentime-" + sys.name);
    ChildRequest base;
    base.system = sys.name;
    base.directory = dir;
    base.segment_bytes = s_.opentime_segment_bytes;
    base.event_bytes = s_.event_bytes;
    base.streams = layout.streams;
    base.run_length = layout.run_length;
    const double est_events_last =
        static_cast<double>(s_.opentime_segments.back()) * opentime_events_per_segment();
    base.capacity_events = static_cast<std::uint64_t>(est_events_last * 1.5) + 1000;
    std::uint64_t cursor = 0;
    for (std::size_t pi = 0; pi < s_.opentime_segments.size(); ++pi) {
      const std::uint64_t target = s_.opentime_segments[pi];
      Measurement m;
      m.workload = "opentime";
      m.system = sys.name;
      m.point = std::to_string(target) + " segments";
      auto fail = [&](const Error& e) {
        m.error = e;
        rows.push_back(m);
        done_with(dir);
        return rows;
      };
      const double est_events = static_cast<double>(target) * opentime_events_per_segment();
      if (Error e = check_disk(
              dir, est_events * (defines ? s_.event_bytes * 2.0 : kDiskBytesPerEventMax));
          !e.empty()) {
        return fail(e);
      }
      ChildRequest load = base;
      load.mode = "load";
      load.start = cursor;
      if (defines) {
        load.count = static_cast<std::uint64_t>(est_events * 2) + 100'000;
        load.until_segments = target;
      } else {
        load.count = pi < events_at.size() && events_at[pi] > cursor ? events_at[pi] - cursor : 0;
      }
      std::fprintf(stderr, "  opentime %-8s %s: loading ...", sys.name.c_str(), m.point.c_str());
      std::fflush(stderr);
      ChildResult loaded = run_child(load);
      if (!loaded.error.empty()) {
        std::fprintf(stderr, " error\n");
        return fail("load: " + loaded.error);
      }
      cursor += static_cast<std::uint64_t>(loaded.get("loaded", 0));
      m.load_events_per_s =
          loaded.get("load_s") > 0 ? loaded.get("loaded") / loaded.get("load_s") : 0;
      if (defines) {
        if (events_at.size() <= pi) {
          events_at.resize(pi + 1);
        }
        events_at[pi] = cursor;
        if (pi == 0) {
          // Each kill -9 leaves a tail of 1/(2R) of a segment: after the R
          // repeats the tail segment is about half full, at every point.
          tail_events =
              std::max<std::uint64_t>(1, cursor / std::max<std::uint64_t>(1, target) /
                                             (2 * static_cast<std::uint64_t>(open_repeats())));
        }
      }
      std::fprintf(stderr, " %s events; opening ...",
                   with_commas(static_cast<double>(cursor)).c_str());
      std::fflush(stderr);
      if (Error e = time_opens(base, cursor, tail_events, m); !e.empty()) {
        std::fprintf(stderr, " error\n");
        return fail(e);
      }
      std::fprintf(stderr, " clean %.1f ms, after kill -9 %.1f ms\n", m.reopen_ms, m.crash_open_ms);
      m.events = m.total_events = cursor;
      m.disk = disk_usage(dir);
      rows.push_back(m);
    }
    done_with(dir);
    return rows;
  }

  // Events per Cairn segment of the opentime layout (runs of 10 events, one
  // record each), an estimate used before Cairn has measured it.
  double opentime_events_per_segment() const {
    const double record =
        48.0 + 16 + 16 + 10.0 * (40 + 16 + static_cast<double>(kEventType.size() + s_.event_bytes));
    return static_cast<double>(s_.opentime_segment_bytes) / (record / 10.0);
  }

  // A log of many streams (round-robin, events_per_stream each): load it in
  // a child (writer RSS), then time opens and measure the RSS a fresh
  // process needs to open it, clean and after kill -9 of a writer.
  Measurement manystreams(const System& sys) {
    Measurement m;
    m.workload = "manystreams";
    m.system = sys.name;
    const Layout layout{s_.manystreams_streams, 1};
    const std::uint64_t n = s_.manystreams_streams * s_.manystreams_events_per_stream;
    m.streams = layout.streams;
    m.point = with_commas(static_cast<double>(layout.streams)) + " streams";
    const std::string dir = fresh_dir("manystreams-" + sys.name);
    auto fail = [&](const Error& e) {
      m.error = e;
      done_with(dir);
      return m;
    };
    if (Error e = check_disk(dir, static_cast<double>(n) * kDiskBytesPerEventMax); !e.empty()) {
      return fail(e);
    }
    const std::uint64_t tail = std::max<std::uint64_t>(1000, n / 200);
    ChildRequest base;
    base.system = sys.name;
    base.directory = dir;
    base.event_bytes = s_.event_bytes;
    base.streams = layout.streams;
    base.run_length = 1;
    base.capacity_events = n + tail * static_cast<std::uint64_t>(open_repeats()) + 1000;
    ChildRequest load = base;
    load.mode = "load";
    load.count = n;
    ChildResult loaded = run_child(load);
    if (!loaded.error.empty()) {
      return fail("load: " + loaded.error);
    }
    m.load_events_per_s =
        loaded.get("load_s") > 0 ? loaded.get("loaded") / loaded.get("load_s") : 0;
    m.writer_rss_mb = loaded.get("rss_loaded_kb") / 1024;
    std::uint64_t cursor = n;
    // The tail continues the round-robin from where the load ended.
    if (Error e = time_opens(base, cursor, tail, m); !e.empty()) {
      return fail(e);
    }
    m.events = m.total_events = cursor;
    m.disk = disk_usage(dir);
    done_with(dir);
    return m;
  }

  // opentime for Cairn first (its segment counts define the event counts),
  // then for the peers if --opentime-peers (raw has nothing to open).
  std::vector<Measurement> opentime_all() {
    std::vector<Measurement> rows;
    std::vector<std::uint64_t> events_at;
    std::uint64_t tail_events = 0;
    std::vector<const System*> order;
    for (const System& sys : systems_) {
      if (sys.name == "cairn") {
        order.insert(order.begin(), &sys);
      } else if (sys.name != "raw" && s_.opentime_peers) {
        order.push_back(&sys);
      }
    }
    for (const System* sys : order) {
      if (sys->name != "cairn") {
        // Points Cairn did not reach (or no Cairn at all): estimates.
        const std::size_t points = s_.opentime_segments.size();
        events_at.resize(points, 0);
        for (std::size_t i = 0; i < points; ++i) {
          if (events_at[i] == 0) {
            events_at[i] = static_cast<std::uint64_t>(static_cast<double>(s_.opentime_segments[i]) *
                                                      opentime_events_per_segment());
          }
        }
        if (tail_events == 0) {
          tail_events =
              std::max<std::uint64_t>(1, static_cast<std::uint64_t>(opentime_events_per_segment()) /
                                             (2 * static_cast<std::uint64_t>(open_repeats())));
        }
      }
      watchdog_.arm("opentime of " + sys->name, time_limit("opentime"));
      auto part = opentime(*sys, events_at, tail_events);
      watchdog_.disarm();
      rows.insert(rows.end(), part.begin(), part.end());
    }
    return rows;
  }

  // Runs `one(system)` --repeat times for every system, interleaved, and
  // keeps the median (by events/s) of each system's successful repeats.
  std::vector<Measurement> repeated(const std::string& label,
                                    const std::function<Measurement(const System&)>& one,
                                    const std::function<bool(const System&)>& applies,
                                    int times = 0) {
    std::map<std::string, std::vector<Measurement>> runs;
    const int repeats = times > 0 ? times : s_.repeat;
    for (int r = 0; r < repeats; ++r) {
      for (const System& sys : systems_) {
        if (!applies(sys)) {
          continue;
        }
        std::fprintf(stderr, "  %-22s %-8s repeat %d/%d ...", label.c_str(), sys.name.c_str(),
                     r + 1, repeats);
        std::fflush(stderr);
        watchdog_.arm(label + " of " + sys.name, time_limit(split(label, ' ').front()));
        Measurement m = one(sys);
        watchdog_.disarm();
        std::string done = !m.error.empty()             ? "error: " + m.error
                           : m.workload == "streamread" ? with_commas(m.reads_per_s) + " reads/s"
                           : m.workload == "manystreams"
                               ? "open " + fixed(m.reopen_ms, 1) + " ms, after kill -9 " +
                                     fixed(m.crash_open_ms, 1) + " ms"
                               : with_commas(m.events_per_s) + " events/s";
        std::fprintf(stderr, " %s\n", done.c_str());
        runs[sys.name].push_back(std::move(m));
      }
    }
    std::vector<Measurement> out;
    for (const System& sys : systems_) {
      auto it = runs.find(sys.name);
      if (it == runs.end()) {
        continue;
      }
      std::vector<Measurement> ok;
      for (auto& m : it->second) {
        if (m.error.empty()) {
          ok.push_back(m);
        }
      }
      if (ok.empty()) {
        out.push_back(it->second.front());
        continue;
      }
      std::vector<double> rates;
      for (auto& m : ok) {
        rates.push_back(m.events_per_s);
      }
      Measurement chosen = ok[median_index(rates)];
      chosen.repeats = static_cast<int>(ok.size());
      out.push_back(std::move(chosen));
    }
    return out;
  }

 private:
  Settings s_;
  std::vector<System> systems_;
  std::string root_;
  DataPool pool_;
  Watchdog watchdog_;
  int dir_counter_ = 0;
};

// --- reporting ---------------------------------------------------------------

const Measurement* find_cairn(const std::vector<Measurement>& rows, int threads) {
  for (const auto& m : rows) {
    if (m.system == "cairn" && m.threads == threads && m.error.empty()) {
      return &m;
    }
  }
  return nullptr;
}

std::string rate_or_error(const Measurement& m) {
  return m.error.empty() ? with_commas(m.events_per_s) : "ERROR";
}

void print_errors(const std::vector<Measurement>& rows) {
  for (const auto& m : rows) {
    if (!m.error.empty()) {
      std::printf("  %s (%s, %d thread%s): %s\n", m.system.c_str(), m.workload.c_str(), m.threads,
                  m.threads == 1 ? "" : "s", m.error.c_str());
    }
  }
}

void print_append_table(const std::string& title, const std::vector<Measurement>& rows,
                        bool pipelined) {
  std::printf("\n== %s ==\n", title.c_str());
  Table t({"system", "threads", "events", pipelined ? "durable ev/s" : "events/s", "MB/s",
           pipelined ? "call p50 µs" : "p50 µs", pipelined ? "call p99 µs" : "p99 µs",
           pipelined ? "call p999 µs" : "p999 µs", "fsyncs/s", "ev/fsync", "peak RSS MB",
           "cairn/x ev/s", "cairn/x p50"});
  for (const auto& m : rows) {
    const Measurement* c = find_cairn(rows, m.threads);
    bool ok = m.error.empty();
    t.add({m.system, std::to_string(m.threads),
           ok ? with_commas(static_cast<double>(m.events)) : "-", rate_or_error(m),
           ok ? fixed(m.mb_per_s, 1) : "-", ok ? fixed(m.latency.p50_us, 1) : "-",
           ok ? fixed(m.latency.p99_us, 1) : "-", ok ? fixed(m.latency.p999_us, 1) : "-",
           ok ? with_commas(m.fsyncs_per_s()) : "-", ok ? fixed(m.events_per_fsync(), 1) : "-",
           fixed(m.peak_rss_mb, 0),
           c && ok && m.system != "cairn" ? ratio(c->events_per_s, m.events_per_s) : "",
           c && ok && m.system != "cairn" ? ratio(c->latency.p50_us, m.latency.p50_us) : ""});
  }
  t.print(stdout);
  print_errors(rows);
}

void print_replay_table(const std::vector<Measurement>& rows, const Settings& s) {
  std::printf(
      "\n== replay: full read of %s events in LSN order (%zu B data, %llu streams), "
      "after a reopen, page cache warm, median of %llu reads per load ==\n",
      with_commas(static_cast<double>(s.replay_events)).c_str(), s.event_bytes,
      static_cast<unsigned long long>(std::min(s.replay_streams, s.replay_events)),
      static_cast<unsigned long long>(s.replay_reads));
  Table t({"system", "events", "events/s", "MB/s", "checksums", "reopen ms", "peak RSS MB",
           "cairn/x ev/s"});
  const Measurement* c = find_cairn(rows, 1);
  for (const auto& m : rows) {
    bool ok = m.error.empty();
    t.add({m.system, ok ? with_commas(static_cast<double>(m.events)) : "-", rate_or_error(m),
           ok ? fixed(m.mb_per_s, 1) : "-", m.checksums ? "verified" : "none",
           ok ? fixed(m.reopen_ms, 1) : "-", fixed(m.peak_rss_mb, 0),
           c && ok && m.system != "cairn" ? ratio(c->events_per_s, m.events_per_s) : ""});
  }
  t.print(stdout);
  print_errors(rows);
}

void print_space_table(const std::vector<Measurement>& replay_rows,
                       const std::map<std::string, std::map<std::string, double>>& rss,
                       const std::vector<std::string>& phases, const Settings& s) {
  std::printf(
      "\n== space: disk bytes per event after loading %s events (%zu B data), "
      "settled (SQLite WAL checkpointed, RocksDB memtable flushed); peak RSS per "
      "phase ==\n",
      with_commas(static_cast<double>(s.replay_events)).c_str(), s.event_bytes);
  std::vector<std::string> headers{"system",        "disk MB",       "bytes/event",
                                   "apparent B/ev", "amplification", "load ev/s"};
  for (const auto& p : phases) {
    headers.push_back("RSS " + p);
  }
  Table t(headers);
  for (const auto& m : replay_rows) {
    std::vector<std::string> row;
    bool ok = m.disk.allocated > 0;
    double n = static_cast<double>(s.replay_events);
    row.push_back(m.system);
    row.push_back(ok ? fixed(static_cast<double>(m.disk.allocated) / 1e6, 1) : "-");
    row.push_back(ok ? fixed(static_cast<double>(m.disk.allocated) / n, 1) : "-");
    row.push_back(ok ? fixed(static_cast<double>(m.disk.apparent) / n, 1) : "-");
    row.push_back(
        ok ? fixed(static_cast<double>(m.disk.allocated) / (n * static_cast<double>(s.event_bytes)),
                   2) +
                 "x"
           : "-");
    row.push_back(m.load_events_per_s > 0 ? with_commas(m.load_events_per_s) : "-");
    auto it = rss.find(m.system);
    for (const auto& p : phases) {
      if (it != rss.end() && it->second.count(p)) {
        row.push_back(fixed(it->second.at(p), 0));
      } else {
        row.push_back("-");
      }
    }
    t.add(row);
  }
  t.print(stdout);
  std::printf(
      "  (disk MB and bytes/event count allocated blocks; amplification = allocated "
      "bytes / event data bytes; RSS in MB)\n");
}

const Measurement* find_cairn_at(const std::vector<Measurement>& rows, const std::string& point) {
  for (const auto& m : rows) {
    if (m.system == "cairn" && m.point == point && m.error.empty()) {
      return &m;
    }
  }
  return nullptr;
}

std::string ms_or_dash(double ms) { return ms >= 0 ? fixed(ms, ms < 10 ? 2 : 1) : "-"; }

void print_streamread_table(const std::vector<Measurement>& rows, const Settings& s) {
  const std::uint64_t streams = std::min(s.streamread_streams, s.streamread_events);
  std::printf(
      "\n== streamread: read one whole stream (%s events) among %s streams, %s events "
      "(%zu B data), streams round-robin over the log; %s random reads after a "
      "reopen, page cache warm ==\n",
      with_commas(static_cast<double>(s.streamread_events / streams)).c_str(),
      with_commas(static_cast<double>(streams)).c_str(),
      with_commas(static_cast<double>(s.streamread_events)).c_str(), s.event_bytes,
      with_commas(static_cast<double>(s.streamread_reads)).c_str());
  Table t({"system", "reads", "reads/s", "events/s", "p50 µs", "p99 µs", "p999 µs", "reopen ms",
           "load ev/s", "disk MB", "peak RSS MB", "cairn/x reads/s", "cairn/x p50"});
  const Measurement* c = nullptr;
  for (const auto& m : rows) {
    if (m.system == "cairn" && m.error.empty()) {
      c = &m;
    }
  }
  for (const auto& m : rows) {
    bool ok = m.error.empty();
    bool peer = c && ok && m.system != "cairn";
    t.add({m.system, ok ? with_commas(static_cast<double>(m.reads)) : "-",
           ok ? with_commas(m.reads_per_s) : "ERROR", ok ? with_commas(m.events_per_s) : "-",
           ok ? fixed(m.latency.p50_us, 1) : "-", ok ? fixed(m.latency.p99_us, 1) : "-",
           ok ? fixed(m.latency.p999_us, 1) : "-", ok ? ms_or_dash(m.reopen_ms) : "-",
           m.load_events_per_s > 0 ? with_commas(m.load_events_per_s) : "-",
           m.disk.allocated > 0 ? fixed(static_cast<double>(m.disk.allocated) / 1e6, 1) : "-",
           fixed(m.peak_rss_mb, 0), peer ? ratio(c->reads_per_s, m.reads_per_s) : "",
           peer ? ratio(c->latency.p50_us, m.latency.p50_us) : ""});
  }
  t.print(stdout);
  std::printf(
      "  (latency: one whole-stream read; raw = a perfect in-memory index plus one "
      "pread and XXH3 check per event, the physical limit; its reopen ms includes "
      "rebuilding that index by a scan)\n");
  print_errors(rows);
}

void print_opentime_table(const std::vector<Measurement>& rows, const Settings& s) {
  std::printf(
      "\n== opentime: open after a clean close and after kill -9 of a writer, as the "
      "log grows (Cairn segments of %s MiB; peers get the same events; each open in a "
      "fresh process, median of %d; page cache warm) ==\n",
      fixed(static_cast<double>(s.opentime_segment_bytes) / (1 << 20), 0).c_str(),
      std::max(3, s.repeat));
  Table t({"system", "log size", "segments", "events", "disk GiB", "open ms", "after kill -9 ms",
           "RSS after open MB", "open vs first", "kill -9 vs first", "cairn/x open",
           "cairn/x kill -9"});
  std::map<std::string, const Measurement*> first;
  for (const auto& m : rows) {
    if (m.error.empty() && !first.count(m.system)) {
      first[m.system] = &m;
    }
  }
  for (const auto& m : rows) {
    bool ok = m.error.empty();
    const Measurement* f = first.count(m.system) ? first[m.system] : nullptr;
    const Measurement* c = find_cairn_at(rows, m.point);
    bool peer = c && ok && m.system != "cairn";
    t.add({m.system, m.point,
           ok && m.segments >= 0 && m.system == "cairn" ? fixed(m.segments, 0) : "-",
           ok ? with_commas(static_cast<double>(m.events)) : "-",
           ok ? fixed(static_cast<double>(m.disk.allocated) / (1ull << 30), 2) : "-",
           ok ? ms_or_dash(m.reopen_ms) : "ERROR", ok ? ms_or_dash(m.crash_open_ms) : "-",
           ok ? fixed(m.rss_open_mb, 1) : "-", ok && f ? ratio(m.reopen_ms, f->reopen_ms) : "-",
           ok && f ? ratio(m.crash_open_ms, f->crash_open_ms) : "-",
           peer ? ratio(c->reopen_ms, m.reopen_ms) : "",
           peer ? ratio(c->crash_open_ms, m.crash_open_ms) : ""});
  }
  t.print(stdout);
  std::vector<const Measurement*> cairn;
  for (const auto& m : rows) {
    if (m.system == "cairn" && m.error.empty()) {
      cairn.push_back(&m);
    }
  }
  if (cairn.size() >= 2) {
    const Measurement& a = *cairn.front();
    const Measurement& b = *cairn.back();
    std::printf(
        "  Cairn, %s vs %s: open %s, after kill -9 %s (should be near 1: open reads "
        "segment headers and seals, the index files and, after a crash, scans the tail "
        "segment only)\n",
        b.point.c_str(), a.point.c_str(), ratio(b.reopen_ms, a.reopen_ms).c_str(),
        ratio(b.crash_open_ms, a.crash_open_ms).c_str());
  }
  std::printf(
      "  (\"vs first\" = this row's time / the same system's first row; cairn/x below "
      "1 = Cairn opens faster. Each kill -9 follows durable appends of 1/%d of a "
      "segment, so the tail segment is about half full at every point)\n",
      2 * std::max(3, s.repeat));
  print_errors(rows);
}

void print_manystreams_table(const std::vector<Measurement>& rows, const Settings& s) {
  std::printf(
      "\n== manystreams: a log of %s streams x %s events (%zu B data): memory and open "
      "time (each open in a fresh process, median of %d) ==\n",
      with_commas(static_cast<double>(s.manystreams_streams)).c_str(),
      with_commas(static_cast<double>(s.manystreams_events_per_stream)).c_str(), s.event_bytes,
      std::max(3, s.repeat));
  Table t({"system", "events", "load ev/s", "writer RSS MB", "open ms", "after kill -9 ms",
           "RSS after open MB", "open adds MB", "B/stream", "streams in memory", "disk MB",
           "cairn/x open"});
  const Measurement* c = nullptr;
  for (const auto& m : rows) {
    if (m.system == "cairn" && m.error.empty()) {
      c = &m;
    }
  }
  for (const auto& m : rows) {
    bool ok = m.error.empty();
    bool peer = c && ok && m.system != "cairn";
    double per_stream = ok && m.rss_open_delta_mb >= 0 && m.streams > 0
                            ? m.rss_open_delta_mb * 1024 * 1024 / static_cast<double>(m.streams)
                            : -1;
    t.add({m.system, ok ? with_commas(static_cast<double>(m.events)) : "-",
           ok ? with_commas(m.load_events_per_s) : "ERROR", ok ? fixed(m.writer_rss_mb, 1) : "-",
           ok ? ms_or_dash(m.reopen_ms) : "-", ok ? ms_or_dash(m.crash_open_ms) : "-",
           ok ? fixed(m.rss_open_mb, 1) : "-", ok ? fixed(m.rss_open_delta_mb, 1) : "-",
           per_stream >= 0 ? fixed(per_stream, 0) : "-",
           ok && m.memory_streams >= 0 ? with_commas(m.memory_streams) : "-",
           ok ? fixed(static_cast<double>(m.disk.allocated) / 1e6, 1) : "-",
           peer ? ratio(c->reopen_ms, m.reopen_ms) : ""});
  }
  t.print(stdout);
  std::printf(
      "  (open adds = RSS after open - RSS before it, in the opening process; B/stream "
      "= that / streams; writer RSS = the loading process after loading; streams in "
      "memory = Cairn's LogStats::stream_count after open, the stream heads it holds "
      "(heads of streams untouched since open are found in the segment indexes on "
      "demand). SQLite, RocksDB and LMDB read lazily: their open does little, their "
      "first reads pay)\n");
  print_errors(rows);
}

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) {
    return s;
  }
  std::string out = "\"";
  for (char c : s) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

std::string json_escape(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string num(double v) {
  if (!std::isfinite(v)) {
    return "";
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

struct Field {
  std::string name;
  std::string value;
  bool text;
};

std::vector<Field> fields_of(const Measurement& m) {
  bool lat = m.has_latency && m.error.empty();
  auto opt = [](bool have, double v) { return have ? num(v) : std::string(); };
  const bool loaded = m.workload == "replay" || m.workload == "streamread" ||
                      m.workload == "opentime" || m.workload == "manystreams";
  return {
      {"workload", m.workload, true},
      {"system", m.system, true},
      {"threads", std::to_string(m.threads), false},
      {"events", std::to_string(m.events), false},
      {"seconds", num(m.seconds), false},
      {"total_events", std::to_string(m.total_events), false},
      {"total_seconds", num(m.total_seconds), false},
      {"events_per_s", num(m.events_per_s), false},
      {"mb_per_s", num(m.mb_per_s), false},
      {"p50_us", opt(lat, m.latency.p50_us), false},
      {"p99_us", opt(lat, m.latency.p99_us), false},
      {"p999_us", opt(lat, m.latency.p999_us), false},
      {"max_us", opt(lat, m.latency.max_us), false},
      {"fsyncs", m.fsyncs ? std::to_string(*m.fsyncs) : "", false},
      {"fsyncs_per_s", num(m.fsyncs_per_s()), false},
      {"events_per_fsync", num(m.events_per_fsync()), false},
      {"peak_rss_mb", num(m.peak_rss_mb), false},
      {"checksums", m.workload == "replay" ? (m.checksums ? "verified" : "none") : "", true},
      {"reopen_ms", loaded ? num(m.reopen_ms) : "", false},
      {"load_events_per_s", loaded ? num(m.load_events_per_s) : "", false},
      {"load_peak_rss_mb", loaded ? num(m.load_peak_rss_mb) : "", false},
      {"disk_allocated_bytes", loaded ? std::to_string(m.disk.allocated) : "", false},
      {"disk_apparent_bytes", loaded ? std::to_string(m.disk.apparent) : "", false},
      {"batch", std::to_string(m.batch), false},
      {"streams", m.streams ? std::to_string(m.streams) : "", false},
      {"reads", m.reads ? std::to_string(m.reads) : "", false},
      {"reads_per_s", m.reads ? num(m.reads_per_s) : "", false},
      {"point", m.point, true},
      {"segments", m.segments >= 0 ? num(m.segments) : "", false},
      {"crash_open_ms", m.crash_open_ms >= 0 ? num(m.crash_open_ms) : "", false},
      {"rss_open_mb", m.rss_open_mb >= 0 ? num(m.rss_open_mb) : "", false},
      {"rss_open_delta_mb", m.rss_open_delta_mb >= 0 ? num(m.rss_open_delta_mb) : "", false},
      {"writer_rss_mb", m.writer_rss_mb >= 0 ? num(m.writer_rss_mb) : "", false},
      {"memory_streams", m.memory_streams >= 0 ? num(m.memory_streams) : "", false},
      {"repeats", std::to_string(m.repeats), false},
      {"error", m.error, true},
  };
}

void write_csv(const std::string& path, const std::vector<Measurement>& rows) {
  std::ofstream out(path);
  bool header = true;
  for (const auto& m : rows) {
    auto fields = fields_of(m);
    if (header) {
      for (std::size_t i = 0; i < fields.size(); ++i) {
        out << (i ? "," : "") << fields[i].name;
      }
      out << "\n";
      header = false;
    }
    for (std::size_t i = 0; i < fields.size(); ++i) {
      out << (i ? "," : "") << csv_escape(fields[i].value);
    }
    out << "\n";
  }
  if (!out) {
    std::fprintf(stderr, "cairn-compare: could not write %s\n", path.c_str());
  }
}

void write_json(const std::string& path, const Machine& machine, const Settings& s,
                const std::map<std::string, std::string>& descriptions,
                const std::vector<Measurement>& rows) {
  std::ofstream out(path);
  out << "{\n  \"machine\": {";
  for (std::size_t i = 0; i < machine.facts.size(); ++i) {
    out << (i ? ", " : "") << json_escape(machine.facts[i].first) << ": "
        << json_escape(machine.facts[i].second);
  }
  out << "},\n  \"settings\": {\"quick\": " << (s.quick ? "true" : "false")
      << ", \"seconds\": " << num(s.seconds) << ", \"append_max_events\": " << s.append_max_events
      << ", \"pipelined_events\": " << s.pipelined_events
      << ", \"replay_events\": " << s.replay_events << ", \"replay_reads\": " << s.replay_reads
      << ", \"event_bytes\": " << s.event_bytes << ", \"repeat\": " << s.repeat
      << ", \"batch\": " << s.batch << ", \"streamread_events\": " << s.streamread_events
      << ", \"streamread_streams\": " << s.streamread_streams
      << ", \"streamread_reads\": " << s.streamread_reads
      << ", \"opentime_segment_bytes\": " << s.opentime_segment_bytes
      << ", \"opentime_peers\": " << (s.opentime_peers ? "true" : "false")
      << ", \"manystreams_streams\": " << s.manystreams_streams
      << ", \"manystreams_events_per_stream\": " << s.manystreams_events_per_stream
      << "},\n  \"systems\": {";
  std::size_t i = 0;
  for (const auto& [name, d] : descriptions) {
    out << (i++ ? ", " : "") << json_escape(name) << ": " << json_escape(d);
  }
  out << "},\n  \"results\": [\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out << "    {";
    bool first = true;
    for (const auto& f : fields_of(rows[r])) {
      if (f.value.empty()) {
        continue;
      }
      out << (first ? "" : ", ") << json_escape(f.name) << ": "
          << (f.text ? json_escape(f.value) : f.value);
      first = false;
    }
    out << "}" << (r + 1 < rows.size() ? "," : "") << "\n";
  }
  out << "  ]\n}\n";
  if (!out) {
    std::fprintf(stderr, "cairn-compare: could not write %s\n", path.c_str());
  }
}

int run(int argc, char** argv) {
  Settings s = parse_args(argc, argv);

  std::vector<System> systems;
  std::set<std::string> known;
  for (auto& sys : built_in_systems()) {
    known.insert(sys.name);
    // cairn-1 and cairn-uring are variants of Cairn, not peers: only when
    // asked for.
    const bool by_default = sys.name != "cairn-1" && sys.name != "cairn-uring";
    if (s.systems.empty() ? by_default : s.systems.count(sys.name) > 0) {
      systems.push_back(std::move(sys));
    }
  }
  for (const auto& n : s.systems) {
    if (!known.count(n)) {
      std::string list;
      for (const auto& k : known) {
        list += " " + k;
      }
      bad_usage("system '" + n + "' is not built in (built in:" + list + ")");
    }
  }

  std::error_code ec;
  fs::create_directories(s.dir_parent, ec);
  std::string tmpl = s.dir_parent + "/cairn-compare-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    std::fprintf(stderr, "cairn-compare: cannot create a directory under %s: %s\n",
                 s.dir_parent.c_str(), std::strerror(errno));
    return 1;
  }
  const std::string root = buf.data();

  Machine machine = describe_machine(root);
  std::printf("cairn-compare: Cairn side by side with its peers, %s mode\n\n",
              s.quick ? "quick" : "full");
  std::vector<std::pair<std::string, std::string>> head = machine.facts;
  reset_peak_rss();
  head.push_back(
      {"fsync counting",
       fsync_counter_works()
           ? "fsync()/fdatasync() interposed for every library (Cairn: its own LogStats)"
           : "NOT available (interposition failed): peers' fsync columns count nothing"});
  head.push_back({"peak RSS", g_rss_resettable ? "per phase (VmHWM reset via /proc/self/clear_refs)"
                                               : "process-wide getrusage maximum (not per phase)"});
  char settings[512];
  std::snprintf(settings, sizeof settings,
                "%zu B events; append: %.2g s or %llu events per measurement, threads",
                s.event_bytes, s.seconds, static_cast<unsigned long long>(s.append_max_events));
  std::string st = settings;
  for (int t : s.threads) {
    st += " " + std::to_string(t);
  }
  st += "; pipelined " + with_commas(static_cast<double>(s.pipelined_events)) + "; replay " +
        with_commas(static_cast<double>(s.replay_events)) + " (" + std::to_string(s.replay_reads) +
        " reads per load); repeat " + std::to_string(s.repeat) + " (median of events/s)";
  st += "; append10 " + std::to_string(s.batch) + " events/append; streamread " +
        with_commas(static_cast<double>(s.streamread_events)) + " events / " +
        with_commas(static_cast<double>(s.streamread_streams)) + " streams / " +
        with_commas(static_cast<double>(s.streamread_reads)) + " reads; opentime segments";
  for (auto n : s.opentime_segments) {
    st += " " + std::to_string(n);
  }
  st += " x " + fixed(static_cast<double>(s.opentime_segment_bytes) / (1 << 20), 0) + " MiB" +
        (s.opentime_peers ? " (with peers)" : " (Cairn only)") + "; manystreams " +
        with_commas(static_cast<double>(s.manystreams_streams)) + " streams";
  head.push_back({"settings", st});
  std::string names;
  for (const auto& sys : systems) {
    names += (names.empty() ? "" : ", ") + sys.name;
  }
  head.push_back({"systems", names});
  for (const auto& [k, v] : head) {
    std::printf("%-15s %s\n", (k + ":").c_str(), v.c_str());
  }
  {
    double load1 = std::atof(read_first_line("/proc/loadavg").c_str());
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus > 0 && load1 > 0.5 * static_cast<double>(cpus)) {
      std::printf(
          "WARNING: the machine is busy (load average %.1f on %ld CPUs): a thread woken "
          "by a finished fsync waits for a CPU, so durable-append latencies and rates "
          "measure the scheduler (on this kind of VM, multiples of a 4 ms tick), not "
          "the disk. Use these numbers only on a quiet machine.\n",
          load1, cpus);
    }
  }
  if (machine.fs_type == "tmpfs" || machine.fs_type == "ramfs") {
    std::printf(
        "WARNING: the bench directory is on %s, where fsync costs nothing; durable "
        "append numbers mean nothing here.\n",
        machine.fs_type.c_str());
  }
  std::fflush(stdout);

  Runner runner(s, systems, root);
  std::vector<Measurement> all;
  std::map<std::string, std::map<std::string, double>> rss;  // system -> phase -> MB
  std::vector<std::string> phases;
  auto note_rss = [&](const std::string& phase, const std::vector<Measurement>& rows) {
    if (std::find(phases.begin(), phases.end(), phase) == phases.end()) {
      phases.push_back(phase);
    }
    for (const auto& m : rows) {
      double& slot = rss[m.system][phase];
      slot = std::max(slot, m.peak_rss_mb);
    }
  };
  auto every = [](const System&) { return true; };
  const char* data_note = s.event_bytes == 200 ? "200 B events" : "events";

  if (s.workloads.count("append1")) {
    std::fprintf(stderr, "append1\n");
    auto rows = runner.repeated(
        "append1", [&](const System& sys) { return runner.append(sys, "append1", 1); }, every);
    print_append_table(std::string("append1: durable append, 1 writer, sync (") + data_note +
                           ", latency of each append until durable)",
                       rows, false);
    note_rss("append1", rows);
    all.insert(all.end(), rows.begin(), rows.end());
    std::fflush(stdout);
  }
  if (s.workloads.count("appendmt")) {
    std::fprintf(stderr, "appendmt\n");
    std::vector<Measurement> rows;
    for (int t : s.threads) {
      auto part = runner.repeated(
          "appendmt " + std::to_string(t) + " threads",
          [&](const System& sys) { return runner.append(sys, "appendmt", t); }, every);
      rows.insert(rows.end(), part.begin(), part.end());
    }
    print_append_table(std::string("appendmt: durable append, N writer threads, sync, each "
                                   "thread its own stream (") +
                           data_note + ")",
                       rows, false);
    note_rss("appendmt", rows);
    all.insert(all.end(), rows.begin(), rows.end());
    std::fflush(stdout);
  }
  if (s.workloads.count("append10")) {
    std::fprintf(stderr, "append10\n");
    std::vector<Measurement> rows;
    for (int t : s.batch_threads) {
      auto part = runner.repeated(
          "append10 " + std::to_string(t) + " threads",
          [&](const System& sys) { return runner.append(sys, "append10", t, s.batch); }, every);
      rows.insert(rows.end(), part.begin(), part.end());
    }
    print_append_table("append10: durable multi-event append, " + std::to_string(s.batch) +
                           " events of one stream per append as one atomic unit, N writer "
                           "threads, sync (" +
                           data_note + "; events/s counts events, latency is per append)",
                       rows, false);
    note_rss("append10", rows);
    all.insert(all.end(), rows.begin(), rows.end());
    std::fflush(stdout);
  }
  if (s.workloads.count("pipelined")) {
    std::fprintf(stderr, "pipelined\n");
    auto rows = runner.repeated(
        "pipelined", [&](const System& sys) { return runner.pipelined(sys); },
        [](const System& sys) { return sys.make()->supports_pipelined(); });
    print_append_table(std::string("pipelined: open-loop appends from 1 thread, async, one "
                                   "wait for durability at the end (") +
                           data_note +
                           "; events/s counts until all are durable; latency is of the "
                           "append call)",
                       rows, true);
    note_rss("pipelined", rows);
    all.insert(all.end(), rows.begin(), rows.end());
    std::fflush(stdout);
  }
  if (s.workloads.count("replay") || s.workloads.count("space")) {
    std::fprintf(stderr, "replay (load, reopen, full read)\n");
    auto rows = runner.repeated(
        "replay", [&](const System& sys) { return runner.replay(sys); }, every);
    if (s.workloads.count("replay")) {
      print_replay_table(rows, s);
    }
    for (auto& m : rows) {
      rss[m.system]["load"] = std::max(rss[m.system]["load"], m.load_peak_rss_mb);
    }
    phases.push_back("load");
    note_rss("replay", rows);
    if (s.workloads.count("space")) {
      print_space_table(rows, rss, phases, s);
    }
    all.insert(all.end(), rows.begin(), rows.end());
  }

  if (s.workloads.count("streamread")) {
    std::fprintf(stderr, "streamread (load once, reopen, random stream reads)\n");
    auto rows = runner.repeated(
        "streamread", [&](const System& sys) { return runner.streamread(sys); }, every, 1);
    print_streamread_table(rows, s);
    note_rss("streamread", rows);
    all.insert(all.end(), rows.begin(), rows.end());
    std::fflush(stdout);
  }
  if (s.workloads.count("opentime")) {
    std::fprintf(stderr, "opentime (grow, open clean and after kill -9, in child processes)\n");
    auto rows = runner.opentime_all();
    print_opentime_table(rows, s);
    all.insert(all.end(), rows.begin(), rows.end());
    std::fflush(stdout);
  }
  if (s.workloads.count("manystreams")) {
    std::fprintf(stderr, "manystreams (load, open clean and after kill -9, in child processes)\n");
    auto rows = runner.repeated(
        "manystreams", [&](const System& sys) { return runner.manystreams(sys); },
        [](const System& sys) { return sys.name != "raw"; }, 1);
    print_manystreams_table(rows, s);
    all.insert(all.end(), rows.begin(), rows.end());
    std::fflush(stdout);
  }

  std::printf("\nsystems as run:\n");
  for (const auto& sys : systems) {
    // Systems measured only in child processes (opentime, manystreams):
    // their description without an open store.
    if (!runner.descriptions.count(sys.name) &&
        (s.workloads.count("opentime") || s.workloads.count("manystreams"))) {
      runner.descriptions[sys.name] = sys.make()->describe();
    }
    auto it = runner.descriptions.find(sys.name);
    std::printf("  %-8s %s\n", sys.name.c_str(),
                it != runner.descriptions.end() ? it->second.c_str() : "(not run)");
  }
  std::printf(
      "\nMB/s counts event data bytes (%zu per event), not bytes written. "
      "cairn/x = Cairn's value divided by the row's: above 1 for ev/s means Cairn is "
      "faster; below 1 for p50 means Cairn's latency is lower.\n",
      s.event_bytes);
  if (s.keep) {
    std::printf("working directory kept: %s\n", root.c_str());
  } else {
    fs::remove_all(root, ec);
  }
  if (!s.csv.empty()) {
    write_csv(s.csv, all);
  }
  if (!s.json.empty()) {
    write_json(s.json, machine, s, runner.descriptions, all);
  }
  bool any_error =
      std::any_of(all.begin(), all.end(), [](const Measurement& m) { return !m.error.empty(); });
  return any_error ? 1 : 0;
}

}  // namespace
}  // namespace cairn_bench

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--child") == 0) {
    return cairn_bench::child_main(argc, argv);
  }
  return cairn_bench::run(argc, argv);
}
