// cairn-micro: Google Benchmark micro benchmarks of Cairn's hot paths.
//   build-bench/bench/micro/cairn-micro                       # all
//   build-bench/bench/micro/cairn-micro --benchmark_filter=Scan
// See bench/README.md ("Micro benchmarks") for what each one measures.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
