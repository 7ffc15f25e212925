// The posix backend of the I/O seam: pwritev + fdatasync, one syscall per
// operation. It is always built; the io_uring backend derives from it and
// replaces only the batched write path (write_and_sync), so the metadata
// operations (open, rename, sync_dir, list, lock, ...) exist once, here.
#pragma once

#include <cairn/file_system.h>
#include <cairn/status.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cairn::io {

// errno as text ("No space left on device"); thread-safe, unlike strerror().
std::string errno_text(int err);

// The Status for a failed syscall on `path`: names the path, keeps errno and
// maps it to a code (ENOSPC/EDQUOT -> no_space, ENOENT -> not_found, else
// io_error). `what` says which call failed and where, e.g. "pwritev at 4096".
Status sys_error(const std::string& path, const std::string& what, int err);

// A file opened by PosixFileSystem. Owns its descriptor.
class PosixFile : public File {
 public:
  PosixFile(int fd, std::string path);
  ~PosixFile() override;
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Status write_at(std::uint64_t position, std::span<const std::byte> bytes) override;
  Result<std::size_t> read_at(std::uint64_t position, std::span<std::byte> out) const override;
  Status sync_data() override;
  // Coalesces ops that are contiguous in the file into one pwritev each,
  // then one fdatasync.
  Status write_and_sync(std::span<const WriteOp> ops) override;
  Status allocate(std::uint64_t position, std::uint64_t bytes) override;
  Result<std::uint64_t> size() const override;
  Status truncate(std::uint64_t bytes) override;
  const std::string& path() const override { return path_; }
  // mmap(PROT_READ, MAP_SHARED) of the file's first `bytes` (at most its size).
  Result<std::shared_ptr<const MappedBytes>> map(std::uint64_t bytes) const override;
  // The descriptor, for the io_uring backend's batched calls.
  int fd() const { return fd_; }

 private:
  // Writes ops that are contiguous in the file, retrying short writes.
  Status write_run(std::span<const WriteOp> run);
  Status zero_fill(std::uint64_t from, std::uint64_t to);

  int fd_;
  std::string path_;
};

class PosixFileSystem : public FileSystem {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status sync_dir(const std::string& dir) override;
  Result<std::vector<std::string>> list(const std::string& dir) override;
  Status create_dir(const std::string& dir) override;
  Result<bool> exists(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> lock(const std::string& path) override;
  std::string name() const override { return "posix"; }

 protected:
  // Wraps a freshly opened descriptor (ownership passes to the File). The
  // io_uring backend overrides this to hand out files with a ring.
  virtual std::unique_ptr<File> make_file(int fd, const std::string& path);
};

}  // namespace cairn::io
