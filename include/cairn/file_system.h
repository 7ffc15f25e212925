// The I/O seam: every byte Cairn reads or writes goes through these two
// interfaces, which is what makes crash injection possible. Backends live in
// io/ (posix, io_uring) and, for testing, in cairn/testing/ (the in-memory
// crash model and the fault injector). This header is public because an
// application can hand Cairn its own FileSystem (LogOptions::file_system), for
// example the crash model, to crash-test its own code.
//
// Durability contract (every backend implements it; the crash model enforces
// it):
//   * Bytes written to a file before a successful sync_data() of that file
//     survive power loss.
//   * Bytes written after the last successful sync_data() may be lost, torn at
//     512-byte sector granularity, or be present in any subset and order.
//   * A name created, renamed or removed since the last successful sync_dir()
//     of its directory may revert after power loss.
//   * After a failed sync_data() nothing is known about the unsynced bytes:
//     the caller must not retry and trust it (the kernel may have dropped the
//     dirty pages). Cairn poisons the log instead.
#pragma once

#include <cairn/status.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cairn::io {

struct WriteOp {
  std::uint64_t position;
  std::span<const std::byte> bytes;
};

// A read-only mapping of a file's first bytes (mmap). The bytes stay valid
// while this object lives, also after the File is closed.
class MappedBytes {
 public:
  virtual ~MappedBytes() = default;
  virtual std::span<const std::byte> bytes() const = 0;
};

// One open file. Thread safety: read_at() may be called from any number of
// threads at once, also while others write; write_at() and write_and_sync()
// may be called from several threads at once for disjoint byte ranges (the
// log keeps several batches in flight); every other call must come from one
// thread at a time (the log's committer).
class File {
 public:
  virtual ~File() = default;

  // Writes all of `bytes` at `position` (a short write is retried inside; an
  // error is returned only when the bytes could not be written).
  virtual Status write_at(std::uint64_t position, std::span<const std::byte> bytes) = 0;
  // Reads up to out.size() bytes; returns how many were read (fewer only at
  // the end of the file).
  virtual Result<std::size_t> read_at(std::uint64_t position, std::span<std::byte> out) const = 0;
  // Makes the file's written bytes durable (fdatasync).
  virtual Status sync_data() = 0;
  // Writes every op, then makes them durable. Returns OK only when all writes
  // and the sync succeeded. The io_uring backend submits the writes linked to
  // one IORING_FSYNC_DATASYNC in a single submission; the default is a loop of
  // write_at() then sync_data().
  virtual Status write_and_sync(std::span<const WriteOp> ops);
  // Reserves [position, position + bytes) so later writes there cannot fail
  // for lack of space (fallocate).
  virtual Status allocate(std::uint64_t position, std::uint64_t bytes) = 0;
  virtual Result<std::uint64_t> size() const = 0;
  // Sets the file's size (ftruncate). Only recovery and tests shrink files.
  virtual Status truncate(std::uint64_t bytes) = 0;
  virtual const std::string& path() const = 0;
  // Maps [0, bytes) read-only, for bytes that no longer change (a sealed
  // segment): reading them then copies nothing. Returns null when the
  // backend does not map; the caller reads with read_at() instead. The
  // default returns null, so the crash model and the fault injector, which
  // must see every read, are never bypassed. Beware: an I/O error on a
  // mapped page arrives as SIGBUS, not as a Status (LogOptions::
  // map_sealed_segments turns mapping off).
  virtual Result<std::shared_ptr<const MappedBytes>> map(std::uint64_t bytes) const;
};

// One read of FileSystem::read_many. Like File::read_at: up to out.size()
// bytes at `position`, fewer only at the end of the file; `got` receives
// how many.
struct ReadOp {
  const File* file = nullptr;
  std::uint64_t position = 0;
  std::span<std::byte> out;
  std::size_t got = 0;
};

enum class OpenMode : std::uint8_t {
  read_only,   // the file must exist
  read_write,  // the file must exist
  create,      // create if missing, else open read-write
  create_new,  // fail with Errc::busy-free io_error(EEXIST) if it exists
};

// Advisory exclusive lock on a file, released when the object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) = 0;
  // Atomically replaces `to` with `from`; durable after sync_dir().
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status remove(const std::string& path) = 0;
  // Makes creations, renames and removals in `dir` durable (fsync of the directory).
  virtual Status sync_dir(const std::string& dir) = 0;
  // Names (not paths) of the entries of `dir`, sorted; not_found if it is missing.
  virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;
  // Creates `dir` if missing (not its parents); OK if it exists.
  virtual Status create_dir(const std::string& dir) = 0;
  virtual Result<bool> exists(const std::string& path) = 0;
  // Takes an exclusive lock on `path` (created if missing). Fails with
  // Errc::busy when another process (or another open log) holds it.
  virtual Result<std::unique_ptr<FileLock>> lock(const std::string& path) = 0;
  // A short name for reports: "posix", "io_uring", "mem", "fault(posix)".
  virtual std::string name() const = 0;
  // Reads every op (files opened by this file system) and fills its `got`;
  // fails with the first error (the other ops' buffers are then unspecified).
  // The io_uring backend submits them together, one system call for many
  // reads of many files (a stream read's records); the default is a loop of
  // File::read_at, which wrappers such as the crash model keep.
  virtual Status read_many(std::span<ReadOp> ops);
};

enum class Backend : std::uint8_t {
  automatic,  // io_uring when io_uring_queue_init works here, else posix (reason logged once)
  io_uring,
  posix,
};

// The real file system through the chosen backend. With Backend::automatic
// the choice and, on fallback, its reason are available from
// backend_choice_reason().
Result<std::shared_ptr<FileSystem>> make_file_system(Backend backend);
std::string backend_choice_reason();

}  // namespace cairn::io
