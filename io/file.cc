// The defaults of the seam's batched calls. File::write_and_sync: the
// portable meaning of "write these, then make them durable". Backends with a better primitive
// (posix pwritev, io_uring linked writes + fdatasync) override it; wrappers such as the crash model
// and the fault injector keep this one, so each write_at and the sync are separate operations they
// can fail or drop one by one. FileSystem::read_many: one read_at per op. File::map: no mapping.
#include <cairn/file_system.h>

namespace cairn::io {

Status File::write_and_sync(std::span<const WriteOp> ops) {
  for (const WriteOp& op : ops) {
    CAIRN_TRY(write_at(op.position, op.bytes));
  }
  return sync_data();
}

Result<std::shared_ptr<const MappedBytes>> File::map(std::uint64_t) const {
  return std::shared_ptr<const MappedBytes>();
}

Status FileSystem::read_many(std::span<ReadOp> ops) {
  for (ReadOp& op : ops) {
    CAIRN_ASSIGN_OR_RETURN(op.got, op.file->read_at(op.position, op.out));
  }
  return Status();
}

}  // namespace cairn::io
