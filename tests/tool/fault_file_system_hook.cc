// tool_file_system() for `cairn-faulty`, the tool built with fault injection
// for tool_test.cc. CAIRN_TOOL_FAULT names one fault of the public
// FaultFileSystem (docs/testing-api.md), armed on Backend::automatic (io_uring here):
//   enospc:N        writes fail with ENOSPC once N bytes in total are written
//   write-eio:N     writes fail with EIO once N bytes are written
//   sync-eio:N      every fdatasync fails with EIO once N bytes are written
// Unset or empty: no fault. Anything else stops the tool (a broken test).
#include <cairn/assert.h>
#include <cairn/testing/fault_file_system.h>

#include <cstdlib>
#include <string>

#include "file_system_hook.h"

namespace cairn::tool {

std::shared_ptr<io::FileSystem> tool_file_system() {
  const char* spec = std::getenv("CAIRN_TOOL_FAULT");
  if (spec == nullptr || *spec == '\0') {
    return nullptr;
  }
  auto base = io::make_file_system(io::Backend::automatic);
  CAIRN_ASSERT_MSG(base.has_value(), "no file system backend");
  auto fs = std::make_shared<testing::FaultFileSystem>(*base, 1);
  const std::string s = spec;
  const auto colon = s.find(':');
  CAIRN_ASSERT_MSG(colon != std::string::npos, "CAIRN_TOOL_FAULT: expected KIND:BYTES");
  const std::string kind = s.substr(0, colon);
  const std::uint64_t bytes = std::stoull(s.substr(colon + 1));
  if (kind == "enospc") {
    fs->enospc_after_bytes(bytes);
  } else if (kind == "write-eio") {
    fs->fail_writes_after_bytes(bytes);
  } else if (kind == "sync-eio") {
    fs->fail_syncs_after_bytes(bytes);
  } else {
    CAIRN_ASSERT_MSG(false, "CAIRN_TOOL_FAULT: unknown fault kind");
  }
  return fs;
}

}  // namespace cairn::tool
