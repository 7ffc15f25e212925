// File names of a log directory (SPEC.md section 2). Pure string functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::format {

// "00000000000000001234.seg" for base LSN 1234.
std::string segment_file_name(std::uint64_t base_lsn);
// The base LSN named by a segment file name, or nullopt if `name` is not one.
std::optional<std::uint64_t> parse_segment_file_name(std::string_view name);
std::string join_path(std::string_view dir, std::string_view name);
// Everything before the last '/' ("/" for "/x", "." for a bare name).
std::string parent_path(std::string_view path);

}  // namespace cairn::format
