#include <cairn/event.h>

#include <cstdint>
#include <cstring>

namespace cairn {

// Two word compares: every append and every indexed event asks.
bool EventId::is_zero() const {
  std::uint64_t words[2];
  std::memcpy(words, bytes.data(), sizeof(words));
  return (words[0] | words[1]) == 0;
}

std::string EventId::to_hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xF];
  }
  return out;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool EventId::from_hex(std::string_view hex, EventId& out) {
  std::string digits;
  for (char c : hex) {
    if (c != '-') {
      digits.push_back(c);
    }
  }
  if (digits.size() != 32) {
    return false;
  }
  for (std::size_t i = 0; i < 16; ++i) {
    int hi = hex_value(digits[2 * i]);
    int lo = hex_value(digits[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

Event Event::from_view(const EventView& v) {
  return Event{v.lsn,     std::string(v.stream),   v.version,          std::string(v.type), v.id,
               v.time_ns, std::string(v.metadata), std::string(v.data)};
}

}  // namespace cairn
