#include "format/names.h"

#include <cstdio>

#include "format/layout.h"

namespace cairn::format {

std::string segment_file_name(std::uint64_t base_lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(base_lsn));
  return std::string(buf) + kSegmentSuffix;
}

std::optional<std::uint64_t> parse_segment_file_name(std::string_view name) {
  const std::string_view suffix = kSegmentSuffix;
  if (name.size() != kSegmentNameDigits + suffix.size() ||
      name.substr(kSegmentNameDigits) != suffix) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < kSegmentNameDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (~0ull - digit) / 10) {
      return std::nullopt;  // more than 2^64 - 1
    }
    value = value * 10 + digit;
  }
  return value;
}

std::string join_path(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') {
    out += '/';
  }
  out += name;
  return out;
}

std::string parent_path(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') {
    path.remove_suffix(1);
  }
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    return ".";
  }
  return slash == 0 ? "/" : std::string(path.substr(0, slash));
}

}  // namespace cairn::format
