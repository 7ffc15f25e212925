// Which file system the tool opens a log with (LogOptions::file_system).
// The `cairn` binary links default_file_system.cc: nullptr, so the log picks
// its backend (io_uring, else posix). The test-only `cairn-faulty` binary
// (tests/tool/) links a definition that wraps the backend in the public
// FaultFileSystem, so the tests can run the tool's real code against a disk
// that fills up or an fdatasync that fails, and check exit codes 5 and 8.
#pragma once

#include <cairn/file_system.h>

#include <memory>

namespace cairn::tool {

std::shared_ptr<io::FileSystem> tool_file_system();

}  // namespace cairn::tool
