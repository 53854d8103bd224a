#!/bin/sh
# malloc.sh MAMC [MODEL RUN.yaml STEPS ROUNDS] — wall time of `mamc train` with glibc's
# default allocator settings (MAMC_MALLOC_DEFAULT=1, the named baseline) against mamc's own
# (tools/mamc.c tune_malloc: freed activations stay in the process instead of being unmapped
# and page-faulted back in each step). Runs alternate, ROUNDS (2) of each; prints each run's
# seconds and minor page faults, then the ratio of the medians.
# Default: examples/modular.mam on the shipped sample (tests/e2e/multi-sample.yaml), 60 steps.
#   sh bench/malloc.sh build/mamc examples/shared.mam examples/translate.yaml 120   # the corpus run
set -eu
M=$1 MODEL=${2:-examples/modular.mam} CFG=${3:-tests/e2e/multi-sample.yaml} STEPS=${4:-60} ROUNDS=${5:-2}
case $M in /*) ;; *) M=$PWD/$M ;; esac
case $MODEL in /*) ;; *) MODEL=$PWD/$MODEL ;; esac
case $CFG in /*) ;; *) CFG=$PWD/$CFG ;; esac
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$ROUNDS"); do
  for mode in 1 0; do
    mkdir "$tmp/$r$mode" # the run's checkpoint folder is relative to where it runs
    (cd "$tmp/$r$mode" && MAMC_MALLOC_DEFAULT=$mode /usr/bin/time -f "%e %R" -o "$tmp/t" "$M" train "$MODEL" \
      --config "$CFG" --steps "$STEPS" --progress none) > "$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
    read -r sec faults < "$tmp/t"
    name=$([ "$mode" = 1 ] && echo "glibc defaults" || echo "mamc's malloc")
    printf '%-15s %8.2f s %10d minor faults\n' "$name" "$sec" "$faults"
    echo "$sec" >> "$tmp/s$mode"
  done
done
med() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
b=$(med "$tmp/s1") t=$(med "$tmp/s0")
awk -v b="$b" -v t="$t" 'BEGIN {printf "median: glibc defaults %.2f s, mamc %.2f s: %.2fx faster\n", b, t, b / t}'
