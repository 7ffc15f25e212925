#include "io/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <map>
#include <mutex>
#include <system_error>
#include <utility>

namespace cairn::io {

std::string errno_text(int err) { return std::generic_category().message(err); }

Status sys_error(const std::string& path, const std::string& what, int err) {
  Errc code = Errc::io_error;
  if (err == ENOSPC || err == EDQUOT) {
    // A quota is a space limit to the caller too: both mean "free space, then reopen".
    code = Errc::no_space;
  } else if (err == ENOENT) {
    code = Errc::not_found;
  }
  return Status::in_file(code, path, what + ": " + errno_text(err), err);
}

namespace {

// Closes a descriptor on every early return; release() hands it on.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string at(const char* call, std::uint64_t position) {
  return std::string(call) + " at " + std::to_string(position);
}

// Advances past `n` written bytes; returns the first iovec not fully written.
std::size_t advance(std::vector<iovec>& iov, std::size_t next, std::size_t n) {
  while (n > 0) {
    iovec& v = iov[next];
    if (n >= v.iov_len) {
      n -= v.iov_len;
      ++next;
    } else {
      v.iov_base = static_cast<char*>(v.iov_base) + n;
      v.iov_len -= n;
      n = 0;
    }
  }
  return next;
}

int open_flags(OpenMode mode) {
  // O_CLOEXEC everywhere: a child the host process spawns must not inherit
  // (and so keep open, or keep locked) Cairn's files.
  switch (mode) {
    case OpenMode::read_only:
      return O_RDONLY | O_CLOEXEC;
    case OpenMode::read_write:
      return O_RDWR | O_CLOEXEC;
    case OpenMode::create:
      return O_RDWR | O_CREAT | O_CLOEXEC;
    case OpenMode::create_new:
      return O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC;
  }
  return O_RDONLY | O_CLOEXEC;
}

const char* mode_name(OpenMode mode) {
  switch (mode) {
    case OpenMode::read_only:
      return "open read_only";
    case OpenMode::read_write:
      return "open read_write";
    case OpenMode::create:
      return "open create";
    case OpenMode::create_new:
      return "open create_new";
  }
  return "open";
}

}  // namespace

// ---------------------------------------------------------------- PosixFile

PosixFile::PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

PosixFile::~PosixFile() {
  // A close() error is ignored on purpose: durability comes only from a
  // successful sync_data(), and close() must not be retried on Linux.
  ::close(fd_);
}

Status PosixFile::write_at(std::uint64_t position, std::span<const std::byte> bytes) {
  const WriteOp op{position, bytes};
  return write_run(std::span<const WriteOp>(&op, 1));
}

Status PosixFile::write_run(std::span<const WriteOp> run) {
  // Per thread, reused so the commit path does not allocate per batch; and
  // several batches may be written at once (LogOptions::batches_in_flight).
  thread_local std::vector<iovec> iov;
  iov.clear();
  for (const WriteOp& op : run) {
    if (!op.bytes.empty()) {
      // iovec is shared with readv, hence non-const; pwritev does not write to it.
      iov.push_back(iovec{const_cast<std::byte*>(op.bytes.data()), op.bytes.size()});
    }
  }
  std::uint64_t position = run.empty() ? 0 : run.front().position;
  std::size_t next = 0;
  while (next < iov.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(iov.size() - next, IOV_MAX));
    const ssize_t n = ::pwritev(fd_, &iov[next], count, static_cast<off_t>(position));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return sys_error(path_, at("pwritev", position), errno);
    }
    if (n == 0) {
      // Would loop forever; a regular file only does this when it cannot grow.
      return Status::in_file(Errc::io_error, path_, at("pwritev", position) + ": wrote nothing");
    }
    position += static_cast<std::uint64_t>(n);
    next = advance(iov, next, static_cast<std::size_t>(n));
  }
  return Status();
}

Result<std::size_t> PosixFile::read_at(std::uint64_t position, std::span<std::byte> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(position + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return sys_error(path_, at("pread", position + done), errno);
    }
    if (n == 0) {
      break;  // end of file
    }
    done += static_cast<std::size_t>(n);
  }
  return done;
}

Status PosixFile::sync_data() {
  // Never retried, not even on EINTR: after a failed fdatasync the kernel
  // may have dropped the dirty pages, so a second success would lie.
  if (::fdatasync(fd_) != 0) {
    return sys_error(path_, "fdatasync", errno);
  }
  return Status();
}

Status PosixFile::write_and_sync(std::span<const WriteOp> ops) {
  std::size_t begin = 0;
  while (begin < ops.size()) {
    std::size_t end = begin + 1;
    while (end < ops.size() &&
           ops[end].position == ops[end - 1].position + ops[end - 1].bytes.size()) {
      ++end;
    }
    CAIRN_TRY(write_run(ops.subspan(begin, end - begin)));
    begin = end;
  }
  return sync_data();
}

Status PosixFile::allocate(std::uint64_t position, std::uint64_t bytes) {
  if (bytes == 0) {
    return Status();  // fallocate rejects a zero length with EINVAL
  }
  int r = 0;
  do {
    r = ::fallocate(fd_, 0, static_cast<off_t>(position), static_cast<off_t>(bytes));
  } while (r != 0 && errno == EINTR);
  if (r == 0) {
    return Status();
  }
  if (errno != EOPNOTSUPP) {
    return sys_error(path_, at("fallocate", position), errno);
  }
  // The file system cannot reserve blocks (e.g. some network or FUSE file
  // systems): write zeros instead, which reserves them too. Only past the
  // current end, so no existing byte is overwritten.
  CAIRN_ASSIGN_OR_RETURN(const std::uint64_t end, size());
  return zero_fill(std::max(position, end), position + bytes);
}

Status PosixFile::zero_fill(std::uint64_t from, std::uint64_t to) {
  static constexpr std::size_t kChunk = std::size_t{64} * 1024;
  static const std::array<std::byte, kChunk> kZeros{};
  for (std::uint64_t p = from; p < to; p += kChunk) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, to - p));
    CAIRN_TRY(write_at(p, std::span<const std::byte>(kZeros.data(), n)));
  }
  return Status();
}

Result<std::uint64_t> PosixFile::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    return sys_error(path_, "fstat", errno);
  }
  return static_cast<std::uint64_t>(st.st_size);
}

namespace {

class PosixMapping final : public MappedBytes {
 public:
  PosixMapping(void* address, std::size_t bytes) : address_(address), bytes_(bytes) {}
  ~PosixMapping() override { ::munmap(address_, bytes_); }
  PosixMapping(const PosixMapping&) = delete;
  PosixMapping& operator=(const PosixMapping&) = delete;
  std::span<const std::byte> bytes() const override {
    return {static_cast<const std::byte*>(address_), bytes_};
  }

 private:
  void* address_;
  std::size_t bytes_;
};

}  // namespace

Result<std::shared_ptr<const MappedBytes>> PosixFile::map(std::uint64_t bytes) const {
  // Pages past the end of the file would fault with SIGBUS when touched.
  CAIRN_ASSIGN_OR_RETURN(const std::uint64_t file_bytes, size());
  if (bytes == 0 || bytes > file_bytes) {
    return Status::in_file(Errc::invalid_argument, path_,
                           "cannot map " + std::to_string(bytes) + " bytes of a file of " +
                               std::to_string(file_bytes));
  }
  void* address = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd_, 0);
  if (address == MAP_FAILED) {
    return sys_error(path_, "mmap", errno);
  }
  return std::shared_ptr<const MappedBytes>(
      std::make_shared<PosixMapping>(address, static_cast<std::size_t>(bytes)));
}

Status PosixFile::truncate(std::uint64_t bytes) {
  int r = 0;
  do {
    r = ::ftruncate(fd_, static_cast<off_t>(bytes));
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    return sys_error(path_, "ftruncate to " + std::to_string(bytes), errno);
  }
  return Status();
}

// ---------------------------------------------------------------- locks

namespace {

using LockKey = std::pair<dev_t, ino_t>;

// The lock files this process holds, by identity (not by path spelling), so
// that a second lock() on the same file in this process is reported as such.
// flock() would refuse it too (each open() is a separate lock owner), but
// its EWOULDBLOCK would wrongly blame "another process".
struct LockRegistry {
  std::mutex mu;
  std::map<LockKey, std::string> held;  // -> the path it was locked through
};

LockRegistry& lock_registry() {
  static LockRegistry registry;  // function-local: safe from static-init order
  return registry;
}

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(int fd, LockKey key) : fd_(fd), key_(key) {}
  ~PosixFileLock() override {
    std::lock_guard<std::mutex> guard(lock_registry().mu);
    ::close(fd_);  // releases the flock
    lock_registry().held.erase(key_);
  }
  PosixFileLock(const PosixFileLock&) = delete;
  PosixFileLock& operator=(const PosixFileLock&) = delete;

 private:
  int fd_;
  LockKey key_;
};

}  // namespace

Result<std::unique_ptr<FileLock>> PosixFileSystem::lock(const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    return sys_error(path, "open lock file", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return sys_error(path, "fstat lock file", errno);
  }
  const LockKey key{st.st_dev, st.st_ino};
  // Held across flock() (which does not block with LOCK_NB) so that the
  // registry and the kernel's view never disagree.
  std::lock_guard<std::mutex> guard(lock_registry().mu);
  if (auto it = lock_registry().held.find(key); it != lock_registry().held.end()) {
    return Status::in_file(
        Errc::busy, path,
        "already locked by this process (through " + it->second + "): is the log open twice?");
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      return Status::in_file(Errc::busy, path, "locked by another process", err);
    }
    return sys_error(path, "flock", err);
  }
  // A child forked (without exec) from here shares this open file
  // description, so it shares the lock too; O_CLOEXEC drops it on exec.
  lock_registry().held.emplace(key, path);
  return std::unique_ptr<FileLock>(new PosixFileLock(fd.release(), key));
}

// ---------------------------------------------------------------- PosixFileSystem

std::unique_ptr<File> PosixFileSystem::make_file(int fd, const std::string& path) {
  return std::make_unique<PosixFile>(fd, path);
}

Result<std::unique_ptr<File>> PosixFileSystem::open(const std::string& path, OpenMode mode) {
  int fd = -1;
  do {
    fd = ::open(path.c_str(), open_flags(mode), 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    return sys_error(path, mode_name(mode), errno);
  }
  return make_file(fd, path);
}

Status PosixFileSystem::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return sys_error(from, "rename to " + to, errno);
  }
  return Status();
}

Status PosixFileSystem::remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    return sys_error(path, "unlink", errno);
  }
  return Status();
}

Status PosixFileSystem::sync_dir(const std::string& dir) {
  ScopedFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return sys_error(dir, "open directory", errno);
  }
  // Not retried on failure, for the same reason as fdatasync.
  if (::fsync(fd.get()) != 0) {
    return sys_error(dir, "fsync directory", errno);
  }
  return Status();
}

Result<std::vector<std::string>> PosixFileSystem::list(const std::string& dir) {
  ScopedFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return sys_error(dir, "open directory", errno);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> stream(::fdopendir(fd.get()), &::closedir);
  if (!stream) {
    return sys_error(dir, "fdopendir", errno);
  }
  fd.release();  // the DIR stream owns it now
  std::vector<std::string> names;
  for (;;) {
    errno = 0;  // readdir reports errors only through errno
    const dirent* entry = ::readdir(stream.get());
    if (entry == nullptr) {
      if (errno != 0) {
        return sys_error(dir, "readdir", errno);
      }
      break;
    }
    const std::string name = entry->d_name;
    if (name != "." && name != "..") {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

Status PosixFileSystem::create_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) {
    return Status();
  }
  const int err = errno;
  if (err != EEXIST) {
    return sys_error(dir, "mkdir", err);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Status();
  }
  return Status::in_file(Errc::io_error, dir, "mkdir: exists and is not a directory", err);
}

Result<bool> PosixFileSystem::exists(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    return true;
  }
  if (errno == ENOENT || errno == ENOTDIR) {
    return false;
  }
  return sys_error(path, "stat", errno);
}

}  // namespace cairn::io
