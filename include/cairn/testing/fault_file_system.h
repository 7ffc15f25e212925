// FaultFileSystem: wraps any io::FileSystem (posix, io_uring or the crash
// model) and makes chosen operations fail, to test how code handles I/O
// errors: EIO on fsync (after which Cairn must poison the log), a disk that
// fills up, short writes, a device that disappears. Part of the public testing
// API (libcairn_testing); depends on the standard library and
// cairn/file_system.h only.
//
// Every operation of the wrapper and of the Files it opens is first counted
// by kind (Op), then checked against the armed faults in this order:
//   1. set_active(false): fails with io_error "injected: file system
//      deactivated" (RocksDB's "system reset"; the base is not touched).
//   2. fail_nth(): the n-th op of a kind fails.
//   3. fail_randomly(): each op of a kind fails with a probability.
//   4. syncs only: fail_syncs_after_bytes().
//   5. writes only: the byte limit (enospc_after_bytes(),
//      fail_writes_after_bytes()), then short_writes().
// A fault from 1-4 has no effect on the base: the base operation is not
// called, so a failed sync syncs nothing (the data stays unsynced, which the
// crash model may then drop: the fsyncgate case) and a failed open creates
// nothing. Faults 5 write a prefix of the bytes through the base, then fail.
// Every injected failure carries "injected" in its message and the file's path.
//
// File::write_and_sync() counts one write per WriteOp and one sync, like the
// default implementation. When no fault fires it is forwarded whole to the
// base (so the io_uring backend still submits linked writes + fdatasync in one
// submission); when one fires, the writes before it go through the base one
// by one, the faulty write writes its prefix (if any), and nothing after it
// happens (no sync).
//
// Determinism: one PRNG seeded with `seed` makes every random choice, drawn
// in operation order; single-threaded use is fully reproducible.
// Thread safety: every member function and every File it opens may be called
// from any thread (one mutex guards the fault state, never held while the base
// runs). Files and locks it returns share that state and may outlive it.
#pragma once

#include <cairn/file_system.h>
#include <cairn/status.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cairn::testing {

namespace detail {
struct FaultState;
}  // namespace detail

class FaultFileSystem : public io::FileSystem {
 public:
  // The kinds of operation faults can target. read_at counts as read; size()
  // of a File as size; FileSystem::exists as exists; create_dir as create_dir.
  enum class Op : std::uint8_t {
    open,
    read,
    write,
    sync,
    allocate,
    truncate,
    rename,
    remove,
    sync_dir,
    list,
    lock,
    create_dir,
    exists,
    size,
  };
  static constexpr std::size_t kOpKinds = 14;
  static const char* op_name(Op op);

  FaultFileSystem(std::shared_ptr<io::FileSystem> base, std::uint64_t seed);
  ~FaultFileSystem() override;
  FaultFileSystem(const FaultFileSystem&) = delete;
  FaultFileSystem& operator=(const FaultFileSystem&) = delete;

  // The n-th op of that kind (1-based, counted from this call) fails with
  // `code` and errno `sys_errno`. Several may be armed at once, for the same
  // kind too. REQUIRES: n >= 1.
  void fail_nth(Op op, std::uint64_t n, Errc code = Errc::io_error, int sys_errno = EIO);
  // From now on every op of that kind fails with this probability (0 turns it
  // off; replaces an earlier setting for that kind).
  void fail_randomly(Op op, double probability, Errc code = Errc::io_error, int sys_errno = EIO);
  // Writes fail with no_space (ENOSPC) once more than `total_bytes` bytes in
  // total would have been written through this wrapper since it was made
  // (bytes written before this call count). The failing write writes the
  // prefix that still fits, as a filling disk does; every later write fails
  // without writing. allocate() is not affected: use fail_nth(Op::allocate,
  // 1, Errc::no_space, ENOSPC) for that.
  void enospc_after_bytes(std::uint64_t total_bytes);
  // The same with another error: writes fail with `code`/`sys_errno` once
  // more than `total_bytes` bytes would have been written (a device that
  // starts failing part-way). enospc_after_bytes(n) is this with no_space.
  void fail_writes_after_bytes(std::uint64_t total_bytes, Errc code = Errc::io_error,
                               int sys_errno = EIO);
  // Every fdatasync (sync_data, the sync of write_and_sync) fails with EIO
  // once more than `total_bytes` bytes have been written through this
  // wrapper: the data reached the page cache, the sync did not (fsyncgate).
  void fail_syncs_after_bytes(std::uint64_t total_bytes);
  // With this probability a write of n > 0 bytes writes only a random prefix
  // of [0, n) bytes through the base, then fails with io_error "injected short
  // write". (File::write_at promises to retry short writes; this models one
  // that could not be completed.)
  void short_writes(double probability);
  // Inactive: every op fails. Active again: faults resume as armed.
  void set_active(bool active);
  // Disarms fail_nth, fail_randomly, the byte limits and short_writes.
  void clear_faults();

  // Ops of that kind seen so far (failed ones included).
  std::uint64_t count(Op op) const;
  // Failures injected so far.
  std::uint64_t injected_count() const;
  // Bytes written through the base so far (prefixes of failed writes included).
  std::uint64_t bytes_written() const;

  // --- io::FileSystem ---------------------------------------------------
  Result<std::unique_ptr<io::File>> open(const std::string& path, io::OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status sync_dir(const std::string& dir) override;
  Result<std::vector<std::string>> list(const std::string& dir) override;
  Status create_dir(const std::string& dir) override;
  Result<bool> exists(const std::string& path) override;
  Result<std::unique_ptr<io::FileLock>> lock(const std::string& path) override;
  // "fault(" + the base's name + ")".
  std::string name() const override;

 private:
  std::shared_ptr<detail::FaultState> state_;
};

}  // namespace cairn::testing
