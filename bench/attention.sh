#!/bin/sh
# attention.sh [TMAX [REPEATS]] — forward + backward time on the CPU of DiJiang's chunked linear
# attention against softmax attention (the named baseline) for T = 64 ... TMAX (default 8192),
# B = 1, H = 8, D = 64: a table of times, ratios softmax / linear, growth per doubling of T and
# the crossover lengths; softmax attention with its fused backward (softmax_attention_grad)
# against the backward composed from primitives (the baseline of that ratio: composed/fused)
# (bench/attention.c); then the forward alone, the blocked kernel against the whole-score-matrix
# one it replaced (the baseline of new/old, bench/attention_fwd.c), and the fused backward.
# One BLAS thread unless OPENBLAS_NUM_THREADS is set.
# Builds an optimised build in build-bench/. The composed softmax backward materialises
# [B, H, T, T] tensors: about 8 GB at T = 8192 (the fused one: two [64, T] blocks).
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMAMC_BUILD_TESTS=OFF > /dev/null
cmake --build build-bench -j "$(nproc)" --target bench_attention > /dev/null
OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" exec ./build-bench/bench_attention "${1:-8192}" "${2:-3}"
