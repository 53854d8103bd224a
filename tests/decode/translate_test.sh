#!/bin/sh
# translate_test.sh MAMC — `mamc translate` end to end (docs/decoding.md): trains
# examples/modular.mam on the sample's en-fr and fr-en for STEPS steps (default 150; set
# MAMC_TRANSLATE_STEPS) in a temporary folder, then
#   - translates the en-fr test split (greedy, beam 5) and scores it with mamc eval, printing
#     BLEU / chrF of ours, of a copy-the-source baseline and of a 1-step model (and on 200
#     training lines); ours must beat the 1-step model (what training taught shows in the
#     translations). Beating the copy baseline takes far more than the sample and a test's
#     time (docs/decoding.md has the numbers): it is printed, not required;
#   - n-best lists: N lines per input, `INDEX ||| TEXT ||| SCORE`, best first;
#   - the no-cache decoder writes the same translations as the cached one;
#   - sampling: the same seed gives the same samples, another seed others;
#   - zero-shot: en-en (no task trained it, every module exists) works with a warning;
#     en-de needs modules the checkpoint lacks: exit 2 with an error naming one.
. "$(dirname "$0")/../testlib.sh"
MAMC=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
STEPS=${MAMC_TRANSLATE_STEPS:-150}

cat > "$tmp/run.yaml" <<EOF
index:
  lang: [en, de, fr, es]
  family: {germanic: [en, de], romance: [fr, es]}
vocab: {en: {type: byte}, de: {type: byte}, fr: {type: byte}, es: {type: byte}}
tasks:
  - task: translate(en, fr)
    path: $root/data/sample/en-fr/train.tsv
  - task: translate(fr, en)
    path: $root/data/sample/en-fr/train.tsv
    columns: [1, 0]
train: {steps: $STEPS, batch_tokens: 2048, max_len: 64, lr: 3e-3, schedule: {kind: inverse_sqrt, warmup: 50},
        clip: 1.0, label_smoothing: 0.1, valid_every: 0}
checkpoint: {dir: $tmp/ckpt, every: 0, keep: 1}
EOF
sed "s|dir: $tmp/ckpt|dir: $tmp/ckpt1|" "$tmp/run.yaml" > "$tmp/run1.yaml"
"$MAMC" train "$root/examples/modular.mam" --config "$tmp/run.yaml" --progress none > "$tmp/train.log" 2>&1 \
  && "$MAMC" train "$root/examples/modular.mam" --config "$tmp/run1.yaml" --steps 1 --progress none > "$tmp/train1.log" 2>&1 \
  || { cat "$tmp/train.log" "$tmp/train1.log"; echo "NOT OK: training failed"; exit 1; }
tail -1 "$tmp/train.log"

cut -f1 "$root/data/sample/en-fr/test.tsv" > "$tmp/src"
cut -f2 "$root/data/sample/en-fr/test.tsv" > "$tmp/ref"
xl() { "$MAMC" translate --checkpoint "$tmp/ckpt" --config "$tmp/run.yaml" --model "$root/examples/modular.mam" "$@"; }
score() { "$MAMC" eval --ref "$tmp/ref" --hyp "$1" -b | tr '\n' ' '; }

xl --task en-fr --timing < "$tmp/src" > "$tmp/greedy" 2> "$tmp/greedy.err" || { cat "$tmp/greedy.err"; bad "translate"; }
xl --task en-fr --beam 5 < "$tmp/src" > "$tmp/beam" || bad "translate --beam 5"
"$MAMC" translate --checkpoint "$tmp/ckpt1" --config "$tmp/run1.yaml" --model "$root/examples/modular.mam" --task en-fr \
  --max-len 40 < "$tmp/src" > "$tmp/step1" || bad "translate with the 1-step model"
n=$(wc -l < "$tmp/src")
[ "$(wc -l < "$tmp/greedy")" -eq "$n" ] && [ "$(wc -l < "$tmp/beam")" -eq "$n" ] && ok "one translation per line ($n)" \
  || bad "line counts: $(wc -l < "$tmp/greedy") / $(wc -l < "$tmp/beam") for $n inputs"
cat "$tmp/greedy.err"
set -- $(score "$tmp/greedy")
ours=$1 ours_chrf=$2
set -- $(score "$tmp/beam")
beam=$1 beam_chrf=$2
set -- $(score "$tmp/src")
copy=$1 copy_chrf=$2
set -- $(score "$tmp/step1")
one=$1 one_chrf=$2
echo "en-fr test split (data/sample, $n lines) after $STEPS steps: BLEU / chrF2"
echo "  ours, greedy           $ours / $ours_chrf"
echo "  ours, beam 5           $beam / $beam_chrf"
echo "  copy-the-source        $copy / $copy_chrf"
echo "  1-step model, greedy   $one / $one_chrf"
if awk "BEGIN { exit !($ours_chrf > $one_chrf + 2 && $ours >= $one) }"; then ok "the trained model translates better than a 1-step one"
else bad "training does not show in the translations"; fi
# the first 200 training pairs: what the model saw (it memorises them long before it generalises)
head -200 "$root/data/sample/en-fr/train.tsv" | cut -f1 > "$tmp/tsrc"
head -200 "$root/data/sample/en-fr/train.tsv" | cut -f2 > "$tmp/ref"
xl --task en-fr < "$tmp/tsrc" > "$tmp/thyp" || bad "translate the training lines"
echo "  training lines: ours $(score "$tmp/thyp")/ copy-the-source $(score "$tmp/tsrc")"
if awk "BEGIN { exit !($ours > $copy) }"; then echo "OK: ours ($ours) beats copying the source ($copy)"
else echo "NOTE: copying the source ($copy BLEU) still beats $STEPS steps on 1,500 pairs ($ours): see docs/decoding.md"; fi

# n-best
head -5 "$tmp/src" > "$tmp/src5"
xl --task en-fr --beam 4 --n-best 3 < "$tmp/src5" > "$tmp/nbest" || bad "--n-best"
awk -F ' \\|\\|\\| ' 'NF != 3 { bad = 1 } $1 == prev && $3 > last + 1e-9 { bad = 1 } { prev = $1; last = $3; n[$1]++ }
  END { for (i = 0; i < 5; i++) if (n[i] != 3) bad = 1; exit bad }' "$tmp/nbest" \
  && ok "n-best: 3 ordered hypotheses per line" || { cat "$tmp/nbest"; bad "n-best format or order"; }
# the no-cache baseline decodes the same
xl --task en-fr --no-cache < "$tmp/src5" > "$tmp/nocache" && head -5 "$tmp/greedy" | cmp -s - "$tmp/nocache" \
  && ok "no-cache decoder = cached decoder" || bad "the no-cache decoder differs"
# sampling
for run in a:1 b:1 c:2; do
  xl --task en-fr --sample --n-best 2 --seed "${run#*:}" --top-p 0.9 < "$tmp/src5" > "$tmp/sample.${run%:*}"
done
cmp -s "$tmp/sample.a" "$tmp/sample.b" && ! cmp -s "$tmp/sample.a" "$tmp/sample.c" \
  && ok "sampling: reproducible for a seed" || bad "sampling reproducibility"
# zero-shot and missing modules
xl --task en-en < "$tmp/src5" > "$tmp/zs" 2> "$tmp/zs.err" && grep -q "zero-shot" "$tmp/zs.err" && [ "$(wc -l < "$tmp/zs")" -eq 5 ] \
  && ok "zero-shot en-en: translated, with a warning" || { cat "$tmp/zs.err"; bad "zero-shot"; }
xl --task en-de < "$tmp/src5" > /dev/null 2> "$tmp/miss.err"
[ $? -eq 2 ] && grep -q "checkpoint has no module '.*\[de\]'" "$tmp/miss.err" && ok "a missing module: exit 2, named" \
  || { cat "$tmp/miss.err"; bad "missing module"; }
xl --task en-fr --beam 2 --sample < "$tmp/src5" > /dev/null 2>&1
[ $? -eq 2 ] && ok "--sample with --beam is refused" || bad "--sample --beam"
exit $fail
