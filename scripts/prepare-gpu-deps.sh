#!/usr/bin/env bash
# prepare-gpu-deps.sh — on the development machine, in the project root: fills the git-ignored
# .deps/ with what bench/gpu.sh needs on the lent GPU machine and cannot get there
# (../shared/gpu/README.md): libyaml (headers and library), and the PyTorch reference
# workloads (../shared/bench/torch_ref.py; ../shared does not travel), and a kernel cache
# (.deps/kcache: every kernel test_cuda_nvrtc compiles, for sm_90 by this machine's NVRTC; the
# GPU machine's CUDA 13.0 NVRTC gives the same cache keys, so its "warm" part only checks them)
# when a build with test_cuda_nvrtc is given (default: build-dev). Well under 64 MiB.
# Usage: scripts/prepare-gpu-deps.sh [BUILD_DIR]
# Then call the device tool's run with carry [".deps"] (docs/gpu.md has the exact call).
set -eu
cd "$(dirname "$0")/.."
grep -qx '/.deps/' .git/info/exclude 2>/dev/null || echo '/.deps/' >> .git/info/exclude
mkdir -p .deps
rm -f .deps/*.deb
# libyaml: the Ubuntu packages (the recipe verified on the GPU machine) when apt can fetch them,
# else this machine's own files in the same layout (dpkg -x gives usr/include, usr/lib/...)
if (cd .deps && apt-get download libyaml-0-2 libyaml-dev) >/dev/null 2>&1 && ls .deps/*.deb >/dev/null 2>&1; then
  echo "libyaml: $(ls .deps/*.deb | tr '\n' ' ')"
else
  echo "apt-get download failed: copying this machine's libyaml into .deps/yaml/"
  lib=$(dirname "$(readlink -f /usr/lib/x86_64-linux-gnu/libyaml.so 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/x)")
  mkdir -p .deps/yaml/usr/include .deps/yaml/usr/lib/x86_64-linux-gnu
  cp /usr/include/yaml.h .deps/yaml/usr/include/
  cp -a "$lib"/libyaml*.so* .deps/yaml/usr/lib/x86_64-linux-gnu/
fi
for f in ../shared/bench/torch_ref.py ../shared/gpu/probe.c ../shared/gpu/probe.sh; do
  if [ -f "$f" ]; then cp "$f" .deps/; else echo "warning: $f not found (bench/gpu.sh skips what needs it)"; fi
done
nv=${1:-build-dev}/tests/cuda/test_cuda_nvrtc
if [ -x "$nv" ]; then
  rm -rf .deps/kcache
  MAMC_CUDA_CACHE=$PWD/.deps/kcache "$nv" | tail -1 || echo "warning: $nv failed; the GPU machine compiles its kernels itself"
else
  echo "no $nv: no kernel cache carried (the GPU machine compiles its kernels itself)"
fi
du -sh .deps
