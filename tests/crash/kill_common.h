// Shared by the process-kill test (kill_test.cc) and its child program
// (kill_child.cc): the log options both sides use, and self-describing event
// data, so that the parent can check any recovered event byte for byte
// without knowing in advance which LSN it got (several threads race for
// LSNs in the child).
//
// Event data = "<key>:<thread>:<counter>:<index>/<count>|" + filler, where
// the filler is generated from the prefix; the type is one of three names
// chosen by the counter. So every event proves what it should contain, and
// the parent can tell which events belong to one append (atomicity).
#pragma once

#include <cairn/log.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace cairn::killtest {

inline std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 14695981039346656037ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// The hash a report line carries for one event: type and data, delimited.
inline std::uint64_t event_hash(std::string_view type, std::string_view data,
                                std::uint64_t h = 14695981039346656037ull) {
  h = fnv1a(type, h);
  h = fnv1a(std::string_view("\0", 1), h);
  h = fnv1a(data, h);
  return fnv1a(std::string_view("\0", 1), h);
}

// Options of every log in the kill test, on both sides of the pipe. Small
// segments so rolls happen every few dozen appends; events up to a quarter
// of a segment; a write window of four batches.
inline LogOptions kill_options(const std::string& dir, io::Backend backend,
                               std::uint64_t segment_bytes) {
  LogOptions o;
  o.directory = dir;
  o.backend = backend;
  o.segment_bytes = segment_bytes;
  o.event_bytes_max = segment_bytes / 4;
  o.batch_bytes_max = segment_bytes / 2;
  o.write_window_bytes = static_cast<std::uint32_t>(segment_bytes * 2);
  return o;
}

struct EventKey {
  std::uint64_t key = 0;  // the child run (its seed), or the parent's round
  unsigned thread = 0;
  std::uint64_t counter = 0;  // the append within the thread
  unsigned index = 0;         // the event within the append
  unsigned count = 1;         // events in the append
  bool operator==(const EventKey&) const = default;
};

inline std::string_view event_type(std::uint64_t counter) {
  static constexpr std::string_view kTypes[] = {"Deposited", "Withdrawn", "t"};
  return kTypes[counter % 3];
}

inline std::string key_prefix(const EventKey& k) {
  char buf[96];
  const int n = std::snprintf(buf, sizeof buf, "%016llx:%u:%llu:%u/%u|",
                              static_cast<unsigned long long>(k.key), k.thread,
                              static_cast<unsigned long long>(k.counter), k.index, k.count);
  return std::string(buf, static_cast<std::size_t>(n));
}

// At least the prefix; `size` bytes when size is larger.
inline std::string make_data(const EventKey& k, std::size_t size) {
  std::string s = key_prefix(k);
  std::uint64_t x = mix(fnv1a(s)) | 1;
  while (s.size() < size) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s.push_back(static_cast<char>(' ' + ((x * 0x2545F4914F6CDD1Dull) >> 58) % 95));
  }
  return s;
}

inline bool parse_key(std::string_view data, EventKey& k) {
  const auto bar = data.find('|');
  if (bar == std::string_view::npos || bar > 80) {
    return false;
  }
  const char* p = data.data();
  const char* end = data.data() + bar + 1;  // the '|' included
  auto num = [&](auto& out, int base, char stop) {
    auto r = std::from_chars(p, end, out, base);
    if (r.ec != std::errc() || r.ptr == end || *r.ptr != stop) {
      return false;
    }
    p = r.ptr + 1;
    return true;
  };
  return num(k.key, 16, ':') && num(k.thread, 10, ':') && num(k.counter, 10, ':') &&
         num(k.index, 10, '/') && num(k.count, 10, '|') && p == end && k.count > 0 &&
         k.index < k.count;
}

inline std::string check_event(std::string_view type, std::string_view data, EventKey* out) {
  EventKey k;
  if (!parse_key(data, k)) {
    return "data has no valid key prefix: '" + std::string(data.substr(0, 60)) + "'";
  }
  if (type != event_type(k.counter)) {
    return "type '" + std::string(type) + "' does not match key " + key_prefix(k);
  }
  if (data != make_data(k, data.size())) {
    return "data of " + std::to_string(data.size()) + " bytes differs from its generator, key " +
           key_prefix(k);
  }
  if (out != nullptr) {
    *out = k;
  }
  return {};
}

}  // namespace cairn::killtest
