// Status and Result<T>: how every fallible call in Cairn reports failure.
//
// Errors are values, bugs crash: a fallible function returns a [[nodiscard]]
// Status or Result<T>; a broken invariant stops the process through
// CAIRN_ASSERT (see cairn/assert.h). No exception crosses the public API.
// This header is a leaf: it depends on the standard library only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace cairn {

// The codes are part of the public contract: the `cairn` tool maps each to an
// exit code (SPEC.md section 9), so they change only additively.
enum class Errc : std::uint8_t {
  ok = 0,
  io_error,
  no_space,
  corruption,
  not_found,
  invalid_argument,
  wrong_expected_version,
  poisoned,
  closed,
  busy,
};

const char* errc_name(Errc code);

// An OK status is a null pointer, so success costs nothing. A failure carries
// the code, the errno that caused it (0 if none), the file and position it is
// about (where there is one) and a one-line message. Copying shares the
// immutable representation, so one poisoning cause can be handed to every
// waiter cheaply.
class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status ok_status() { return Status(); }
  static Status error(Errc code, std::string message, int sys_errno = 0);
  // A failure about a place in a file: the message is prefixed "path:position: ".
  static Status at(Errc code, std::string path, std::uint64_t position, std::string message);
  static Status in_file(Errc code, std::string path, std::string message, int sys_errno = 0);

  bool ok() const { return rep_ == nullptr; }
  Errc code() const { return rep_ ? rep_->code : Errc::ok; }
  int sys_errno() const { return rep_ ? rep_->sys_errno : 0; }
  // The bare message, without path or position.
  const std::string& message() const;
  const std::string& path() const;
  std::optional<std::uint64_t> position() const { return rep_ ? rep_->position : std::nullopt; }
  // "corruption: 00000000000000000000.seg:4096: bad header checksum".
  std::string to_string() const;
  // Returns a copy whose message starts with `context + ": "`.
  Status with_context(const std::string& context) const;

  // Deliberately dropping a status is spelled out so it can be found by grep.
  void ignore() const {}

 private:
  struct Rep {
    Errc code;
    int sys_errno;
    std::string path;
    std::optional<std::uint64_t> position;
    std::string message;
  };
  explicit Status(std::shared_ptr<const Rep> rep) : rep_(std::move(rep)) {}
  std::shared_ptr<const Rep> rep_;
};

// Shaped like std::expected<T, Status> (which g++ 12 lacks in C++20), so that
// moving to C++23 is a type alias: has_value(), value(), error(), *, ->.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}        // NOLINT
  Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    if (std::get<1>(v_).ok()) {
      // An OK status carries no value: that is a programming error.
      std::get<1>(v_) =
          Status::error(Errc::invalid_argument, "Result constructed from an OK status");
    }
  }

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T value_or(T fallback) const& { return has_value() ? value() : std::move(fallback); }
  const Status& error() const { return std::get<1>(v_); }
  // The status of this result: OK when it holds a value.
  Status status() const { return has_value() ? Status() : error(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cairn

// Propagates a failed Status to the caller.
#define CAIRN_TRY(expr)                    \
  do {                                     \
    ::cairn::Status cairn_try_s_ = (expr); \
    if (!cairn_try_s_.ok()) {              \
      return cairn_try_s_;                 \
    }                                      \
  } while (0)

#define CAIRN_CONCAT_INNER_(a, b) a##b
#define CAIRN_CONCAT_(a, b) CAIRN_CONCAT_INNER_(a, b)

// `CAIRN_ASSIGN_OR_RETURN(auto x, f());` declares x from a Result or returns
// its error.
#define CAIRN_ASSIGN_OR_RETURN(decl, expr) \
  CAIRN_ASSIGN_OR_RETURN_IMPL_(CAIRN_CONCAT_(cairn_r_, __LINE__), decl, expr)
#define CAIRN_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.has_value()) {                             \
    return tmp.error();                               \
  }                                                   \
  decl = std::move(tmp).value()
