// The io_uring backend of the I/O seam. It is the posix backend except for
// File::write_and_sync, which submits every write as an IORING_OP_WRITE
// linked (IOSQE_IO_LINK) to one IORING_OP_FSYNC with IORING_FSYNC_DATASYNC,
// in one io_uring_enter, and checks every completion (BRIEF.md rule 3:
// io_uring orders nothing unless asked). Metadata operations, reads, single
// writes and sync_data stay on the posix code: one syscall each either way,
// so a ring would add code without saving anything.
#pragma once

#include <memory>
#include <string>

#include "io/posix_file_system.h"

namespace cairn::io {

// OK when this process can use io_uring for Cairn: io_uring_queue_init works
// (seccomp, kernel.io_uring_disabled and RLIMIT_MEMLOCK can all prevent it)
// and the kernel has IORING_OP_WRITE and IORING_OP_FSYNC. Otherwise the
// status says why, e.g. "io_uring_queue_init failed: Operation not permitted".
Status probe_io_uring();

class UringFileSystem final : public PosixFileSystem {
 public:
  // One ring per written file: a batch of more writes than the ring holds is
  // split into rounds (see UringFile::write_and_sync). A commit batch is
  // normally one or two contiguous writes, so 64 entries leave plenty of room.
  static constexpr unsigned kDefaultRingEntries = 64;

  explicit UringFileSystem(unsigned ring_entries = kDefaultRingEntries);
  std::string name() const override { return "io_uring"; }
  // The reads go through a ring of the calling thread's (made on its first
  // read_many, kept until the thread ends: readers run on many threads at
  // once, and a shared ring would need a lock around every batch), up to
  // kReadRingEntries reads per system call. Falls back to the default loop
  // when that ring cannot be made or a file is not one of this backend's.
  Status read_many(std::span<ReadOp> ops) override;
  static constexpr unsigned kReadRingEntries = 64;

 protected:
  std::unique_ptr<File> make_file(int fd, const std::string& path) override;

 private:
  unsigned ring_entries_;
};

}  // namespace cairn::io
