#!/bin/sh
# optim.sh [THREADS [STEPS [FIRST_STEP]]] — the trainer's optimizer phase (normalise, sum of squares, AdamW)
# on the default model's 1.43M parameters: the batched f32 path against a copy of the scalar
# implementation it replaced (the named baseline), interleaved; checks the results are
# bit-identical. Default: 1 thread (the trainer's default, MAMC_THREADS), 30 steps from step 1
# (from 4000: mid-run, where 1 - beta2^t is 1 and the new path skips a division).
# Builds an optimised build in build-bench/.
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMAMC_BUILD_TESTS=OFF > /dev/null
cmake --build build-bench -j "$(nproc)" --target bench_optim > /dev/null
exec ./build-bench/bench_optim "${1:-1}" "${2:-30}" "${3:-1}"
