#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds the project twice
# (optimised; and with ASan+UBSan), runs every test in the first build (the valgrind_* ones
# included, label valgrind) and all but the mpi and four long tests in the sanitizer build, then
# each fuzz harness for a few seconds (tests/fuzz/run.sh, with clang). The ctest summary lines
# are the result.
#   scripts/test.sh            everything
#   MAMC_TEST_ARGS="-L unit" scripts/test.sh   pass extra arguments to the main ctest run
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build-ci -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-ci -j "$jobs"
# -O1: what the sanitizers' documentation advises (at -O0 the same tests take 1.4x as long)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMAMC_SANITIZE=ON -DCMAKE_C_FLAGS=-O1 -DCMAKE_CXX_FLAGS=-O1 >/dev/null
cmake --build build-asan -j "$jobs"
status=0
# ctest runs $jobs tests at once: one BLAS thread each (mamc train would take up to 4)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# The kernel caches (NVRTC's device code, the CPU JIT's object files) in one folder, emptied
# here: each distinct kernel is compiled once, by the first test that needs it, and later tests
# and the sanitizer build find it there (same sources, same keys), so that their time goes to
# mamc's own code rather than to LLVM's and NVRTC's compilers again. test_codegen_jit_cache
# and test_cuda_kcache test the caches themselves in folders of their own.
export MAMC_CUDA_CACHE="$PWD/build-ci/kernel-cache" MAMC_JIT_CACHE="$PWD/build-ci/kernel-cache"
rm -rf "$MAMC_CUDA_CACHE"
echo "== all tests (build-ci) =="
(cd build-ci && ctest --output-on-failure -j "$jobs" ${MAMC_TEST_ARGS:-}) || status=1
# Under the sanitizers: every test but the valgrind copies, the mpi ones (OpenMPI leaks in its
# own plugins; they pass with ASAN_OPTIONS=detect_leaks=0, README "Testing"), the two long
# trainings (minutes in a Debug ASan build; their code paths are covered by the shorter e2e),
# test_codegen_nvrtc (NVRTC's time alone: the CUDA printer it feeds runs under the sanitizers in
# test_codegen_bf16 and test_codegen_cuda) and e2e_install (cmake --install and a client built
# against it: the driver it runs is e2e_driver's, which runs here).
echo "== tests under ASan + UBSan (build-asan) =="
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j "$jobs" -LE "valgrind|mpi|gpu" \
   -E "^(e2e_train_multi|e2e_translate|test_codegen_nvrtc|e2e_install)$") || status=1
if command -v clang >/dev/null; then
  echo "== each fuzz harness for ${MAMC_FUZZ_SECONDS:-10} s (clang + libFuzzer, build-fuzz) =="
  FUZZ_JOBS="$jobs" bash tests/fuzz/run.sh "${MAMC_FUZZ_SECONDS:-10}" || status=1
fi
exit $status
