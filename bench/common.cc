// Pieces shared by the peers: the fsync counter (see fsync_counter.h), the
// default Peer::fsyncs(), and the value encoding RocksDB and LMDB store.
#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "fsync_counter.h"
#include "peer.h"

namespace {
std::atomic<std::uint64_t> g_fsyncs{0};
}  // namespace

// These definitions replace the C library's for every caller in the process
// (the executable exports them because the shared libraries it links refer
// to them). They count, then make the same system call the C library makes.
extern "C" int fdatasync(int fd) {
  g_fsyncs.fetch_add(1, std::memory_order_relaxed);
  return static_cast<int>(syscall(SYS_fdatasync, fd));
}

extern "C" int fsync(int fd) {
  g_fsyncs.fetch_add(1, std::memory_order_relaxed);
  return static_cast<int>(syscall(SYS_fsync, fd));
}

namespace cairn_bench {

std::uint64_t process_fsyncs() { return g_fsyncs.load(std::memory_order_relaxed); }

bool fsync_counter_works() {
  // The dynamic linker resolves a shared library's reference to fdatasync to
  // the first definition in global scope; it is ours when the executable
  // exports it.
  void* found = dlsym(RTLD_DEFAULT, "fdatasync");
  int (*ours)(int) = &fdatasync;
  return found != nullptr && found == reinterpret_cast<void*>(ours);
}

std::optional<std::uint64_t> Peer::fsyncs() const { return process_fsyncs(); }

std::string encode_event_value(const EventRef& event) {
  std::string v;
  v.reserve(2 + event.stream.size() + 8 + 2 + kEventType.size() + event.data.size());
  auto put16 = [&v](std::size_t n) {
    v.push_back(static_cast<char>(n & 0xFF));
    v.push_back(static_cast<char>((n >> 8) & 0xFF));
  };
  put16(event.stream.size());
  v.append(event.stream);
  char be[8];
  put_be64(be, event.version);
  v.append(be, 8);
  put16(kEventType.size());
  v.append(kEventType);
  v.append(event.data);
  return v;
}

std::string_view event_value_data(std::string_view value) {
  auto get16 = [&value](std::size_t at) -> std::size_t {
    return static_cast<unsigned char>(value[at]) |
           (static_cast<std::size_t>(static_cast<unsigned char>(value[at + 1])) << 8);
  };
  if (value.size() < 2) {
    return {};
  }
  std::size_t at = 2 + get16(0) + 8;
  if (value.size() < at + 2) {
    return {};
  }
  at += 2 + get16(at);
  if (value.size() < at) {
    return {};
  }
  return value.substr(at);
}

}  // namespace cairn_bench
