#!/bin/sh
# decode.sh [CHECKPOINT] — decoding speed on the CPU (docs/decoding.md): sentences per second
# of `mamc translate` with greedy search and beam search (beam 5) on the cached programs (the
# encoder once, one step program per position on key/value caches), against the named
# baseline measured in the same run: the no-cache decoder, which re-runs the whole task graph
# on the growing prefix at every step (--no-cache). Both must write the same translations.
#
# The model is examples/modular.mam, direction en-fr, on the first N lines (default 40) of
# data/sample/en-fr/test.tsv. CHECKPOINT: a checkpoint of modular.mam trained with
# tests/e2e/multi-sample.yaml (or one of the same modules); without one, modular.mam is first
# trained on the sample for STEPS (default 100) steps into a temporary folder.
#   N=100 STEPS=300 bench/decode.sh            MAMC=path/to/mamc to use another build
# Builds an optimised build in build-bench/ unless MAMC is given.
set -eu
cd "$(dirname "$0")/.."
N=${N:-40}
STEPS=${STEPS:-100}
if [ -z "${MAMC:-}" ]; then
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DMAMC_BUILD_TESTS=OFF > /dev/null
  cmake --build build-bench -j "$(nproc)" --target mamc > /dev/null
  MAMC=build-bench/mamc
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|\.\./\.\./data|$PWD/data|g; s|dir: ckpt-e2e|dir: $tmp/ckpt|; s/valid_every: 30/valid_every: 0/" \
  tests/e2e/multi-sample.yaml > "$tmp/run.yaml"
CKPT=${1:-}
if [ -z "$CKPT" ]; then
  echo "training examples/modular.mam on the sample for $STEPS steps (a checkpoint to decode with) ..."
  "$MAMC" train examples/modular.mam --config "$tmp/run.yaml" --steps "$STEPS" --progress none > "$tmp/train.log" 2>&1 \
    || { cat "$tmp/train.log"; exit 1; }
  CKPT=$tmp/ckpt
fi
head -n "$N" data/sample/en-fr/test.tsv | cut -f1 > "$tmp/src.txt"
echo "decoding $N sentences en-fr (examples/modular.mam, $(nproc) CPUs, one executor thread, one BLAS thread)"

rate() { # MODE-NAME ARGS...: runs mamc translate, prints sentences/s
  name=$1
  shift
  "$MAMC" translate --checkpoint "$CKPT" --config "$tmp/run.yaml" --model examples/modular.mam --task en-fr \
    --timing "$@" < "$tmp/src.txt" > "$tmp/$name.out" 2> "$tmp/$name.err" || { cat "$tmp/$name.err"; exit 1; }
  sed -n 's/.*: \([0-9.]*\) sentences\/s.*/\1/p' "$tmp/$name.err"
}

printf "%-8s %16s %20s %8s\n" search "cached (sent/s)" "no-cache (sent/s)" ratio
for mode in greedy beam5; do
  args=""
  [ $mode = beam5 ] && args="--beam 5"
  c=$(rate "$mode-cached" $args)
  b=$(rate "$mode-nocache" $args --no-cache)
  same=yes
  cmp -s "$tmp/$mode-cached.out" "$tmp/$mode-nocache.out" || same=no
  printf "%-8s %16s %20s %7.1fx   same translations: %s\n" "$mode" "$c" "$b" "$(echo "$c $b" | awk '{print $1 / $2}')" "$same"
done
