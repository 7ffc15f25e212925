// Backend choice. io_uring is the default; the posix backend is always built
// and takes over, with the reason kept and logged once, when io_uring cannot
// be used here (seccomp filters, kernel.io_uring_disabled, old kernels).
#include <cairn/file_system.h>

#include <cstdio>
#include <mutex>
#include <string>

#include "io/posix_file_system.h"
#include "io/uring_file_system.h"

namespace cairn::io {

namespace {

std::mutex& reason_mutex() {
  static std::mutex mu;
  return mu;
}

std::string& reason() {
  static std::string text = "make_file_system has not been called";
  return text;
}

void set_reason(std::string text) {
  std::lock_guard<std::mutex> guard(reason_mutex());
  reason() = std::move(text);
}

Result<std::shared_ptr<FileSystem>> choose_automatically() {
  // Probed on every call, not cached: a log is opened rarely, a probe costs
  // one ring set-up, and a sandbox or sysctl may change between calls.
  const Status probe = probe_io_uring();
  if (probe.ok()) {
    set_reason("io_uring_queue_init works; using io_uring");
    return std::shared_ptr<FileSystem>(std::make_shared<UringFileSystem>());
  }
  const std::string why = probe.message() + "; using posix";
  set_reason(why);
  // Logged once per process: a fallback is slower, and an operator who
  // expected io_uring should be able to find out why without a debugger.
  static std::once_flag logged;
  std::call_once(logged, [&why] { std::fprintf(stderr, "cairn: %s\n", why.c_str()); });
  return std::shared_ptr<FileSystem>(std::make_shared<PosixFileSystem>());
}

}  // namespace

Result<std::shared_ptr<FileSystem>> make_file_system(Backend backend) {
  switch (backend) {
    case Backend::automatic:
      return choose_automatically();
    case Backend::io_uring: {
      const Status probe = probe_io_uring();
      if (!probe.ok()) {
        // Asked for explicitly, so no silent fallback.
        return probe;
      }
      set_reason("io_uring requested");
      return std::shared_ptr<FileSystem>(std::make_shared<UringFileSystem>());
    }
    case Backend::posix:
      set_reason("posix requested");
      return std::shared_ptr<FileSystem>(std::make_shared<PosixFileSystem>());
  }
  return Status::error(Errc::invalid_argument, "unknown backend");
}

std::string backend_choice_reason() {
  std::lock_guard<std::mutex> guard(reason_mutex());
  return reason();
}

}  // namespace cairn::io
