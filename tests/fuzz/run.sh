#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS [HARNESS...] — builds the libFuzzer harnesses with clang in
# build-fuzz/ (MAMC_FUZZ=ON) and runs each for SECONDS (all harnesses by default: mam ir
# yaml safetensors vocab), then prints how many inputs each ran. New corpus entries go to
# build-fuzz/corpus/<h>/ (the committed seeds in tests/fuzz/corpus/<h>/ are read only), crash
# inputs to build-fuzz/crashes/<h>/. A crash makes the script exit 1: minimise the input
# (fuzz_<h> -minimize_crash=1 -runs=10000 FILE), fix the bug, and commit the input to
# tests/fuzz/crashes/<h>/, where the fuzz_replay test replays it in every build.
#
# Environment: FUZZ_JOBS=N runs N harnesses at a time (default 1); FUZZ_BUILD=DIR build dir;
# FUZZ_ARGS="..." extra libFuzzer flags (e.g. -seed=1 -max_len=4096).
# A long run: FUZZ_JOBS=5 tests/fuzz/run.sh 3600
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:?usage: tests/fuzz/run.sh SECONDS [HARNESS...]}
shift
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(mam ir yaml safetensors vocab)
build=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-1}
cc=${CC:-clang}
command -v "$cc" >/dev/null || { echo "run.sh: needs clang (set CC)" >&2; exit 2; }

mkdir -p "$build"
cmake -S . -B "$build" -G Ninja -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAMC_FUZZ=ON \
  -DMAMC_BUILD_TESTS=OFF >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 2; }
grep -q "✓ libFuzzer" "$build/configure.log" || { grep -i fuzz "$build/configure.log"; exit 2; }
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build" --target "${targets[@]}"

run_one() {
  local h=$1 dict=()
  mkdir -p "$build/corpus/$h" "$build/crashes/$h"
  [ -f "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
  # shellcheck disable=SC2086
  "$build/fuzz_$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${dict[@]}" -artifact_prefix="$build/crashes/$h/" ${FUZZ_ARGS:-} \
    "$build/corpus/$h" "tests/fuzz/corpus/$h" >"$build/fuzz_$h.log" 2>&1
}

status=0
pids=()
for h in "${harnesses[@]}"; do
  run_one "$h" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || true
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || true; done

echo "harness       executions  result  (${secs}s each; logs: $build/fuzz_<h>.log)"
for h in "${harnesses[@]}"; do
  log="$build/fuzz_$h.log"
  execs=$(grep -h "stat::number_of_executed_units" "$log" 2>/dev/null | awk '{s += $2} END {print s + 0}')
  found=$(grep -cE "^==[0-9]+== ?ERROR|^SUMMARY|fuzz property failed" "$log" 2>/dev/null || true)
  if [ "${found:-0}" = 0 ] && [ "$execs" -gt 0 ]; then
    printf '%-12s %11s  OK\n' "$h" "$execs"
  else
    printf '%-12s %11s  CRASH\n' "$h" "$execs"
    status=1
    grep -m3 -E "ERROR|SUMMARY|fuzz property failed|Test unit written" "$log" | sed 's/^/    /'
  fi
done
exit $status
