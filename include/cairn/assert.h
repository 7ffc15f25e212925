// CAIRN_ASSERT: an invariant check that stays on in release builds.
//
// A broken invariant means the code is wrong, and continuing could write bad
// bytes into an acknowledged log; so it stops the process with the file, line
// and condition (TigerBeetle and Redpanda do the same). Operating errors
// (I/O failures, bad input, damaged files) are never asserted: they are
// returned as Status values.
#pragma once

namespace cairn::detail {
[[noreturn]] void assert_failed(const char* file, int line, const char* condition, const char* why);
}  // namespace cairn::detail

#define CAIRN_ASSERT(cond)                                           \
  do {                                                               \
    if (!(cond)) [[unlikely]] {                                      \
      ::cairn::detail::assert_failed(__FILE__, __LINE__, #cond, ""); \
    }                                                                \
  } while (0)

// The same, with a short sentence saying why the condition must hold.
#define CAIRN_ASSERT_MSG(cond, why)                                     \
  do {                                                                  \
    if (!(cond)) [[unlikely]] {                                         \
      ::cairn::detail::assert_failed(__FILE__, __LINE__, #cond, (why)); \
    }                                                                   \
  } while (0)
