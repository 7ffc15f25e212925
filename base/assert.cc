#include <cairn/assert.h>

#include <cstdio>
#include <cstdlib>

namespace cairn::detail {

void assert_failed(const char* file, int line, const char* condition, const char* why) {
  std::fprintf(stderr, "cairn: assertion failed at %s:%d: %s%s%s\n", file, line, condition,
               why[0] != '\0' ? " -- " : "", why);
  std::fflush(stderr);
  std::abort();
}

}  // namespace cairn::detail
