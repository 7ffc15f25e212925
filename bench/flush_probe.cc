// cairn-flush-probe: does this machine's storage make durable writes faster
// when several are in flight at once?
//
// Issue 3's target (b) asks for 1.5x the minimal group commit at 16 writers;
// the only way past the minimal group commit is to overlap durable writes
// (several batches in flight, O_DIRECT; docs/decisions/0008, 0009, 0012).
// This probe measures that directly, without Cairn:
//
//   1. group commit: T writer threads, each appending one 352-byte record
//      and waiting until it is durable; a waiting writer leads the next
//      batch whenever fewer than K batches are in flight; completions are
//      acknowledged in order. Buffered pwrite+fdatasync, or O_DIRECT writes
//      padded to 4 KiB with RWF_DSYNC. K = 1 is the minimal group commit of
//      cairn-compare's raw reference.
//   2. io_uring: one thread keeps D linked 4 KiB write -> fdatasync pairs in
//      flight (O_DIRECT or buffered) into a pre-written file.
//
// Every figure is a median of --repeat runs. Nothing here is a test: it
// prints what the machine does.
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if CAIRN_PROBE_HAVE_URING
#include <liburing.h>
#endif

namespace {

constexpr std::size_t kRecordBytes = 352;  // a 200 B event as Cairn frames it
constexpr std::size_t kAlign = 4096;
constexpr std::size_t kFileBytes = std::size_t{1} << 30;
constexpr std::size_t kBufferBytes = std::size_t{16} << 20;

struct Options {
  std::string dir = "/var/tmp";
  double seconds = 2.0;
  int repeat = 3;
  std::vector<int> threads = {16};
  std::vector<int> in_flight = {1, 2, 4};
  std::vector<int> delays_us;  // commit delays to try (buffered, K = 1)
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "cairn-flush-probe: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte, AlignedFree>;

Buffer aligned_buffer(std::size_t bytes) {
  void* p = nullptr;
  if (posix_memalign(&p, kAlign, bytes) != 0) {
    die("posix_memalign");
  }
  std::memset(p, 0x5a, bytes);
  return Buffer(static_cast<std::byte*>(p));
}

// A file whose blocks are written and durable, as Cairn's prepared segments.
std::string prepare_file(const std::string& dir) {
  const std::string path = dir + "/cairn-flush-probe.dat";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    die("open " + path);
  }
  std::vector<char> zeros(std::size_t{1} << 20, 0);
  for (std::size_t off = 0; off < kFileBytes; off += zeros.size()) {
    if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(off)) !=
        static_cast<ssize_t>(zeros.size())) {
      die("pwrite " + path);
    }
  }
  if (::fdatasync(fd) != 0) {
    die("fdatasync " + path);
  }
  ::close(fd);
  return path;
}

int open_file(const std::string& path, bool direct) {
  const int fd = ::open(path.c_str(), O_RDWR | (direct ? O_DIRECT : 0));
  if (fd < 0) {
    die("open " + path + (direct ? " with O_DIRECT" : ""));
  }
  return fd;
}

// The group commit of part 1. Writers take sequence numbers; a batch is the
// numbers taken since the last batch; `durable` moves in order.
class GroupCommit {
 public:
  // With a commit delay, a leader first waits up to `delay_us` for all
  // `writers` to have appended, so that one flush carries all of them.
  GroupCommit(int fd, bool direct, int in_flight, int writers = 0, int delay_us = 0)
      : fd_(fd),
        direct_(direct),
        in_flight_max_(in_flight),
        writers_(writers),
        delay_us_(delay_us) {}

  void writer(const std::atomic<bool>& stop) {
    const Buffer buffer = aligned_buffer(kBufferBytes);
    std::unique_lock lock(mu_);
    while (!stop.load()) {
      const std::uint64_t mine = ++appended_;
      if (delay_us_ > 0) {
        cv_.notify_all();  // a delaying leader counts the writers
      }
      while (durable_ < mine) {
        if (in_flight_ < in_flight_max_ && taken_ < appended_) {
          delay(lock);
          if (in_flight_ >= in_flight_max_ || taken_ >= appended_) {
            continue;  // another leader took the batch meanwhile
          }
          lead(lock, buffer.get());
        } else {
          cv_.wait(lock);
        }
      }
    }
  }

  std::uint64_t durable() const { return durable_; }
  std::uint64_t flushes() const { return flushes_; }

 private:
  struct Flight {
    std::uint64_t end;
    bool done;
  };

  void delay(std::unique_lock<std::mutex>& lock) {
    if (delay_us_ <= 0) {
      return;
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(delay_us_);
    while (appended_ - taken_ < static_cast<std::uint64_t>(writers_) &&
           std::chrono::steady_clock::now() < until) {
      cv_.wait_until(lock, until);
    }
  }

  void lead(std::unique_lock<std::mutex>& lock, std::byte* buffer) {
    const std::uint64_t records = appended_ - taken_;
    taken_ = appended_;
    const std::size_t bytes = std::min<std::size_t>(records * kRecordBytes, kBufferBytes);
    const std::size_t padded = (bytes + kAlign - 1) / kAlign * kAlign;
    if (offset_ + kBufferBytes > kFileBytes) {
      offset_ = 0;
    }
    const std::uint64_t at = offset_;
    offset_ += direct_ ? padded : bytes;
    Flight flight{taken_, false};
    flights_.push_back(&flight);
    ++in_flight_;
    lock.unlock();
    write_durably(buffer, direct_ ? padded : bytes, at);
    lock.lock();
    flight.done = true;
    --in_flight_;
    ++flushes_;
    while (!flights_.empty() && flights_.front()->done) {
      durable_ = flights_.front()->end;
      flights_.pop_front();
    }
    cv_.notify_all();
  }

  void write_durably(const std::byte* buffer, std::size_t bytes, std::uint64_t at) const {
    const auto pos = static_cast<off_t>(at);
    if (direct_) {
      iovec v{const_cast<std::byte*>(buffer), bytes};
      if (::pwritev2(fd_, &v, 1, pos, RWF_DSYNC) != static_cast<ssize_t>(bytes)) {
        die("pwritev2 O_DIRECT RWF_DSYNC");
      }
      return;
    }
    if (::pwrite(fd_, buffer, bytes, pos) != static_cast<ssize_t>(bytes)) {
      die("pwrite");
    }
    if (::fdatasync(fd_) != 0) {
      die("fdatasync");
    }
  }

  const int fd_;
  const bool direct_;
  const int in_flight_max_;
  const int writers_;
  const int delay_us_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t appended_ = 0;
  std::uint64_t taken_ = 0;
  std::uint64_t durable_ = 0;
  std::uint64_t flushes_ = 0;
  std::uint64_t offset_ = 0;
  int in_flight_ = 0;
  std::deque<Flight*> flights_;
};

struct Result {
  double per_second = 0;
  double per_flush = 0;
};

Result group_commit_once(const std::string& path, int threads, int in_flight, bool direct,
                         double seconds, int delay_us = 0) {
  const int fd = open_file(path, direct);
  GroupCommit gc(fd, direct, in_flight, threads, delay_us);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < threads; ++i) {
    writers.emplace_back([&] { gc.writer(stop); });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& t : writers) {
    t.join();
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  return {static_cast<double>(gc.durable()) / elapsed,
          static_cast<double>(gc.durable()) /
              static_cast<double>(std::max<std::uint64_t>(1, gc.flushes()))};
}

#if CAIRN_PROBE_HAVE_URING
// Part 2: `depth` linked write -> fdatasync pairs of 4 KiB kept in flight.
double uring_pairs_once(const std::string& path, int depth, bool direct, double seconds) {
  const int fd = open_file(path, direct);
  io_uring ring;
  if (const int rc = io_uring_queue_init(64, &ring, 0); rc < 0) {
    errno = -rc;
    die("io_uring_queue_init");
  }
  const Buffer buffer = aligned_buffer(kAlign);
  std::uint64_t offset = 0;
  const auto submit_pair = [&] {
    io_uring_sqe* write = io_uring_get_sqe(&ring);
    io_uring_prep_write(write, fd, buffer.get(), kAlign, offset);
    write->flags |= IOSQE_IO_LINK;
    write->user_data = 0;
    io_uring_sqe* sync = io_uring_get_sqe(&ring);
    io_uring_prep_fsync(sync, fd, IORING_FSYNC_DATASYNC);
    sync->user_data = 1;
    offset = (offset + kAlign) % (kFileBytes / 2);
  };
  for (int i = 0; i < depth; ++i) {
    submit_pair();
  }
  io_uring_submit(&ring);
  std::uint64_t durable = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    io_uring_cqe* cqe = nullptr;
    if (const int rc = io_uring_wait_cqe(&ring, &cqe); rc < 0) {
      errno = -rc;
      die("io_uring_wait_cqe");
    }
    if (cqe->res < 0) {
      errno = -cqe->res;
      die("io_uring write or fsync");
    }
    const bool synced = cqe->user_data == 1;
    io_uring_cqe_seen(&ring, cqe);
    if (synced) {
      ++durable;
      submit_pair();
      io_uring_submit(&ring);
    }
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  io_uring_queue_exit(&ring);  // waits for the pairs still in flight
  ::close(fd);
  return static_cast<double>(durable) / elapsed;
}
#endif

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<int> parse_list(const char* text) {
  std::vector<int> out;
  for (const char* p = text; *p != '\0';) {
    char* end = nullptr;
    const long n = std::strtol(p, &end, 10);
    if (end == p || n <= 0) {
      std::fprintf(stderr, "cairn-flush-probe: bad list '%s'\n", text);
      std::exit(2);
    }
    out.push_back(static_cast<int>(n));
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

void usage() {
  std::printf(
      "usage: cairn-flush-probe [--dir DIR] [--seconds S] [--repeat N]\n"
      "                         [--threads LIST] [--in-flight LIST]\n\n"
      "Measures whether durable writes overlap on this machine's storage: group\n"
      "commit with K batches in flight (buffered pwrite+fdatasync and O_DIRECT +\n"
      "RWF_DSYNC, 352 B records) and io_uring write->fdatasync pairs of 4 KiB at\n"
      "depth 1 and 4. Writes a 1 GiB file in DIR (default /var/tmp), removed at\n"
      "the end. Medians of --repeat runs (default 3) of --seconds each (default 2).\n"
      "  --threads LIST    writer threads of the group commit (default 16)\n"
      "  --in-flight LIST  batches in flight (default 1,2,4)\n"
      "  --delay-us LIST   also try a commit delay: with one batch in flight\n"
      "                    (buffered), the leader waits up to this many µs for\n"
      "                    every writer to have appended (default: not tried)\n");
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage();
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "cairn-flush-probe: %s needs a value (see --help)\n", arg.c_str());
      std::exit(2);
    }
    const char* value = argv[++i];
    if (arg == "--dir") {
      o.dir = value;
    } else if (arg == "--seconds") {
      o.seconds = std::atof(value);
    } else if (arg == "--repeat") {
      o.repeat = std::max(1, std::atoi(value));
    } else if (arg == "--threads") {
      o.threads = parse_list(value);
    } else if (arg == "--in-flight") {
      o.in_flight = parse_list(value);
    } else if (arg == "--delay-us") {
      o.delays_us = parse_list(value);
    } else {
      std::fprintf(stderr, "cairn-flush-probe: unknown option %s (see --help)\n", arg.c_str());
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::fprintf(stderr, "preparing a 1 GiB pre-written file in %s ...\n", o.dir.c_str());
  const std::string path = prepare_file(o.dir);
  std::printf("group commit, 352 B records, medians of %d x %.1f s\n", o.repeat, o.seconds);
  std::printf("%-8s %-9s %-16s %12s %10s %12s\n", "threads", "in flight", "writes", "events/s",
              "ev/flush", "x K=1 same");
  for (const int threads : o.threads) {
    for (const bool direct : {false, true}) {
      double base = 0;
      for (const int k : o.in_flight) {
        std::vector<double> rate;
        std::vector<double> per_flush;
        for (int r = 0; r < o.repeat; ++r) {
          const Result res = group_commit_once(path, threads, k, direct, o.seconds);
          rate.push_back(res.per_second);
          per_flush.push_back(res.per_flush);
        }
        const double m = median(rate);
        base = k == o.in_flight.front() ? m : base;
        std::printf("%-8d %-9d %-16s %12.0f %10.1f %11.2fx\n", threads, k,
                    direct ? "O_DIRECT+DSYNC" : "pwrite+fdatasync", m, median(per_flush), m / base);
        std::fflush(stdout);
      }
    }
  }
  if (!o.delays_us.empty()) {
    std::printf("\ncommit delay, pwrite+fdatasync, one batch in flight\n");
    std::printf("%-8s %-9s %12s %10s\n", "threads", "delay µs", "events/s", "ev/flush");
    for (const int threads : o.threads) {
      for (const int d : o.delays_us) {
        std::vector<double> rate;
        std::vector<double> per_flush;
        for (int r = 0; r < o.repeat; ++r) {
          const Result res = group_commit_once(path, threads, 1, false, o.seconds, d);
          rate.push_back(res.per_second);
          per_flush.push_back(res.per_flush);
        }
        std::printf("%-8d %-9d %12.0f %10.1f\n", threads, d, median(rate), median(per_flush));
        std::fflush(stdout);
      }
    }
  }
#if CAIRN_PROBE_HAVE_URING
  std::printf("\nio_uring linked 4 KiB write -> fdatasync pairs, one thread\n");
  std::printf("%-6s %-10s %16s %12s\n", "depth", "writes", "durable writes/s", "x depth 1");
  for (const bool direct : {false, true}) {
    double base = 0;
    for (const int depth : {1, 4}) {
      std::vector<double> rate;
      for (int r = 0; r < o.repeat; ++r) {
        rate.push_back(uring_pairs_once(path, depth, direct, o.seconds));
      }
      const double m = median(rate);
      base = depth == 1 ? m : base;
      std::printf("%-6d %-10s %16.0f %11.2fx\n", depth, direct ? "O_DIRECT" : "buffered", m,
                  m / base);
      std::fflush(stdout);
    }
  }
#else
  std::printf("\n(io_uring part not built: liburing not found)\n");
#endif
  ::unlink(path.c_str());
  return 0;
}
