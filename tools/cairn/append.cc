// `cairn append`: events from stdin into the log, pipelined. The contract a
// script (or a crash test that kills us at any moment) relies on: an LSN is
// printed only after the log has reported it durable, in LSN order, and
// stdout is flushed right after, so every LSN that reached the reader of our
// stdout is durable.
#include <cairn/log.h>
#include <fmt/core.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <deque>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "commands.h"
#include "common.h"
#include "file_system_hook.h"

namespace cairn::tool {
namespace {

// Unprinted LSNs we let build up before waiting for the oldest of them, so
// that a fast producer still sees its LSNs (and memory stays bounded).
constexpr std::uint64_t kMaxUnprinted = 4096;

// Lines from a file descriptor, with a way to ask whether more input is
// ready without blocking (std::getline cannot tell).
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}

  // False at the end of input; a last line without a newline still counts.
  Result<bool> next(std::string& line);
  // True when next() would not block.
  bool ready() const;
  std::uint64_t line_number() const { return line_number_; }

 private:
  bool has_line() const { return buffer_.find('\n', start_) != std::string::npos; }
  Status fill();

  int fd_;
  std::string buffer_;
  std::size_t start_ = 0;
  bool eof_ = false;
  std::uint64_t line_number_ = 0;
};

bool LineReader::ready() const {
  if (eof_ || has_line()) {
    return true;
  }
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

Status LineReader::fill() {
  buffer_.erase(0, start_);
  start_ = 0;
  char chunk[1 << 16];
  ssize_t n;
  do {
    n = ::read(fd_, chunk, sizeof chunk);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return Status::in_file(Errc::io_error, "stdin", "read failed", errno);
  }
  eof_ = n == 0;
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return Status();
}

Result<bool> LineReader::next(std::string& line) {
  while (!has_line() && !eof_) {
    CAIRN_TRY(fill());
  }
  const std::size_t nl = buffer_.find('\n', start_);
  if (nl == std::string::npos && start_ == buffer_.size()) {
    return false;
  }
  const std::size_t end = nl == std::string::npos ? buffer_.size() : nl;
  line.assign(buffer_, start_, end - start_);
  start_ = nl == std::string::npos ? buffer_.size() : nl + 1;
  ++line_number_;
  return true;
}

std::optional<ExpectedVersion> parse_expected(const std::string& text) {
  if (text == "any") return ExpectedVersion::any();
  if (text == "no-stream") return ExpectedVersion::no_stream();
  if (text == "exists") return ExpectedVersion::stream_exists();
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return ExpectedVersion::exact(v);
}

Durability parse_durability(const std::string& text) {
  if (text == "sync") return Durability::sync;
  if (text == "none") return Durability::none;
  return Durability::async;
}

// One input line as an event. Owns the bytes the NewEvent views point to.
struct InputEvent {
  std::string stream;
  std::string type;
  EventId id;
  std::string metadata;
  std::string data;
  std::int64_t time_ns = 0;
  NewEvent view() const { return NewEvent{type, id, metadata, data, time_ns}; }
};

// A JSON value as event bytes: a string as itself, anything else as JSON text.
std::string json_bytes(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// The bytes of `key` (a JSON value as json_bytes gives them) or of
// `key`_base64 (a base64 string, as `cairn read` writes bytes that are not
// UTF-8); empty if neither. Returns why not, or "".
std::string bytes_field(const nlohmann::json& j, const std::string& key, std::string& out) {
  const std::string encoded = key + "_base64";
  if (j.contains(key) && j.contains(encoded)) {
    return "both \"" + key + "\" and \"" + encoded + "\"";
  }
  out = j.contains(key) ? json_bytes(j[key]) : std::string();
  if (j.contains(encoded)) {
    std::optional<std::string> bytes;
    if (j[encoded].is_string()) bytes = from_base64(j[encoded].get<std::string>());
    if (!bytes) return "\"" + encoded + "\" must be a base64 string";
    out = std::move(*bytes);
  }
  return "";
}

// Why a JSON input line cannot be an event, or "".
std::string from_json(const std::string& line, const AppendOptions& o, InputEvent& out) {
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return "not a JSON object";
  }
  const auto text = [&](const char* key, const std::string& fallback, std::string& field) {
    if (!j.contains(key)) {
      field = fallback;
      return true;
    }
    if (!j[key].is_string()) {
      return false;
    }
    field = j[key].get<std::string>();
    return true;
  };
  // The keys `cairn read --format jsonl` writes are accepted, so that its
  // output can be appended to another log: lsn and version are the log's
  // to assign and are ignored. Any other key is a mistake (a misspelt
  // "data" would append an empty event), refused with its name.
  for (const auto& [key, value] : j.items()) {
    static const std::set<std::string> kKeys{"stream",      "type",           "id",   "data",
                                             "data_base64", "metadata",       "time", "lsn",
                                             "version",     "metadata_base64"};
    if (!kKeys.contains(key)) {
      return "unknown key \"" + key + "\"";
    }
  }
  if (!text("stream", o.stream, out.stream)) return "\"stream\" must be a string";
  if (!text("type", o.type, out.type)) return "\"type\" must be a string";
  if (j.contains("id") &&
      (!j["id"].is_string() || !EventId::from_hex(j["id"].get<std::string>(), out.id))) {
    return "\"id\" must be 32 hex digits (dashes allowed)";
  }
  if (std::string why = bytes_field(j, "data", out.data); !why.empty()) return why;
  if (std::string why = bytes_field(j, "metadata", out.metadata); !why.empty()) return why;
  if (j.contains("time")) {
    const auto& t = j["time"];
    std::optional<std::int64_t> ns;
    if (t.is_number_integer()) ns = t.get<std::int64_t>();
    if (t.is_string()) ns = parse_time(t.get<std::string>());
    if (!ns) return "\"time\" must be RFC 3339 or an integer of ns";
    out.time_ns = *ns;
  }
  return "";
}

class Appender {
 public:
  Appender(Log& log, const AppendOptions& o, ExpectedVersion expected)
      : log_(log),
        o_(o),
        expected_(expected),
        durability_(parse_durability(o.sync)),
        appended_end_(log.next_lsn()) {}

  int run();

 private:
  int append_line(const std::string& line, std::uint64_t line_number);
  Status print_durable(bool wait_for_all);
  Status print_ready(std::uint64_t durable_end);
  int finish(int code);
  int report_failure(const Status& status);

  Log& log_;
  const AppendOptions& o_;
  ExpectedVersion expected_;
  Durability durability_;
  std::set<std::string> streams_seen_;
  // The LSN of each input event not yet printed, in input order. Not a
  // range: a retried event id is answered with the LSN it was first
  // written at, which may be older than the events around it.
  std::deque<std::uint64_t> unprinted_;
  std::uint64_t appended_end_;  // every unprinted LSN is below this
};

int Appender::run() {
  LineReader input(STDIN_FILENO);
  std::string line;
  while (true) {
    if (!input.ready()) {
      // Input is idle: make what we have durable and print it before we
      // block, so a slow producer sees each LSN promptly.
      if (Status s = print_durable(true); !s.ok()) {
        return finish(report_failure(s));
      }
    }
    auto more = input.next(line);
    if (!more) {
      return finish(report_error(more.error()));
    }
    if (!*more) {
      break;
    }
    if (int code = append_line(line, input.line_number()); code != kExitOk) {
      return code;
    }
  }
  return finish(kExitOk);
}

int Appender::append_line(const std::string& line, std::uint64_t line_number) {
  InputEvent event{o_.stream, o_.type, {}, {}, line, 0};
  if (o_.jsonl) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      return kExitOk;
    }
    if (std::string why = from_json(line, o_, event); !why.empty()) {
      return finish(usage_error(fmt::format("stdin line {}: {}", line_number, why)));
    }
  }
  // The expected version guards the first event of each stream; later ones
  // follow it (we hold the log's lock, so nobody else appends in between).
  const bool first = streams_seen_.insert(event.stream).second;
  const NewEvent e = event.view();
  auto r =
      log_.append(event.stream, first ? expected_ : ExpectedVersion::any(), {&e, 1}, durability_);
  if (!r) {
    return finish(
        report_failure(r.error().with_context(fmt::format("stdin line {}", line_number))));
  }
  unprinted_.push_back(r->first_lsn);
  appended_end_ = std::max(appended_end_, r->end_lsn());
  Status s = print_durable(unprinted_.size() >= kMaxUnprinted);
  return s.ok() ? kExitOk : finish(report_failure(s));
}

// Prints the LSNs below `durable_end`, in input order up to the first that
// is not durable yet. A failed write is an I/O error: the LSNs are the
// acknowledgements, and a script that does not get them must not be told
// all went well.
Status Appender::print_ready(std::uint64_t durable_end) {
  std::string out;
  while (!unprinted_.empty() && unprinted_.front() < durable_end) {
    out += fmt::format("{}\n", unprinted_.front());
    unprinted_.pop_front();
  }
  if (out.empty()) {
    return Status();
  }
  return write_stdout(out);
}

// Prints every LSN the log now reports durable. With wait_for_all, first
// waits until everything appended is durable; else, when too many are
// unprinted, waits for the oldest.
Status Appender::print_durable(bool wait_for_all) {
  if (unprinted_.empty()) {
    return Status();
  }
  // On failure (poisoned) the LSNs that did become durable are still printed.
  Status waited = wait_for_all ? log_.wait_durable(appended_end_) : Status();
  Status printed = print_ready(log_.durable_lsn());
  return waited.ok() ? printed : waited;
}

// Prints a failed append, wait or close. A failed write, fdatasync or roll
// poisons the log; whichever call saw it first, the exit code is then the
// contract's 8 (poisoned), or 5 (no space) when a full disk caused it.
int Appender::report_failure(const Status& status) {
  const int code = report_error(status);
  const Status cause = log_.poison_cause();
  if (cause.ok()) {
    return code;
  }
  return cause.code() == Errc::no_space ? kExitNoSpace : kExitPoisoned;
}

// Before exiting, on success and on failure alike: print everything that is
// durable (it is acknowledged and a script must learn of it), then close.
int Appender::finish(int code) {
  Status durable = print_durable(true);
  Status closed = log_.close();
  if (code == kExitOk && !durable.ok()) {
    return report_failure(durable);
  }
  if (code == kExitOk && !closed.ok()) {
    return report_failure(closed);
  }
  return code;
}

// Small segments (tests, demos) cannot hold the default largest batch; lower
// the event and batch limits so that one largest batch still fits a segment.
void fit_limits_to_segment(LogOptions& options, std::uint64_t segment_bytes) {
  options.segment_bytes = segment_bytes;
  constexpr std::uint64_t kHeaderBlockAndSeal = 4096 + 80;
  constexpr std::uint64_t kBatchOverhead =
      48 + 16 + 1024 + 40 + 8;  // header, prefix, stream, event, pad
  if (segment_bytes < options.batch_bytes_max + kHeaderBlockAndSeal ||
      segment_bytes <= kHeaderBlockAndSeal + kBatchOverhead) {
    const std::uint64_t room = segment_bytes > kHeaderBlockAndSeal + kBatchOverhead
                                   ? (segment_bytes - kHeaderBlockAndSeal) / 8 * 8
                                   : 0;
    // With no room at all, keep the defaults: Log::open says what is wrong.
    if (room > 0) {
      options.batch_bytes_max = std::min<std::uint64_t>(options.batch_bytes_max, room);
      options.event_bytes_max = std::min<std::uint64_t>(options.event_bytes_max,
                                                        options.batch_bytes_max - kBatchOverhead);
    }
  }
}

}  // namespace

int run_append(const AppendOptions& o) {
  const auto expected = parse_expected(o.expected_version);
  if (!expected) {
    return usage_error("--expected-version: expected any, no-stream, exists or a number, got \"" +
                       o.expected_version + "\"");
  }
  LogOptions options;
  options.directory = o.directory;
  options.create_if_missing = o.create;
  options.file_system = tool_file_system();
  if (o.segment_bytes) {
    fit_limits_to_segment(options, *o.segment_bytes);
  }
  if (o.verbose) {
    options.on_notice = [](std::string_view line) { fmt::print(stderr, "cairn: {}\n", line); };
  }
  auto log = Log::open(options);
  if (!log) {
    Status s = log.error();
    if (s.code() == Errc::not_found && !o.create) {
      s = s.with_context("no log here (use --create to create one)");
    }
    return report_error(s);
  }
  Appender appender(**log, o, *expected);
  return appender.run();
}

}  // namespace cairn::tool
