#!/usr/bin/env bash
# prepare-gpu-deps.sh — on the development machine, in the project root: fills the git-ignored
# .deps/ with what bench/gpu.sh needs on the lent GPU machine and cannot get there
# (../shared/gpu/README.md): libyaml (headers and library), and the PyTorch reference
# workloads (../shared/bench/torch_ref.py; ../shared does not travel). Well under 64 MiB.
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
du -sh .deps
