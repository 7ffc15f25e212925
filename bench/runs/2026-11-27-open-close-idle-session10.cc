#include <cairn/log.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
int main(int argc, char** argv) {
  int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  for (int r = 0; r < reps; ++r) {
    cairn::LogOptions o;
    o.directory = argv[1];
    o.create_if_missing = false;
    auto t0 = std::chrono::steady_clock::now();
    auto log = cairn::Log::open(o);
    if (!log) {
      std::fprintf(stderr, "open: %s\n", log.error().to_string().c_str());
      return 1;
    }
    auto t1 = std::chrono::steady_clock::now();
    auto s = (*log)->close();
    auto t2 = std::chrono::steady_clock::now();
    std::printf("open %.2f ms close %.2f ms %s\n",
                std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(t2 - t1).count(),
                s.ok() ? "" : s.to_string().c_str());
  }
}
