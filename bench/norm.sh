#!/bin/sh
# norm.sh [ROWS [REPEATS]] — forward + backward time on the CPU of layernorm and rmsnorm with
# the fused backward (layernorm_grad / rmsnorm_grad) against the backward composed from
# primitives (the named baseline: composed/fused > 1 means the fused one is faster), for
# C = 128, 512, 1024 over ROWS rows (default 4096) (bench/norm.c). Builds an optimised build in
# build-bench/.
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMAMC_BUILD_TESTS=OFF > /dev/null
cmake --build build-bench -j "$(nproc)" --target bench_norm > /dev/null
exec ./build-bench/bench_norm "${1:-4096}" "${2:-7}"
