#!/bin/sh
# cpu_step.sh [MODEL RUN.yaml STEPS] — per-step CPU training time (forward / backward /
# optimizer) of the executor against the reference interpreter (the named baseline), and
# matrix-product throughput inside the step against OpenBLAS alone on the same shapes, and the
# executor against itself with MAMC_HOIST=0 (shape-only values not kept: runtime/exec_hoist.c)
# and with MAMC_XENT_LSE=0 (cross-entropy's gradient computing its own row statistics).
# Default: examples/modular.mam on the shipped sample. Builds an optimised build in build-bench/.
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMAMC_BUILD_TESTS=OFF > /dev/null
cmake --build build-bench -j "$(nproc)" --target bench_cpu_step > /dev/null
exec ./build-bench/bench_cpu_step "${1:-examples/modular.mam}" "${2:-tests/e2e/multi-sample.yaml}" "${3:-5}"
