// Shared pieces of the `cairn` tool: the exit-code contract (BRIEF section 6,
// SPEC.md section 9.6), error reporting, and the text forms of times and
// bytes used by every subcommand's output.
#pragma once

#include <cairn/event.h>
#include <cairn/status.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cairn::tool {

// The same outcome gives the same exit code in every subcommand.
enum Exit : int {
  kExitOk = 0,
  kExitTornTail = 1,  // verify (and dump) found only a torn tail
  kExitUsage = 2,
  kExitCorruption = 3,
  kExitIo = 4,
  kExitNoSpace = 5,
  kExitBusy = 6,
  kExitWrongExpectedVersion = 7,
  kExitPoisoned = 8,
};

// The one mapping from a library error code to an exit code.
int exit_code_for(Errc code);

// Prints `status` as one line on stderr (with file and position when it has
// them) and returns its exit code.
int report_error(const Status& status);
// Prints a usage error and returns kExitUsage.
int usage_error(const std::string& message);
// Writes and flushes `text` on stdout; io_error naming stdout if that fails
// (a full disk, a closed pipe): output a script relies on was lost.
Status write_stdout(std::string_view text);
// The exit code after a command returned `code`: if anything written to
// stdout could not be flushed, says so and returns kExitIo instead of
// success, so that lost output is never reported as done.
int check_stdout(int code);

// The exit-code table, for the footer of every --help.
extern const char* const kExitCodesHelp;

// "2025-01-02T03:04:05.123456789Z": RFC 3339, UTC, always nine digits of ns.
std::string format_time(std::int64_t time_ns);
// Accepts an integer (ns since the Unix epoch) or an RFC 3339 time
// ("2025-01-02T03:04:05Z", fraction and numeric offset optional).
std::optional<std::int64_t> parse_time(std::string_view text);

bool is_valid_utf8(std::string_view bytes);
std::string base64(std::string_view bytes);
// The bytes of standard base64 with padding (as base64() writes it), or
// nothing if `text` is not that.
std::optional<std::string> from_base64(std::string_view text);
// Printable ASCII and valid UTF-8 as they are; '\\', control bytes and
// invalid bytes escaped (\n, \t, \\, \xNN), so one event stays one line.
std::string escape_text(std::string_view bytes);
std::string to_hex(std::span<const std::byte> bytes);
std::string hex_u64(std::uint64_t value);  // "0x" + 16 lowercase digits

}  // namespace cairn::tool
