// Events as the application appends them and as it reads them back.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace cairn {

// 16 bytes chosen by the application (a UUID, typically). Cairn stores it and
// (with the event-sourcing layer) uses it to make retried appends idempotent.
struct EventId {
  std::array<std::uint8_t, 16> bytes{};
  bool operator==(const EventId&) const = default;
  bool is_zero() const;
  std::string to_hex() const;  // 32 lowercase hex digits
  static bool from_hex(std::string_view hex, EventId& out);
};

// One event to append. The views must stay valid for the duration of the
// append call (the log copies the bytes into its write buffer).
struct NewEvent {
  std::string_view type;
  EventId id;
  std::string_view metadata;  // opaque bytes
  std::string_view data;      // opaque bytes
  // Recorded time in ns since the Unix epoch; 0 = the log stamps the time of
  // the append (monotonic within a log: never before the previous event's).
  std::int64_t time_ns = 0;
};

// One event read back. The views point into the reader's buffer and stay
// valid until the reader advances; copy with to_event() to keep it.
struct EventView {
  std::uint64_t lsn = 0;
  std::string_view stream;
  std::uint64_t version = 0;  // dense per stream, from 0
  std::string_view type;
  EventId id;
  std::int64_t time_ns = 0;
  std::string_view metadata;
  std::string_view data;
};

// An owning copy of an EventView.
struct Event {
  std::uint64_t lsn = 0;
  std::string stream;
  std::uint64_t version = 0;
  std::string type;
  EventId id;
  std::int64_t time_ns = 0;
  std::string metadata;
  std::string data;

  static Event from_view(const EventView& view);
  bool operator==(const Event&) const = default;
};

}  // namespace cairn
