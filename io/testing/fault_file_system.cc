// The fault injector (see cairn/testing/fault_file_system.h for the
// semantics). Decisions are made under FaultState::mu; the base is always
// called with the mutex released, so a slow or blocking base never serialises
// unrelated threads through the wrapper.
#include <cairn/assert.h>
#include <cairn/testing/fault_file_system.h>

#include <array>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "io/testing/prng.h"

namespace cairn::testing {
namespace {

using Op = FaultFileSystem::Op;

using detail::Prng;

std::size_t index_of(Op op) {
  const auto i = static_cast<std::size_t>(op);
  CAIRN_ASSERT(i < FaultFileSystem::kOpKinds);
  return i;
}

}  // namespace

namespace detail {

struct FaultState {
  struct Nth {
    std::uint64_t target;  // fires when the kind's count reaches this
    Errc code;
    int sys_errno;
  };
  struct Random {
    double probability = 0;
    Errc code = Errc::io_error;
    int sys_errno = 0;
  };
  // What a write does: pass `bytes` of it to the base, then return `failure`
  // (OK when the whole write goes through).
  struct WritePlan {
    std::uint64_t bytes;
    Status failure;
  };

  FaultState(std::shared_ptr<io::FileSystem> b, std::uint64_t seed)
      : base(std::move(b)), prng(seed) {}

  const std::shared_ptr<io::FileSystem> base;  // set once; used without the mutex
  mutable std::mutex mu;
  Prng prng;
  std::array<std::uint64_t, FaultFileSystem::kOpKinds> counts{};
  std::array<std::vector<Nth>, FaultFileSystem::kOpKinds> nth;
  std::array<Random, FaultFileSystem::kOpKinds> random;
  struct ByteLimit {
    std::uint64_t total_bytes;
    Errc code;
    int sys_errno;
  };
  std::optional<ByteLimit> write_limit;     // fail_writes_after_bytes()
  std::optional<std::uint64_t> sync_limit;  // fail_syncs_after_bytes()
  double short_write_probability = 0;
  bool active = true;
  std::uint64_t injected = 0;
  std::uint64_t written = 0;

  Status inject(const std::string& path, Errc code, int sys_errno, std::string message) {
    ++injected;
    return Status::in_file(code, path, std::move(message), sys_errno);
  }

  // Counts the op and applies faults 1-4 of the header. REQUIRES: mu held.
  Status check(Op op, const std::string& path) {
    const std::size_t k = index_of(op);
    const std::uint64_t seen = ++counts[k];
    if (!active) {
      return inject(path, Errc::io_error, EIO, "injected: file system deactivated");
    }
    std::optional<Nth> hit;
    std::erase_if(nth[k], [&](const Nth& armed) {
      if (armed.target != seen) {
        return false;
      }
      hit = armed;
      return true;
    });
    if (hit) {
      return inject(
          path, hit->code, hit->sys_errno,
          std::string("injected ") + FaultFileSystem::op_name(op) + " failure (fail_nth)");
    }
    const Random& r = random[k];
    if (r.probability > 0 && prng.chance(r.probability)) {
      return inject(
          path, r.code, r.sys_errno,
          std::string("injected ") + FaultFileSystem::op_name(op) + " failure (fail_randomly)");
    }
    if (op == Op::sync && sync_limit && written > *sync_limit) {
      return inject(path, Errc::io_error, EIO, "injected sync failure (fail_syncs_after_bytes)");
    }
    return Status();
  }

  Status check_locked(Op op, const std::string& path) {
    std::lock_guard lock(mu);
    return check(op, path);
  }

  // Faults 1-4 for a write of `bytes` bytes. REQUIRES: mu held.
  WritePlan plan_write(const std::string& path, std::uint64_t bytes) {
    if (Status s = check(Op::write, path); !s.ok()) {
      return {0, std::move(s)};
    }
    if (write_limit) {
      const std::uint64_t room =
          write_limit->total_bytes > written ? write_limit->total_bytes - written : 0;
      if (bytes > room) {
        written += room;
        return {room, inject(path, write_limit->code, write_limit->sys_errno,
                             write_limit->code == Errc::no_space
                                 ? "injected: no space left on device (enospc_after_bytes)"
                                 : "injected write failure (fail_writes_after_bytes)")};
      }
    }
    if (bytes > 0 && short_write_probability > 0 && prng.chance(short_write_probability)) {
      const std::uint64_t prefix = prng.below(bytes);
      written += prefix;
      return {prefix, inject(path, Errc::io_error, EIO, "injected short write")};
    }
    written += bytes;
    return {bytes, Status()};
  }
};

}  // namespace detail

namespace {

using detail::FaultState;

class FaultFile final : public io::File {
 public:
  FaultFile(std::shared_ptr<FaultState> state, std::unique_ptr<io::File> base)
      : state_(std::move(state)), base_(std::move(base)) {}

  Status write_at(std::uint64_t position, std::span<const std::byte> bytes) override {
    const FaultState::WritePlan plan = [&] {
      std::lock_guard lock(state_->mu);
      return state_->plan_write(path(), bytes.size());
    }();
    return execute(position, bytes, plan);
  }

  Result<std::size_t> read_at(std::uint64_t position, std::span<std::byte> out) const override {
    CAIRN_TRY(state_->check_locked(Op::read, path()));
    return base_->read_at(position, out);
  }

  Status sync_data() override {
    CAIRN_TRY(state_->check_locked(Op::sync, path()));
    return base_->sync_data();
  }

  // Decides every fault up front so that, when none fires, the whole call
  // reaches the base as one (linked writes + fdatasync on io_uring).
  Status write_and_sync(std::span<const io::WriteOp> ops) override {
    std::vector<FaultState::WritePlan> plans;
    Status sync_failure;
    {
      std::lock_guard lock(state_->mu);
      for (const io::WriteOp& op : ops) {
        plans.push_back(state_->plan_write(path(), op.bytes.size()));
        if (!plans.back().failure.ok()) {
          break;
        }
      }
      if (plans.empty() || plans.back().failure.ok()) {
        sync_failure = state_->check(Op::sync, path());
      }
    }
    const bool write_failed = !plans.empty() && !plans.back().failure.ok();
    if (!write_failed && sync_failure.ok()) {
      return base_->write_and_sync(ops);
    }
    for (std::size_t i = 0; i < plans.size(); ++i) {
      CAIRN_TRY(execute(ops[i].position, ops[i].bytes, plans[i]));
    }
    return sync_failure;  // reached only when every write went through
  }

  Status allocate(std::uint64_t position, std::uint64_t bytes) override {
    CAIRN_TRY(state_->check_locked(Op::allocate, path()));
    return base_->allocate(position, bytes);
  }

  Result<std::uint64_t> size() const override {
    CAIRN_TRY(state_->check_locked(Op::size, path()));
    return base_->size();
  }

  Status truncate(std::uint64_t bytes) override {
    CAIRN_TRY(state_->check_locked(Op::truncate, path()));
    return base_->truncate(bytes);
  }

  const std::string& path() const override { return base_->path(); }

 private:
  // Carries out a write as planned: its allowed prefix, then its failure.
  Status execute(std::uint64_t position, std::span<const std::byte> bytes,
                 const FaultState::WritePlan& plan) {
    if (plan.bytes > 0) {
      CAIRN_TRY(base_->write_at(position, bytes.first(plan.bytes)));
    }
    return plan.failure;
  }

  std::shared_ptr<FaultState> state_;
  std::unique_ptr<io::File> base_;
};

}  // namespace

const char* FaultFileSystem::op_name(Op op) {
  switch (op) {
    case Op::open:
      return "open";
    case Op::read:
      return "read";
    case Op::write:
      return "write";
    case Op::sync:
      return "sync";
    case Op::allocate:
      return "allocate";
    case Op::truncate:
      return "truncate";
    case Op::rename:
      return "rename";
    case Op::remove:
      return "remove";
    case Op::sync_dir:
      return "sync_dir";
    case Op::list:
      return "list";
    case Op::lock:
      return "lock";
    case Op::create_dir:
      return "create_dir";
    case Op::exists:
      return "exists";
    case Op::size:
      return "size";
  }
  return "unknown";
}

FaultFileSystem::FaultFileSystem(std::shared_ptr<io::FileSystem> base, std::uint64_t seed)
    : state_(std::make_shared<FaultState>(std::move(base), seed)) {
  CAIRN_ASSERT_MSG(state_->base != nullptr, "a FaultFileSystem wraps a file system");
}

FaultFileSystem::~FaultFileSystem() = default;

void FaultFileSystem::fail_nth(Op op, std::uint64_t n, Errc code, int sys_errno) {
  CAIRN_ASSERT_MSG(n >= 1, "n counts from 1");
  CAIRN_ASSERT_MSG(code != Errc::ok, "an injected failure needs an error code");
  std::lock_guard lock(state_->mu);
  const std::size_t k = index_of(op);
  state_->nth[k].push_back({state_->counts[k] + n, code, sys_errno});
}

void FaultFileSystem::fail_randomly(Op op, double probability, Errc code, int sys_errno) {
  CAIRN_ASSERT_MSG(code != Errc::ok, "an injected failure needs an error code");
  std::lock_guard lock(state_->mu);
  state_->random[index_of(op)] = {probability, code, sys_errno};
}

void FaultFileSystem::enospc_after_bytes(std::uint64_t total_bytes) {
  fail_writes_after_bytes(total_bytes, Errc::no_space, ENOSPC);
}

void FaultFileSystem::fail_writes_after_bytes(std::uint64_t total_bytes, Errc code, int sys_errno) {
  CAIRN_ASSERT_MSG(code != Errc::ok, "an injected failure needs an error code");
  std::lock_guard lock(state_->mu);
  state_->write_limit = detail::FaultState::ByteLimit{total_bytes, code, sys_errno};
}

void FaultFileSystem::fail_syncs_after_bytes(std::uint64_t total_bytes) {
  std::lock_guard lock(state_->mu);
  state_->sync_limit = total_bytes;
}

void FaultFileSystem::short_writes(double probability) {
  std::lock_guard lock(state_->mu);
  state_->short_write_probability = probability;
}

void FaultFileSystem::set_active(bool active) {
  std::lock_guard lock(state_->mu);
  state_->active = active;
}

void FaultFileSystem::clear_faults() {
  std::lock_guard lock(state_->mu);
  for (auto& armed : state_->nth) {
    armed.clear();
  }
  state_->random = {};
  state_->write_limit.reset();
  state_->sync_limit.reset();
  state_->short_write_probability = 0;
}

std::uint64_t FaultFileSystem::count(Op op) const {
  std::lock_guard lock(state_->mu);
  return state_->counts[index_of(op)];
}

std::uint64_t FaultFileSystem::injected_count() const {
  std::lock_guard lock(state_->mu);
  return state_->injected;
}

std::uint64_t FaultFileSystem::bytes_written() const {
  std::lock_guard lock(state_->mu);
  return state_->written;
}

Result<std::unique_ptr<io::File>> FaultFileSystem::open(const std::string& path,
                                                        io::OpenMode mode) {
  CAIRN_TRY(state_->check_locked(Op::open, path));
  CAIRN_ASSIGN_OR_RETURN(auto file, state_->base->open(path, mode));
  return std::unique_ptr<io::File>(std::make_unique<FaultFile>(state_, std::move(file)));
}

Status FaultFileSystem::rename(const std::string& from, const std::string& to) {
  CAIRN_TRY(state_->check_locked(Op::rename, from));
  return state_->base->rename(from, to);
}

Status FaultFileSystem::remove(const std::string& path) {
  CAIRN_TRY(state_->check_locked(Op::remove, path));
  return state_->base->remove(path);
}

Status FaultFileSystem::sync_dir(const std::string& dir) {
  CAIRN_TRY(state_->check_locked(Op::sync_dir, dir));
  return state_->base->sync_dir(dir);
}

Result<std::vector<std::string>> FaultFileSystem::list(const std::string& dir) {
  CAIRN_TRY(state_->check_locked(Op::list, dir));
  return state_->base->list(dir);
}

Status FaultFileSystem::create_dir(const std::string& dir) {
  CAIRN_TRY(state_->check_locked(Op::create_dir, dir));
  return state_->base->create_dir(dir);
}

Result<bool> FaultFileSystem::exists(const std::string& path) {
  CAIRN_TRY(state_->check_locked(Op::exists, path));
  return state_->base->exists(path);
}

Result<std::unique_ptr<io::FileLock>> FaultFileSystem::lock(const std::string& path) {
  CAIRN_TRY(state_->check_locked(Op::lock, path));
  return state_->base->lock(path);
}

std::string FaultFileSystem::name() const { return "fault(" + state_->base->name() + ")"; }

}  // namespace cairn::testing
