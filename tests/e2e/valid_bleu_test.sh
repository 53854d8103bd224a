#!/bin/sh
# valid_bleu_test.sh MAMC — validation BLEU/chrF during training, the best checkpoint and early
# stopping (train.valid_bleu, train.early_stop; docs/config.md), on the committed sample:
#   1. modular.mam on en-fr and fr-en, 60 steps, a validation every 20 with BLEU/chrF of 30
#      greedy-decoded sentences per task: every valid record after step 0 has "bleu", "chrf",
#      "bleu_mean", "chrf_mean"; the scores equal what `mamc translate` + `mamc eval` give for
#      the same lines from the final checkpoint (the trainer decodes with its live parameters);
#      DIR/best exists, best.json names the best validation's step, and translating with
#      `--checkpoint DIR/best` reproduces that validation's chrF; `mamc plot` draws it;
#   2. a learning rate too small to change anything (1e-9) and patience 2: BLEU cannot improve,
#      so the run stops at the third validation (step 30 of 100) with an early_stop record.
. "$(dirname "$0")/../testlib.sh"
MAMC=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

conf() { # conf FILE CKPT LR STEPS EARLY_STOP
  cat > "$1" <<EOF
index:
  lang: [en, de, fr, es]
  family: {germanic: [en, de], romance: [fr, es]}
vocab: {en: {type: byte}, de: {type: byte}, fr: {type: byte}, es: {type: byte}}
tasks:
  - task: translate(en, fr)
    path: $root/data/sample/en-fr/train.tsv
    valid: $root/data/sample/en-fr/valid.tsv
  - task: translate(fr, en)
    path: $root/data/sample/en-fr/train.tsv
    valid: $root/data/sample/en-fr/valid.tsv
    columns: [1, 0]
train: {steps: $4, batch_tokens: 1024, max_len: 48, lr: $3, schedule: {kind: inverse_sqrt, warmup: 10}, dropout: 0.0,
        valid_every: 20, valid_batches: 2, valid_bleu: 30, early_stop: $5}
checkpoint: {dir: $2, every: 0, keep: 1}
EOF
}

# ---- 1. BLEU in the metrics, equal to translate + eval; the best checkpoint ----------------------
conf "$tmp/a.yaml" "$tmp/a" 3e-3 60 "{metric: chrf, patience: 0}"
"$MAMC" train "$root/examples/modular.mam" --config "$tmp/a.yaml" --progress lines > "$tmp/a.log" 2>&1 \
  || { cat "$tmp/a.log"; echo "NOT OK: training failed"; exit 1; }
grep -v "^step" "$tmp/a.log"
head -30 "$root/data/sample/en-fr/valid.tsv" | cut -f1 > "$tmp/en"
head -30 "$root/data/sample/en-fr/valid.tsv" | cut -f2 > "$tmp/fr"
xl() { "$MAMC" translate --config "$tmp/a.yaml" --model "$root/examples/modular.mam" "$@"; }
xl --checkpoint "$tmp/a" --task en-fr < "$tmp/en" > "$tmp/last.fr" || bad "translate from the last checkpoint"
xl --checkpoint "$tmp/a/best" --task en-fr < "$tmp/en" > "$tmp/best.fr" || bad "translate --checkpoint DIR/best"
set -- $("$MAMC" eval --ref "$tmp/fr" --hyp "$tmp/last.fr" -b)
last_bleu=$1 last_chrf=$2
set -- $("$MAMC" eval --ref "$tmp/fr" --hyp "$tmp/best.fr" -b)
best_chrf=$2
[ -f "$tmp/a/best/frame.json" ] && [ -f "$tmp/a/best/best.json" ] && ok "DIR/best is a checkpoint: $(cat "$tmp/a/best/best.json")" \
  || bad "no DIR/best checkpoint"
python3 - "$tmp/a/metrics.jsonl" "$tmp/a/best/best.json" "$last_bleu" "$last_chrf" "$best_chrf" <<'PY' || fail=1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
best = json.load(open(sys.argv[2]))
last_bleu, last_chrf, best_chrf = map(float, sys.argv[3:6])
valid = [r for r in rows if r["type"] == "valid"]
bad = 0
def check(cond, msg):
    global bad
    print(("OK: " if cond else "NOT OK: ") + msg)
    bad |= not cond
check([r["step"] for r in valid] == [0, 20, 40, 60], f"validations at {[r['step'] for r in valid]}")
scored = [r for r in valid if r["step"] > 0]
check(all(set(r["bleu"]) == set(r["chrf"]) == {"translate-en-fr", "translate-fr-en"} and "bleu_mean" in r
          and "chrf_mean" in r for r in scored), "BLEU and chrF per task and their means after step 0")
check("bleu" not in valid[0], "no BLEU at the initial validation")
last = scored[-1]
check(abs(last["bleu"]["translate-en-fr"] - last_bleu) < 0.01 and abs(last["chrf"]["translate-en-fr"] - last_chrf) < 0.01,
      f"step 60 en-fr BLEU/chrF {last['bleu']['translate-en-fr']:.2f}/{last['chrf']['translate-en-fr']:.2f} "
      f"= translate + eval {last_bleu:.2f}/{last_chrf:.2f}")
top = max(scored, key=lambda r: (r["chrf_mean"], -r["step"]))
check(best["metric"] == "chrf" and best["step"] == top["step"] and abs(best["value"] - top["chrf_mean"]) < 1e-5,
      f"best.json names the best validation (step {top['step']}, chrF mean {top['chrf_mean']:.2f})")
check([r["step"] for r in valid if r.get("best")] != [] and valid[[r["step"] for r in valid].index(best["step"])].get("best"),
      "the best validation's record says so")
bv = valid[[r["step"] for r in valid].index(best["step"])]
check(abs(bv["chrf"]["translate-en-fr"] - best_chrf) < 0.01,
      f"--checkpoint DIR/best translates as at step {best['step']} (chrF {best_chrf:.2f})")
check(not any(r["type"] == "early_stop" for r in rows), "patience 0: no early stop")
sys.exit(bad)
PY
"$MAMC" plot "$tmp/a/metrics.jsonl" -o "$tmp/curves.png" > "$tmp/plot.log" 2>&1 && [ -s "$tmp/curves.png" ] \
  && ok "mamc plot draws the metrics" || { cat "$tmp/plot.log"; bad "mamc plot"; }

# ---- 2. early stopping: nothing can improve with lr 1e-9 ------------------------------------------
conf "$tmp/b.yaml" "$tmp/b" 1e-9 100 "{metric: bleu, patience: 2}"
sed -i 's/valid_every: 20/valid_every: 10/' "$tmp/b.yaml"
"$MAMC" train "$root/examples/modular.mam" --config "$tmp/b.yaml" --progress lines > "$tmp/b.log" 2>&1 \
  || { cat "$tmp/b.log"; bad "training with early stopping failed"; }
tail -1 "$tmp/b.log"
grep -q '"type": "early_stop", "step": 30, "metric": "bleu", .*"best_step": 10, "patience": 2' "$tmp/b/metrics.jsonl" \
  && ok "early stop at step 30 (best at 10, patience 2)" || { grep early "$tmp/b/metrics.jsonl"; bad "no early stop at step 30"; }
[ "$(cat "$tmp/b/latest")" = "step-00000030" ] && [ -f "$tmp/b/best/best.json" ] \
  && ok "the last checkpoint is step 30; DIR/best is kept" || bad "checkpoints after an early stop: $(ls "$tmp/b")"
exit $fail
