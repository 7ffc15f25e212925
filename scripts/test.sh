#!/bin/bash
# Builds and runs every test the way CI does:
#   1. the whole suite under ASan+UBSan (build-asan/),
#   2. the concurrency tests under TSan (build-tsan/),
#   3. the libFuzzer targets for a short time each (build-fuzz/, clang),
#   4. the architecture checks (dependency direction, syscalls only in io/).
# It ends with one line "N passed, N failed" (doctest cases plus checks) and
# exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
passed=0
failed=0
note() { printf '== %s\n' "$*"; }
check() {  # check NAME COMMAND...: one pass or fail
  if "${@:2}"; then passed=$((passed + 1)); else failed=$((failed + 1)); note "FAILED: $1"; fi
}
# Adds the doctest totals of a meson test log to the counts.
count_doctest() {
  local log=$1
  local p f
  p=$(grep -ho 'test cases: *[0-9]* | *[0-9]* passed | *[0-9]* failed' "$log" |
      awk -F'|' '{gsub(/[^0-9]/,"",$2); s+=$2} END {print s+0}')
  f=$(grep -ho 'test cases: *[0-9]* | *[0-9]* passed | *[0-9]* failed' "$log" |
      awk -F'|' '{gsub(/[^0-9]/,"",$3); s+=$3} END {print s+0}')
  passed=$((passed + p))
  failed=$((failed + f))
  # Tests that are not doctest suites (examples, the demo) count one each.
  p=$(awk '/^test:/ {name = $NF} /^result:/ {if (name !~ /_test$/ && $0 ~ /exit status 0$/) n++}
           END {print n + 0}' "$log")
  f=$(awk '/^test:/ {name = $NF} /^result:/ {if (name !~ /_test$/ && $0 !~ /exit status 0$/) n++}
           END {print n + 0}' "$log")
  passed=$((passed + p))
  failed=$((failed + f))
}
run_suite() {  # run_suite BUILD_DIR [meson test args...]
  local dir=$1; shift
  if meson test -C "$dir" --print-errorlogs --num-processes "$jobs" "$@" >"$dir/test-output.txt" 2>&1; then
    note "meson test in $dir: ok"
  else
    note "meson test in $dir: FAILED (see $dir/meson-logs/testlog.txt)"
    grep -E '^(FAIL|TIMEOUT)|ERROR|Fail:|Timeout:' "$dir/test-output.txt" | head -40
    failed=$((failed + 1))
  fi
  count_doctest "$dir/meson-logs/testlog.txt"
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

note "build with ASan+UBSan"
if { [ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null; } &&
   ninja -C build-asan -j "$jobs" >build-asan.log 2>&1; then
  run_suite build-asan
else
  tail -40 build-asan.log; failed=$((failed + 1))
fi

note "build with TSan (concurrency tests)"
if { [ -d build-tsan ] || meson setup build-tsan -Db_sanitize=thread -Db_lundef=false >/dev/null; } &&
   ninja -C build-tsan -j "$jobs" tests/engine_test tests/crash_sim_test >build-tsan.log 2>&1; then
  # Under TSan the crash simulation is there for its threads: the sweep of
  # every cut point (single appender) already runs in full under ASan above,
  # so here it runs one workload and fewer random seeds (saves ~2.5 min of
  # CI), and the concurrent cases get twice their default.
  CAIRN_EXHAUSTIVE_SEEDS=1 CAIRN_CRASH_SEEDS=100 CAIRN_CRASH_CONCURRENT_SEEDS=60 \
    run_suite build-tsan engine_test crash_sim_test
else
  tail -40 build-tsan.log; failed=$((failed + 1))
fi

note "libFuzzer targets (clang), a short run each from a seed corpus"
if { [ -d build-fuzz ] || CXX=clang++ meson setup build-fuzz -Dfuzz=true -Dtests=false >/dev/null; } &&
   ninja -C build-fuzz -j "$jobs" tests/fuzz/record_scanner_fuzz tests/fuzz/codec_fuzz \
     tests/fuzz/index_fuzz tests/fuzz/id_filter_fuzz tests/fuzz/stream_filter_fuzz \
     tests/fuzz/make_fuzz_corpus >build-fuzz.log 2>&1; then
  build-fuzz/tests/fuzz/make_fuzz_corpus build-fuzz/corpus >/dev/null 2>&1
  for fuzzer in build-fuzz/tests/fuzz/*_fuzz; do
    [ -x "$fuzzer" ] || continue
    name=$(basename "$fuzzer" _fuzz)
    mkdir -p "build-fuzz/corpus/$name"
    check "$(basename "$fuzzer") for ${FUZZ_SECONDS:-20} s" "$fuzzer" "build-fuzz/corpus/$name" \
      -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=0 >"$fuzzer.log" 2>&1
  done
else
  tail -20 build-fuzz.log; failed=$((failed + 1))
fi

note "architecture checks"
# format/ and io/ depend on nothing of ours (but the public leaf headers);
# recovery/ not on engine/; tools/, examples/ and bench/ only on the public
# API, except bench/micro/ (Google Benchmark micro benchmarks of internals:
# docs/decisions/0007-micro-benchmarks-use-internals.md).
check "format and io include no engine or recovery" \
  bash -c '! grep -rnE "#include \"(engine|recovery|io)/" format/ && ! grep -rnE "#include \"(engine|recovery|format)/" io/'
check "recovery includes no engine" bash -c '! grep -rn "#include \"engine/" recovery/'
check "tools, examples and bench (except bench/micro/) include only the public API" \
  bash -c '! grep -nE "#include \"(engine|recovery|format|io)/" -r tools/ examples/ $(find bench -path bench/micro -prune -o -type f -print)'
check "bench/micro/ includes no internals but format/ and engine/" \
  bash -c '! grep -rnE "#include \"(recovery|io)/" bench/micro/'
# A call, not a mention: the name followed by "(", not preceded by "." or "->".
check "file syscalls live only in io/" \
  bash -c '! grep -rnE "(^|[^.>_[:alnum:]])(::)?(pwrite|pwritev|pread|preadv|fdatasync|fsync|fallocate|ftruncate|flock|io_uring_[a-z_]+)\(" --include=*.cc --include=*.h format/ recovery/ engine/ tools/'

readme_example_matches() {
  local fence='```'
  diff <(awk -v start="${fence}cpp" -v stop="$fence" '$0 == start {f=1; next} $0 == stop {f=0} f' README.md) \
    examples/embed.cc
}
check "README shows examples/embed.cc verbatim" readme_example_matches

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
