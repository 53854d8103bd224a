#!/bin/sh
# ab.sh [BASE [MODEL RUN.yaml STEPS ROUNDS]] — CPU training speed of the working tree against
# git revision BASE (default HEAD: the last commit, the named baseline), measured in the same
# run: both are built optimised (BASE in a temporary worktree, under build-ab/), then
# `mamc train` runs alternate, ROUNDS (3) of each, one BLAS thread each. It prints each run's
# step seconds (forward + backward + optimizer, as `mamc train` reports them: validation and
# start-up excluded) and tokens/s, then the ratio of the medians.
# Default: examples/multi.mam on the default corpus (scripts/fetch-corpus.py), 300 steps.
#   sh bench/ab.sh HEAD~3 examples/modular.mam tests/e2e/multi-sample.yaml 60
set -eu
cd "$(dirname "$0")/.."
BASE=${1:-HEAD} MODEL=${2:-examples/multi.mam} CFG=${3:-examples/multi.yaml} STEPS=${4:-300} ROUNDS=${5:-3}
root=$PWD
case $MODEL in /*) ;; *) MODEL=$root/$MODEL ;; esac
case $CFG in /*) ;; *) CFG=$root/$CFG ;; esac
rev=$(git rev-parse --verify "$BASE^{commit}") || { echo "ab.sh: $BASE is not a revision" >&2; exit 2; }
tmp=$(mktemp -d)
src=$root/build-ab/src # a fixed place: its build folder remembers it
cleanup() { git worktree remove --force "$src" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p build-ab
git worktree remove --force "$src" 2>/dev/null || true
git worktree prune
git worktree add --detach "$src" "$rev" > /dev/null
build() { # build SRC DIR
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DMAMC_BUILD_TESTS=OFF > /dev/null
  cmake --build "$2" -j "$(nproc)" --target mamc > /dev/null
}
echo "building $BASE ($(git log -1 --format=%h "$rev")) and the working tree ..."
build "$src" build-ab/base
build . build-ab/work
export OPENBLAS_NUM_THREADS=1
for r in $(seq "$ROUNDS"); do
  for who in base work; do
    mkdir "$tmp/$r$who" # the run's checkpoint folder is relative to where it runs
    (cd "$tmp/$r$who" && "$root/build-ab/$who/mamc" train "$MODEL" --config "$CFG" --steps "$STEPS" --progress none) \
      > "$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
    # done: 300 steps in 39.5 s (3247 tok/s; forward 9.3 s, backward 18.4 s, optimizer 2.1 s); ...
    line=$(grep "^done: " "$tmp/log") || { cat "$tmp/log" >&2; exit 1; }
    set -- $(echo "$line" | sed -n 's/.*(\([0-9.]*\) tok\/s; forward \([0-9.]*\) s, backward \([0-9.]*\) s, optimizer \([0-9.]*\) s).*/\1 \2 \3 \4/p')
    [ $# -eq 4 ] || { echo "ab.sh: cannot read: $line" >&2; exit 1; }
    sec=$(awk -v f="$2" -v b="$3" -v o="$4" 'BEGIN {printf "%.2f", f + b + o}')
    name=$([ "$who" = base ] && echo "$BASE" || echo "working tree")
    printf '%-14s %8s s of steps %8s tok/s\n' "$name" "$sec" "$1"
    echo "$sec" >> "$tmp/s$who"
  done
done
med() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
b=$(med "$tmp/sbase") t=$(med "$tmp/swork")
awk -v n="$BASE" -v b="$b" -v t="$t" \
  'BEGIN {printf "median step seconds: %s %.2f, working tree %.2f: %.3fx as fast\n", n, b, t, b / t}'
