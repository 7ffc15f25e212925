// Shared helpers for engine, recovery and crash tests: small-segment options
// on the in-memory crash model, event builders, and reading a log back.
#pragma once

#include <cairn/log.h>
#include <cairn/testing/mem_file_system.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace cairn::test {

inline constexpr const char* kDir = "/cairn-log";

// Runs `fn(fs, dir)` once per real backend (posix, io_uring) that works on
// this machine, with a directory for a log named after `test`, the process
// and the backend, removed before and after. For the tests that must run on
// real files.
template <class F>
void for_each_real_backend(const std::string& test, F&& fn) {
  for (io::Backend backend : {io::Backend::posix, io::Backend::io_uring}) {
    auto real = io::make_file_system(backend);
    if (!real) {
      MESSAGE("backend unavailable here: " << real.error().to_string());
      continue;
    }
    CAPTURE((*real)->name());
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() /
        ("cairn-" + test + "-" + std::to_string(::getpid()) + "-" + (*real)->name());
    std::filesystem::remove_all(dir);
    fn(*real, dir);
    std::filesystem::remove_all(dir);
  }
}

// 64 KiB segments with 1 KiB events, so rolls happen after a few dozen
// appends; foreground segment preparation so file operations are replayable.
inline LogOptions small_options(std::shared_ptr<io::FileSystem> fs, const std::string& dir = kDir) {
  LogOptions o;
  o.directory = dir;
  o.file_system = std::move(fs);
  o.segment_bytes = 64 << 10;
  o.event_bytes_max = 1024;
  o.batch_bytes_max = 8 << 10;
  o.write_window_bytes = 16 << 10;
  o.prepare_segments_in_background = false;
  // Not the default (1): the crash and concurrency tests exercise batches
  // published in order while later ones are in flight.
  o.batches_in_flight = 2;
  return o;
}

// The event views `data` and `type`: both must outlive the append. A
// temporary std::string would not, so that overload does not compile.
NewEvent event(std::string&& data, std::string_view type = "t") = delete;
inline NewEvent event(std::string_view data, std::string_view type = "t") {
  NewEvent e;
  e.type = type;
  e.data = data;
  return e;
}
// String literals live for the whole program.
inline NewEvent event(const char* data, std::string_view type = "t") {
  return event(std::string_view(data), type);
}

// Appends one event to `stream` and REQUIREs success.
inline AppendResult append_one(Log& log, const std::string& stream, const std::string& data,
                               Durability durability = Durability::sync) {
  NewEvent e = event(data);
  auto r = log.append(stream, ExpectedVersion::any(), {&e, 1}, durability);
  REQUIRE_MESSAGE(r.has_value(), r.status().to_string());
  return *r;
}

// Everything `reader` yields until it reports the end (a following reader
// can be drained again after more appends).
inline std::vector<Event> drain(LogReader& reader) {
  std::vector<Event> out;
  EventView v;
  while (true) {
    auto more = reader.next(v);
    REQUIRE_MESSAGE(more.has_value(), more.status().to_string());
    if (!*more) {
      break;
    }
    out.push_back(Event::from_view(v));
  }
  return out;
}

// Everything `reader` yields through next_many() with `views` views per
// call. Each call's views are copied only after the call returns, so a view
// into bytes the reader moved away from within the call shows up as wrong
// data (or as a use after free under ASan). `calls` counts the calls.
inline std::vector<Event> drain_many(LogReader& reader, std::size_t views,
                                     std::size_t* calls = nullptr) {
  std::vector<Event> out;
  std::vector<EventView> v(views);
  while (true) {
    auto got = reader.next_many(v);
    REQUIRE_MESSAGE(got.has_value(), got.status().to_string());
    REQUIRE(*got <= views);
    if (calls != nullptr) {
      ++*calls;
    }
    if (*got == 0) {
      break;
    }
    for (std::size_t i = 0; i < *got; ++i) {
      out.push_back(Event::from_view(v[i]));
    }
  }
  return out;
}

inline std::vector<Event> read_all(Log& log, std::uint64_t from = 0) {
  auto reader = log.read_from(from);
  REQUIRE(reader.has_value());
  return drain(**reader);
}

// The data of each event, in order.
inline std::vector<std::string> data_of(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.push_back(e.data);
  }
  return out;
}

inline std::unique_ptr<Log> open_log(const LogOptions& options) {
  auto log = Log::open(options);
  REQUIRE_MESSAGE(log.has_value(), log.status().to_string());
  return std::move(*log);
}

// Deterministic payload for (lsn-ish) index i and size.
inline std::string payload(std::uint64_t i, std::size_t bytes) {
  std::string s(bytes, '\0');
  std::uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;
  for (auto& c : s) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c = static_cast<char>('a' + (x * 0x2545F4914F6CDD1Dull >> 59));
  }
  return s;
}

}  // namespace cairn::test
