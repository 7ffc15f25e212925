#include "io/uring_file_system.h"

#include <cairn/assert.h>
#include <liburing.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace cairn::io {

namespace {

// user_data of the fsync SQE; writes carry their index in Lane::pieces.
constexpr std::uint64_t kFsyncTag = std::numeric_limits<std::uint64_t>::max();

// The kernel writes at most MAX_RW_COUNT (just under 2 GiB) per call and
// returns a short count beyond it, which this backend treats as an error; so
// larger ops are split into pieces that are never expected to be short.
constexpr std::size_t kMaxPieceBytes = std::size_t{1} << 30;

// One SQE's worth of a WriteOp.
struct Piece {
  std::uint64_t position;
  const std::byte* data;
  unsigned len;
};

// The completion that explains a failed round: a real error beats a
// cancellation (which only follows one), an earlier op beats a later one.
struct Failure {
  Status status;
  std::uint64_t tag = kFsyncTag;

  bool explains_better_than(const Failure& other) const {
    if (other.status.ok()) {
      return true;
    }
    return std::make_tuple(status.sys_errno() == ECANCELED, tag) <
           std::make_tuple(other.status.sys_errno() == ECANCELED, other.tag);
  }
};

// One io_uring with the pieces of the batch it carries. A file has a few, so
// that several batches can be in flight at once (the committer keeps up to
// LogOptions::batches_in_flight); each lane is used by one caller at a time.
struct Lane {
  std::mutex mu;
  bool ready = false;
  io_uring ring{};
  // Reused across batches so the commit path does not allocate.
  std::vector<Piece> pieces;
};

class UringFile final : public PosixFile {
 public:
  UringFile(int fd, std::string path, unsigned ring_entries)
      : PosixFile(fd, std::move(path)), ring_entries_(ring_entries) {}
  ~UringFile() override {
    for (Lane& lane : lanes_) {
      reset_ring(lane);
    }
  }

  Status write_and_sync(std::span<const WriteOp> ops) override;

 private:
  static constexpr std::size_t kLanes = 4;

  Lane& take_lane(std::unique_lock<std::mutex>& lock);
  Status ensure_ring(Lane& lane);
  static void reset_ring(Lane& lane);
  static void split(Lane& lane, std::span<const WriteOp> ops);
  Status submit_round(Lane& lane, std::size_t first, std::size_t count, bool with_fsync);
  Status submit_and_reap(Lane& lane, unsigned count);
  Status reap(Lane& lane, unsigned count);
  Status check(const Lane& lane, std::uint64_t tag, int res) const;

  unsigned ring_entries_;
  std::array<Lane, kLanes> lanes_;
};

// A free lane if there is one, else waits for the first.
Lane& UringFile::take_lane(std::unique_lock<std::mutex>& lock) {
  for (Lane& lane : lanes_) {
    lock = std::unique_lock(lane.mu, std::try_to_lock);
    if (lock.owns_lock()) {
      return lane;
    }
  }
  lock = std::unique_lock(lanes_[0].mu);
  return lanes_[0];
}

Status UringFile::write_and_sync(std::span<const WriteOp> ops) {
  std::unique_lock<std::mutex> lock;
  Lane& lane = take_lane(lock);
  CAIRN_TRY(ensure_ring(lane));
  split(lane, ops);
  // A round fills the ring at most once, and each round completes before the
  // next is submitted; only the last round carries the fsync, so the fsync
  // still comes after every write of the batch.
  const std::size_t capacity = lane.ring.sq.ring_entries;
  std::size_t first = 0;
  for (;;) {
    const std::size_t left = lane.pieces.size() - first;
    if (left + 1 <= capacity) {
      return submit_round(lane, first, left, /*with_fsync=*/true);
    }
    const std::size_t count = std::min(left, capacity);
    CAIRN_TRY(submit_round(lane, first, count, /*with_fsync=*/false));
    first += count;
  }
}

Status UringFile::ensure_ring(Lane& lane) {
  if (lane.ready) {
    return Status();
  }
  // Made on first use, not at open: readers and recovery open many files
  // that are never written through a batch.
  const int ret = io_uring_queue_init(ring_entries_, &lane.ring, 0);
  if (ret < 0) {
    return sys_error(path(), "io_uring_queue_init", -ret);
  }
  lane.ready = true;
  return Status();
}

void UringFile::reset_ring(Lane& lane) {
  if (lane.ready) {
    io_uring_queue_exit(&lane.ring);
    lane.ready = false;
  }
}

void UringFile::split(Lane& lane, std::span<const WriteOp> ops) {
  lane.pieces.clear();
  for (const WriteOp& op : ops) {
    for (std::size_t done = 0; done < op.bytes.size(); done += kMaxPieceBytes) {
      const std::size_t len = std::min(kMaxPieceBytes, op.bytes.size() - done);
      lane.pieces.push_back(
          Piece{op.position + done, op.bytes.data() + done, static_cast<unsigned>(len)});
    }
  }
}

Status UringFile::submit_round(Lane& lane, std::size_t first, std::size_t count, bool with_fsync) {
  const std::size_t end = first + count;
  for (std::size_t i = first; i < end; ++i) {
    io_uring_sqe* sqe = io_uring_get_sqe(&lane.ring);
    CAIRN_ASSERT_MSG(sqe != nullptr,
                     "a round never exceeds the ring, which is empty between rounds");
    const Piece& piece = lane.pieces[i];
    io_uring_prep_write(sqe, fd(), piece.data, piece.len, piece.position);
    io_uring_sqe_set_data64(sqe, i);
    // Linked, so a failed or short write cancels everything after it,
    // the fsync included: the batch can never be reported durable.
    if (i + 1 < end || with_fsync) {
      io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
    }
  }
  if (with_fsync) {
    io_uring_sqe* sqe = io_uring_get_sqe(&lane.ring);
    CAIRN_ASSERT_MSG(sqe != nullptr, "the last round leaves room for its fsync");
    io_uring_prep_fsync(sqe, fd(), IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sqe, kFsyncTag);
  }
  return submit_and_reap(lane, static_cast<unsigned>(count + (with_fsync ? 1 : 0)));
}

Status UringFile::submit_and_reap(Lane& lane, unsigned count) {
  int ret = 0;
  do {
    // One io_uring_enter submits the round and waits for all of it.
    ret = io_uring_submit_and_wait(&lane.ring, count);
    // A signal may interrupt the wait after the kernel took the SQEs; only
    // resubmit when it took none.
  } while (ret == -EINTR && io_uring_sq_ready(&lane.ring) == count);
  const unsigned taken = count - io_uring_sq_ready(&lane.ring);
  Status status = reap(lane, taken);
  if (taken < count) {
    // The kernel refused some SQEs, which stay queued: drop the ring so they
    // never run (the next batch makes a new one) and fail the batch.
    reset_ring(lane);
    if (status.ok()) {
      const int err = ret < 0 ? -ret : 0;
      status = Status::in_file(Errc::io_error, path(),
                               "io_uring_enter took " + std::to_string(taken) + " of " +
                                   std::to_string(count) + " operations: " + errno_text(err),
                               err);
    }
  }
  return status;
}

Status UringFile::reap(Lane& lane, unsigned count) {
  Failure worst;
  for (unsigned i = 0; i < count; ++i) {
    io_uring_cqe* cqe = nullptr;
    int ret = 0;
    do {
      ret = io_uring_wait_cqe(&lane.ring, &cqe);
    } while (ret == -EINTR);
    // Returning with writes still in flight would let them land later from
    // buffers the caller may reuse; this fails only if our ring is broken.
    CAIRN_ASSERT_MSG(ret == 0, "io_uring_wait_cqe fails only on a broken ring");
    const std::uint64_t tag = io_uring_cqe_get_data64(cqe);
    Failure failure{check(lane, tag, cqe->res), tag};
    io_uring_cqe_seen(&lane.ring, cqe);
    if (!failure.status.ok() && failure.explains_better_than(worst)) {
      worst = std::move(failure);
    }
  }
  return worst.status;
}

// Every completion is checked: an error, a cancellation and a short write
// all fail the batch (a short write inside a linked chain has already
// cancelled the rest of it).
Status UringFile::check(const Lane& lane, std::uint64_t tag, int res) const {
  const bool is_fsync = tag == kFsyncTag;
  const std::string what = is_fsync
                               ? std::string("fdatasync (io_uring)")
                               : "write (io_uring) at " + std::to_string(lane.pieces[tag].position);
  if (res == -ECANCELED) {
    return Status::in_file(Errc::io_error, path(),
                           what + ": cancelled because an earlier linked operation failed",
                           ECANCELED);
  }
  if (res < 0) {
    return sys_error(path(), what, -res);
  }
  if (!is_fsync && static_cast<unsigned>(res) != lane.pieces[tag].len) {
    return Status::in_file(Errc::io_error, path(),
                           what + ": short write (" + std::to_string(res) + " of " +
                               std::to_string(lane.pieces[tag].len) + " bytes)");
  }
  return Status();
}

}  // namespace

Status probe_io_uring() {
  io_uring ring{};
  const int ret = io_uring_queue_init(2, &ring, 0);
  if (ret < 0) {
    return Status::error(Errc::io_error, "io_uring_queue_init failed: " + errno_text(-ret), -ret);
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  const bool has_ops = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_WRITE) &&
                       io_uring_opcode_supported(probe, IORING_OP_FSYNC);
  if (probe != nullptr) {
    io_uring_free_probe(probe);
  }
  io_uring_queue_exit(&ring);
  if (!has_ops) {
    return Status::error(Errc::io_error,
                         "io_uring has no IORING_OP_WRITE/IORING_OP_FSYNC or cannot be probed "
                         "(kernel older than 5.6?)");
  }
  return Status();
}

UringFileSystem::UringFileSystem(unsigned ring_entries) : ring_entries_(ring_entries) {
  // Two: one write and its fsync. 4096: far above any batch, and well under
  // the kernel's limit, so io_uring_queue_init never fails for the size.
  CAIRN_ASSERT_MSG(ring_entries >= 2 && ring_entries <= 4096, "ring size out of range");
}

std::unique_ptr<File> UringFileSystem::make_file(int fd, const std::string& path) {
  return std::make_unique<UringFile>(fd, path, ring_entries_);
}

}  // namespace cairn::io

// --- batched reads (UringFileSystem::read_many) ---

namespace cairn::io {
namespace {

// The calling thread's read ring, made on its first batch. `broken` once it
// could not be made or the kernel refused a submission (its unsubmitted
// entries are dropped with it): the thread then reads with the default loop.
struct ReadRing {
  io_uring ring{};
  bool ready = false;
  bool broken = false;
  ~ReadRing() { drop(); }
  void drop() {
    if (ready) {
      io_uring_queue_exit(&ring);
      ready = false;
    }
  }
};

ReadRing* thread_read_ring() {
  thread_local ReadRing r;
  if (!r.ready && !r.broken) {
    r.ready = io_uring_queue_init(UringFileSystem::kReadRingEntries, &r.ring, 0) == 0;
    r.broken = !r.ready;
  }
  return r.ready ? &r : nullptr;
}

// One completion: the bytes read, finishing a short read with read_at (a
// buffered read may stop early; only the end of the file may make it short).
Status finish_read(ReadOp& op, int res) {
  const auto& file = *static_cast<const PosixFile*>(op.file);
  if (res < 0) {
    return sys_error(file.path(), "read (io_uring) at " + std::to_string(op.position), -res);
  }
  op.got = static_cast<std::size_t>(res);
  if (res > 0 && op.got < op.out.size()) {
    CAIRN_ASSIGN_OR_RETURN(std::size_t more,
                           file.read_at(op.position + op.got, op.out.subspan(op.got)));
    op.got += more;
  }
  return Status();
}

// Queues up to a ring's worth of reads, submits them with one system call
// and waits for every one the kernel took. Returns how many it took (the
// first ones); the caller drops the ring if that is not all of them.
unsigned submit_reads(io_uring& ring, std::span<ReadOp> ops) {
  for (std::size_t i = 0; i < ops.size(); ++i) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    CAIRN_ASSERT_MSG(sqe != nullptr, "a read round fits the empty ring");
    const auto& file = *static_cast<const PosixFile*>(ops[i].file);
    io_uring_prep_read(sqe, file.fd(), ops[i].out.data(), static_cast<unsigned>(ops[i].out.size()),
                       ops[i].position);
    io_uring_sqe_set_data64(sqe, i);
  }
  const unsigned count = static_cast<unsigned>(ops.size());
  int ret = 0;
  do {
    ret = io_uring_submit_and_wait(&ring, count);
  } while (ret == -EINTR && io_uring_sq_ready(&ring) == count);
  return count - io_uring_sq_ready(&ring);
}

// Reaps `taken` completions. Every one is reaped even after an error:
// returning with reads in flight would let them land later in buffers the
// caller may free.
Status reap_reads(io_uring& ring, std::span<ReadOp> ops, unsigned taken) {
  Status first_error;
  for (unsigned i = 0; i < taken; ++i) {
    io_uring_cqe* cqe = nullptr;
    int ret = 0;
    do {
      ret = io_uring_wait_cqe(&ring, &cqe);
    } while (ret == -EINTR);
    CAIRN_ASSERT_MSG(ret == 0, "io_uring_wait_cqe fails only on a broken ring");
    ReadOp& op = ops[io_uring_cqe_get_data64(cqe)];
    const int res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    Status status = finish_read(op, res);
    if (first_error.ok() && !status.ok()) {
      first_error = std::move(status);
    }
  }
  return first_error;
}

bool all_posix(std::span<const ReadOp> ops) {
  return std::all_of(ops.begin(), ops.end(), [](const ReadOp& op) {
    return dynamic_cast<const PosixFile*>(op.file) != nullptr &&
           op.out.size() <= std::numeric_limits<unsigned>::max();
  });
}

}  // namespace

Status UringFileSystem::read_many(std::span<ReadOp> ops) {
  ReadRing* ring = ops.size() > 1 && all_posix(ops) ? thread_read_ring() : nullptr;
  if (ring == nullptr) {
    return FileSystem::read_many(ops);
  }
  for (std::size_t first = 0; first < ops.size(); first += kReadRingEntries) {
    const auto round =
        ops.subspan(first, std::min<std::size_t>(kReadRingEntries, ops.size() - first));
    const unsigned taken = submit_reads(ring->ring, round);
    Status status = reap_reads(ring->ring, round, taken);
    if (taken < round.size()) {
      // The rest stay queued in the ring: drop it so they never run, and
      // read them (and everything after, on this thread) with the loop.
      ring->drop();
      ring->broken = true;
      CAIRN_TRY(status);
      return FileSystem::read_many(ops.subspan(first + taken));
    }
    CAIRN_TRY(status);
  }
  return Status();
}

}  // namespace cairn::io
