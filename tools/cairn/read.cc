// `cairn read`: events of a log, without opening it for writing. It reads a
// cairn::inspect::Snapshot (a recovery dry run plus the log's own reader), so
// it shows exactly the events recovery would keep and changes no byte; on
// damage it stops with exit 3 before printing a damaged event.
#include <cairn/inspect.h>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "commands.h"
#include "common.h"

namespace cairn::tool {
namespace {

constexpr auto kFollowPoll = std::chrono::milliseconds(200);

volatile std::sig_atomic_t g_interrupted = 0;

void on_interrupt(int) { g_interrupted = 1; }

// SIGINT ends --follow cleanly (exit 0, output flushed).
void catch_interrupts() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

// Sleeps up to `total`, waking early when interrupted.
void pause_for(std::chrono::milliseconds total) {
  const auto step = std::chrono::milliseconds(20);
  for (auto slept = std::chrono::milliseconds(0); slept < total && !g_interrupted; slept += step) {
    std::this_thread::sleep_for(step);
  }
}

struct Filter {
  std::optional<std::string> stream;
  std::optional<std::uint64_t> version;  // from-version: lower bound, or upper with backward
  std::optional<std::int64_t> as_of;
  bool backward = false;

  bool matches(const EventView& e) const {
    if (stream && e.stream != *stream) return false;
    if (version && (backward ? e.version > *version : e.version < *version)) return false;
    if (as_of && e.time_ns > *as_of) return false;
    return true;
  }
};

// A JSON string literal. Printable ASCII without quotes or backslashes (most
// event data) is its own escape, so it skips the library's byte-at-a-time
// escaper, which dominated `read --format jsonl`; everything else goes
// through nlohmann/json.
std::string json_string(std::string_view s) {
  const bool plain = std::all_of(
      s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; });
  if (plain) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    out.append(s);
    out += '"';
    return out;
  }
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ,"key":"..." when the bytes are UTF-8, else ,"key_base64":"...".
void put_bytes(std::string& line, const char* key, std::string_view bytes) {
  if (is_valid_utf8(bytes)) {
    line += fmt::format(",\"{}\":{}", key, json_string(bytes));
  } else {
    line += fmt::format(",\"{}_base64\":\"{}\"", key, base64(bytes));
  }
}

std::string event_line(const EventView& e, OutputFormat format) {
  if (format == OutputFormat::jsonl) {
    std::string line = fmt::format(
        "{{\"lsn\":{},\"stream\":{},\"version\":{},\"type\":{},\"id\":\"{}\",\"time\":\"{}\"",
        e.lsn, json_string(e.stream), e.version, json_string(e.type), e.id.to_hex(),
        format_time(e.time_ns));
    put_bytes(line, "data", e.data);
    put_bytes(line, "metadata", e.metadata);
    return line + "}\n";
  }
  std::string line = fmt::format("{} {}@{} {} {}", e.lsn, escape_text(e.stream), e.version,
                                 escape_text(e.type), format_time(e.time_ns));
  if (!e.id.is_zero()) {
    line += " id=" + e.id.to_hex();
  }
  if (!e.metadata.empty()) {
    line += " metadata=" + escape_text(e.metadata);
  }
  return line + " " + escape_text(e.data) + "\n";
}

void print_event(const EventView& e, OutputFormat format) {
  const std::string line = event_line(e, format);
  std::fwrite(line.data(), 1, line.size(), stdout);
}

class ForwardRead {
 public:
  ForwardRead(inspect::Snapshot& snapshot, const ReadOptions& o, const Filter& filter)
      : snapshot_(snapshot), o_(o), filter_(filter) {}
  int run();

 private:
  // Prints what the reader has now. Returns true when the read is complete.
  Result<bool> drain(LogReader& reader);

  inspect::Snapshot& snapshot_;
  const ReadOptions& o_;
  const Filter& filter_;
  std::uint64_t printed_ = 0;
};

Result<bool> ForwardRead::drain(LogReader& reader) {
  EventView e;
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool more, reader.next(e));
    if (!more) {
      return false;
    }
    if (o_.until_lsn && e.lsn >= *o_.until_lsn) {
      return true;
    }
    if (!filter_.matches(e)) {
      continue;
    }
    print_event(e, o_.format);
    if (o_.limit && ++printed_ >= *o_.limit) {
      return true;
    }
  }
}

int ForwardRead::run() {
  if (o_.limit && *o_.limit == 0) {
    return kExitOk;
  }
  auto reader = snapshot_.read_from(o_.from.value_or(0));
  while (true) {
    auto done = drain(*reader);
    std::fflush(stdout);
    if (!done) {
      return report_error(done.error());
    }
    if (*done || !o_.follow) {
      return kExitOk;
    }
    pause_for(kFollowPoll);
    if (g_interrupted) {
      return kExitOk;
    }
    if (Status s = snapshot_.refresh(); !s.ok()) {
      return report_error(s);
    }
  }
}

// Newest first: read forward up to the upper bound, keep the last --limit
// matches, print them reversed. Nothing is printed if damage is found.
int read_backward(inspect::Snapshot& snapshot, const ReadOptions& o, const Filter& filter) {
  // --from is the last LSN to show; --until-lsn the first one not to.
  const auto within = [&o](std::uint64_t lsn) {
    return (!o.from || lsn <= *o.from) && (!o.until_lsn || lsn < *o.until_lsn);
  };
  std::deque<Event> kept;
  auto reader = snapshot.read_from(0);
  EventView e;
  while (true) {
    auto more = reader->next(e);
    if (!more) {
      return report_error(more.error());
    }
    if (!*more || !within(e.lsn)) {
      break;
    }
    if (!filter.matches(e)) {
      continue;
    }
    kept.push_back(Event::from_view(e));
    if (o.limit && kept.size() > *o.limit) {
      kept.pop_front();
    }
  }
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    const EventView v{it->lsn, it->stream,  it->version,  it->type,
                      it->id,  it->time_ns, it->metadata, it->data};
    print_event(v, o.format);
  }
  std::fflush(stdout);
  return kExitOk;
}

// --stream without --follow: the stream's records only, found through the
// segment indexes (forward from --from-version, or newest first), instead
// of a walk of the whole log. The other bounds filter what it yields.
int read_stream(inspect::Snapshot& snapshot, const ReadOptions& o, const Filter& filter) {
  const Direction direction = o.backward ? Direction::backward : Direction::forward;
  const std::uint64_t from_version = o.from_version.value_or(o.backward ? kFromEnd : 0);
  auto reader = snapshot.read_stream(*o.stream, from_version, direction);
  if (!reader) {
    return report_error(reader.error());
  }
  // --from is the first LSN to show (the last one, backward).
  const auto within = [&o](std::uint64_t lsn) {
    return (!o.from || (o.backward ? lsn <= *o.from : lsn >= *o.from)) &&
           (!o.until_lsn || lsn < *o.until_lsn);
  };
  std::uint64_t printed = 0;
  EventView e;
  while (!o.limit || printed < *o.limit) {
    auto more = (*reader)->next(e);
    if (!more) {
      std::fflush(stdout);
      return report_error(more.error());
    }
    if (!*more) {
      break;
    }
    if (within(e.lsn) && filter.matches(e)) {
      print_event(e, o.format);
      ++printed;
    }
  }
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

int run_read(const ReadOptions& o) {
  if (o.from_version && !o.stream) {
    return usage_error("--from-version needs --stream");
  }
  if (o.backward && o.follow) {
    return usage_error("--backward and --follow cannot be combined");
  }
  if (o.stream && o.stream->empty()) {
    // No stream has an empty name; most likely an unset shell variable.
    return usage_error("--stream: a stream name is never empty");
  }
  Filter filter{o.stream, o.from_version, std::nullopt, o.backward};
  if (o.as_of) {
    filter.as_of = parse_time(*o.as_of);
    if (!filter.as_of) {
      return usage_error("--as-of: expected RFC 3339 (2025-01-02T03:04:05Z) or ns, got \"" +
                         *o.as_of + "\"");
    }
  }
  auto snapshot = inspect::Snapshot::open(o.directory);
  if (!snapshot) {
    return report_error(snapshot.error());
  }
  if (o.stream && !o.follow) {
    return read_stream(**snapshot, o, filter);
  }
  if (o.backward) {
    return read_backward(**snapshot, o, filter);
  }
  catch_interrupts();
  ForwardRead read(**snapshot, o, filter);
  return read.run();
}

}  // namespace cairn::tool
