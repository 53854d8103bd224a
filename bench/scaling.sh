#!/bin/sh
# scaling.sh [STEPS] — weak scaling on this machine: 1, 2 and 4 processes (mpirun), each
# training its own pair(s) of examples/modular.mam on the shipped sample (round-robin over
# the 8 directions: more processes, more tasks in parallel), tokens/s per process and the
# weak-scaling efficiency against one process (the named baseline); and the overlap that
# bucketing gains: the same runs with the exchange started only after the backward pass
# (MAMC_NO_OVERLAP=1). Numbers from one run each, on a shared machine: read them as such.
set -eu
cd "$(dirname "$0")/.."
steps=${1:-30}
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMAMC_BUILD_TESTS=OFF > /dev/null
cmake --build build-bench -j "$(nproc)" --target mamc > /dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|\.\./\.\./data|$PWD/data|; s/valid_every: 30/valid_every: 0/; s|dir: ckpt-e2e|dir: $tmp/ck|" \
  tests/e2e/multi-sample.yaml > "$tmp/c.yaml"
run() { # run NP [env] -> tokens/s per process
  np=$1; shift
  env "$@" mpirun --allow-run-as-root --oversubscribe -np "$np" ./build-bench/mamc train examples/modular.mam \
    --config "$tmp/c.yaml" --steps "$steps" --progress none 2>&1 | sed -n 's/.*(\([0-9]*\) tok\/s;.*/\1/p'
}
printf "%-10s %16s %12s %22s %10s\n" processes "tok/s (rank 0)" efficiency "tok/s, no overlap" "overlap"
base=$(run 1)
printf "%-10s %16s %12s %22s %10s\n" 1 "$base" "1.00 (base)" - -
for np in 2 4; do
  ov=$(run $np)
  no=$(run $np MAMC_NO_OVERLAP=1)
  eff=$(awk -v a="$ov" -v b="$base" 'BEGIN{printf "%.2f", a/b}')
  gain=$(awk -v a="$ov" -v b="$no" 'BEGIN{printf "%.2fx", a/b}')
  printf "%-10s %16s %12s %22s %10s\n" "$np" "$ov" "$eff" "$no" "$gain"
done
echo "(this machine has $(nproc) cores: beyond that, processes share them)"
