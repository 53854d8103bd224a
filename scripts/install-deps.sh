#!/usr/bin/env bash
# Installs what mamc needs to build and test on Debian 12, with apt-get; idempotent.
# Run as root (or with sudo). Packages already present are left alone.
#   LLVM 19 (C API for the CPU JIT), libyaml (run configurations), OpenMPI (collectives),
#   OpenBLAS (CPU matrix products), graphviz (`mamc dot | dot -Tpng`), clang (fuzzers).
set -euo pipefail
pkgs=(build-essential cmake pkg-config git ca-certificates
      llvm-19-dev libyaml-dev libopenmpi-dev openmpi-bin libopenblas-dev
      graphviz clang libclang-rt-dev python3 valgrind)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
