// The shipped tool injects nothing: the log chooses its own backend.
#include "file_system_hook.h"

namespace cairn::tool {

std::shared_ptr<io::FileSystem> tool_file_system() { return nullptr; }

}  // namespace cairn::tool
