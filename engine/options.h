// Checks LogOptions against the limits of SPEC.md section 7 before anything
// touches the disk.
#pragma once

#include <cairn/log.h>

namespace cairn::engine {

Status validate_options(const LogOptions& options);

// The smallest batch_bytes_max that holds one event of event_bytes_max with
// the longest stream name.
std::size_t batch_bytes_needed(std::size_t event_bytes_max);

}  // namespace cairn::engine
