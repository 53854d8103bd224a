#!/bin/sh
# translate_quality.sh MAMC CHECKPOINT CONFIG MODEL [N] — BLEU/chrF of a trained model on the
# first N (300) lines of each direction's test split of the default corpus (data/corpus),
# greedy search (BEAM=K: beam search of K), beside the named baseline: copying the source.
# The directions are the configuration's translate(s, t) tasks whose data/corpus/s-t or t-s
# test file exists. Examples (README, #8): after the README's first command,
#   BEAM=5 sh bench/translate_quality.sh build/mamc ckpt/multi examples/multi.yaml examples/multi.mam
#   sh bench/translate_quality.sh build/mamc ckpt/translate examples/translate.yaml examples/shared.mam
# Outputs (sources, references, hypotheses) go to $OUT (default /tmp/mamc-translate-quality).
set -eu
M=$1 CK=$2 CFG=$3 MODEL=$4 N=${5:-300}
root=$(cd "$(dirname "$0")/.." && pwd)
C=$root/data/corpus
OUT=${OUT:-/tmp/mamc-translate-quality}
mkdir -p "$OUT"
tasks=$(sed -n 's/^ *- *task: *translate(\([a-z]*\), *\([a-z]*\)).*/\1-\2/p' "$CFG" | sort -u)
printf '%-7s %16s %16s %8s\n' direction "model BLEU/chrF" "copy BLEU/chrF" "BLEU x"
for t in $tasks; do
  s=${t%-*} g=${t#*-}
  if [ -f "$C/$s-$g/test.tsv" ]; then f=$C/$s-$g/test.tsv; cs=1; cr=2
  elif [ -f "$C/$g-$s/test.tsv" ]; then f=$C/$g-$s/test.tsv; cs=2; cr=1
  else echo "$t: no test split in $C" >&2; continue; fi
  head -n "$N" "$f" | cut -f$cs > "$OUT/$t.src"
  head -n "$N" "$f" | cut -f$cr > "$OUT/$t.ref"
  "$M" translate --checkpoint "$CK" --config "$CFG" --model "$MODEL" --task "$t" ${BEAM:+--beam "$BEAM"} \
    < "$OUT/$t.src" > "$OUT/$t.hyp" 2> "$OUT/$t.log" || { cat "$OUT/$t.log" >&2; exit 1; }
  mb=$("$M" eval --ref "$OUT/$t.ref" --hyp "$OUT/$t.hyp" --score-only | tr '\n' ' ')
  cb=$("$M" eval --ref "$OUT/$t.ref" --hyp "$OUT/$t.src" --score-only | tr '\n' ' ')
  set -- $mb $cb
  printf '%-7s %16s %16s %8s\n' "$t" "$1 / $2" "$3 / $4" "$(awk -v a="$1" -v b="$3" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')"
done
