#include "common.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace cairn::tool {

const char* const kExitCodesHelp =
    "Exit codes (the same for every subcommand):\n"
    "  0  ok\n"
    "  1  verify/dump found only a torn tail (recoverable, nothing acknowledged lost)\n"
    "  2  usage error (bad option, not a Cairn log or not a directory, other format\n"
    "     version, no such log)\n"
    "  3  corruption of acknowledged data (file and position on stderr)\n"
    "  4  I/O error\n"
    "  5  no space (also when a full disk made a write fail and poisoned the log)\n"
    "  6  log is locked by another process\n"
    "  7  wrong expected version (nothing written)\n"
    "  8  poisoned after a failed write or fsync (reopen to recover)";

int exit_code_for(Errc code) {
  switch (code) {
    case Errc::ok:
      return kExitOk;
    case Errc::corruption:
      return kExitCorruption;
    case Errc::io_error:
      return kExitIo;
    case Errc::no_space:
      return kExitNoSpace;
    case Errc::busy:
      return kExitBusy;
    case Errc::wrong_expected_version:
      return kExitWrongExpectedVersion;
    case Errc::poisoned:
      return kExitPoisoned;
    // SPEC.md 9.6: bad arguments, not a log, another format version and a
    // missing log are all things the caller must change on the command line.
    case Errc::invalid_argument:
      return kExitUsage;
    case Errc::not_found:
      return kExitUsage;
    // Not expected from the tool; an I/O-level failure if it happens.
    case Errc::closed:
      return kExitIo;
  }
  return kExitIo;
}

int report_error(const Status& status) {
  fmt::print(stderr, "cairn: {}\n", status.to_string());
  return exit_code_for(status.code());
}

int usage_error(const std::string& message) {
  fmt::print(stderr, "cairn: {}\n", message);
  return kExitUsage;
}

Status write_stdout(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    return Status::in_file(Errc::io_error, "stdout", "write failed", errno);
  }
  return Status();
}

int check_stdout(int code) {
  // A command that failed already said why (an append whose LSNs could not
  // be printed among them).
  if (code != kExitOk && code != kExitTornTail) {
    return code;
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    const int failed =
        report_error(Status::in_file(Errc::io_error, "stdout", "write failed", errno));
    return failed;
  }
  return code;
}

namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;

// Floor division, so times before the epoch format correctly.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

bool read_digits(std::string_view& s, std::size_t n, int& out) {
  if (s.size() < n) {
    return false;
  }
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
    out = out * 10 + (s[i] - '0');
  }
  s.remove_prefix(n);
  return true;
}

bool expect(std::string_view& s, std::string_view chars) {
  if (s.empty() || chars.find(s.front()) == std::string_view::npos) {
    return false;
  }
  s.remove_prefix(1);
  return true;
}

// ".123" -> 123000000 ns; no fraction -> 0.
bool read_fraction(std::string_view& s, std::int64_t& ns) {
  ns = 0;
  if (s.empty() || s.front() != '.') {
    return true;
  }
  s.remove_prefix(1);
  std::int64_t scale = kNsPerSecond / 10;
  std::size_t digits = 0;
  while (!s.empty() && std::isdigit(static_cast<unsigned char>(s.front()))) {
    ns += scale * (s.front() - '0');
    scale /= 10;
    s.remove_prefix(1);
    ++digits;
  }
  return digits > 0 && digits <= 9;
}

// "Z" -> 0; "+01:30" -> 5400 seconds east of UTC.
bool read_offset(std::string_view& s, std::int64_t& seconds) {
  if (expect(s, "Zz")) {
    seconds = 0;
    return s.empty();
  }
  const bool negative = !s.empty() && s.front() == '-';
  int hours = 0;
  int minutes = 0;
  if (!expect(s, "+-") || !read_digits(s, 2, hours) || !expect(s, ":") ||
      !read_digits(s, 2, minutes) || !s.empty()) {
    return false;
  }
  seconds = (hours * 3600 + minutes * 60) * (negative ? -1 : 1);
  return true;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  std::tm tm{};
  int year = 0;
  if (!read_digits(s, 4, year) || !expect(s, "-") || !read_digits(s, 2, tm.tm_mon) ||
      !expect(s, "-") || !read_digits(s, 2, tm.tm_mday) || !expect(s, "Tt ") ||
      !read_digits(s, 2, tm.tm_hour) || !expect(s, ":") || !read_digits(s, 2, tm.tm_min) ||
      !expect(s, ":") || !read_digits(s, 2, tm.tm_sec)) {
    return std::nullopt;
  }
  std::int64_t fraction = 0;
  std::int64_t offset = 0;
  if (!read_fraction(s, fraction) || !read_offset(s, offset)) {
    return std::nullopt;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  // Years outside what int64 nanoseconds can hold (1678..2261) overflow.
  if (year < 1678 || year > 2261) {
    return std::nullopt;
  }
  // timegm() would carry 2025-02-31 into March: a date that does not exist
  // is refused, not moved.
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (tm.tm_mday > kDays[tm.tm_mon - 1] + (tm.tm_mon == 2 && leap ? 1 : 0)) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon -= 1;
  const std::int64_t seconds = static_cast<std::int64_t>(::timegm(&tm)) - offset;
  return seconds * kNsPerSecond + fraction;
}

}  // namespace

std::string format_time(std::int64_t time_ns) {
  const std::int64_t seconds = floor_div(time_ns, kNsPerSecond);
  const std::int64_t ns = time_ns - seconds * kNsPerSecond;
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ns);
}

std::optional<std::int64_t> parse_time(std::string_view text) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc() && ptr == end && !text.empty()) {
    return value;
  }
  return parse_rfc3339(text);
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if there is none.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else
    return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  // Reject overlong forms, surrogates and code points past U+10FFFF.
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  if (std::all_of(bytes.begin(), bytes.end(), [](char c) { return (c & 0x80) == 0; })) {
    return true;  // ASCII, the common case
  }
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t n = utf8_sequence(bytes, i);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

std::optional<std::string> from_base64(std::string_view text) {
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    // Padding only at the very end: "xx==" or "xxx=".
    const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=') : 0;
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const int d = k >= 4 - pad ? 0 : value(text[i + k]);
      if (d < 0) {
        return std::nullopt;
      }
      v = (v << 6) | static_cast<std::uint32_t>(d);
    }
    out += static_cast<char>(v >> 16);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xFF);
    if (pad < 1) out += static_cast<char>(v & 0xFF);
  }
  return out;
}

std::string escape_text(std::string_view bytes) {
  // Fast path: plain printable ASCII (the common case) needs no escaping.
  const bool plain = std::all_of(bytes.begin(), bytes.end(),
                                 [](char c) { return c >= 0x20 && c < 0x7F && c != '\\'; });
  if (plain) {
    return std::string(bytes);
  }
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    const std::size_t n = utf8_sequence(bytes, i);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (n == 0 || c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.append(bytes.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
  return out;
}

std::string to_hex(std::span<const std::byte> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::byte b : bytes) {
    out += fmt::format("{:02x}", static_cast<unsigned>(b));
  }
  return out;
}

std::string hex_u64(std::uint64_t value) { return fmt::format("0x{:016x}", value); }

}  // namespace cairn::tool
