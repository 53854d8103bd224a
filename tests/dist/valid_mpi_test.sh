#!/bin/sh
# valid_mpi_test.sh MAMC — validation BLEU/chrF, the best checkpoint and early stopping under
# `mpirun -np 2` (train.valid_bleu, train.early_stop; docs/config.md; runtime/trainer_valid.c
# sums the BLEU/chrF statistics of the tasks each rank validates). tests/dist/tiny.mam on the
# sample with four directions spread over the two ranks: en-fr on rank 0, fr-en and de-en on
# rank 1, en-de split over both.
#   1. 300 steps, a validation every 100 with BLEU/chrF of 20 greedy-decoded lines per task:
#      every task's scores at step 300 (decoded by whichever rank holds it) equal `mamc
#      translate` + `mamc eval` on the same lines from the final checkpoint; best.json names
#      the validation with the best chrF mean, DIR/best holds the same module files as that
#      step's checkpoint (written once, no temporary folder left), loads, and translates every
#      task as that validation scored it;
#   2. lr 1e-9, metric bleu, patience 2, a validation every 10 of 100 steps: nothing improves,
#      so both ranks stop at step 30 (no hang: the run ends within the timeout and both exit 0);
#      one early_stop record; the last checkpoint is step 30, DIR/best is step 10's and loads;
#      each rank's own dump of the modules it holds (--dump-replicas, written after its loop)
#      carries the optimizer step counts of the step-30 checkpoint, and copies agree.
. "$(dirname "$0")/../testlib.sh"
# one BLAS thread, as each process of an mpirun has (OpenBLAS's results depend on it)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
MAMC=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$tmp" || exit 1
MPIRUN="mpirun --allow-run-as-root --oversubscribe -np 2"

conf() { # conf FILE CKPT LR STEPS VALID_EVERY EARLY_STOP CKPT_EVERY
  d=$root/data/sample
  cat > "$1" <<EOF
index:
  lang: [en, de, fr, es]
  family: {germanic: [en, de], romance: [fr, es]}
vocab: {en: byte, de: byte, fr: byte, es: byte}
tasks:
  - {task: "translate(en, fr)", path: $d/en-fr/train.tsv, valid: $d/en-fr/valid.tsv, ranks: [0]}
  - {task: "translate(fr, en)", path: $d/en-fr/train.tsv, valid: $d/en-fr/valid.tsv, columns: [1, 0], ranks: [1]}
  - {task: "translate(en, de)", path: $d/en-de/train.tsv, valid: $d/en-de/valid.tsv, ranks: [0, 1]}
  - {task: "translate(de, en)", path: $d/en-de/train.tsv, valid: $d/en-de/valid.tsv, columns: [1, 0], ranks: [1]}
processes: 2
train: {steps: $4, batch_tokens: 512, max_len: 32, lr: $3, schedule: {kind: constant, warmup: 1}, dropout: 0.0,
        log_every: 0, valid_every: $5, valid_batches: 2, valid_bleu: 20, early_stop: $6}
checkpoint: {dir: $2, every: $7, keep: 5}
EOF
}
xl() { # xl CONFIG CHECKPOINT TASK SRC OUT
  "$MAMC" translate --config "$1" --model "$here/tiny.mam" --checkpoint "$2" --task "$3" < "$4" > "$5" 2> "$5.log" \
    || { cat "$5.log"; bad "translate --checkpoint $2 --task $3"; }
}
lines() { # lines PAIR SRC_COL TGT_COL NAME: the first 20 validation lines
  head -20 "$root/data/sample/$1/valid.tsv" | cut -f"$2" > "$4.src"
  head -20 "$root/data/sample/$1/valid.tsv" | cut -f"$3" > "$4.ref"
}
lines en-fr 1 2 en-fr; lines en-fr 2 1 fr-en; lines en-de 1 2 en-de; lines en-de 2 1 de-en
# scores CKPT CONFIG NAME: "task bleu chrf" per task into NAME.txt, translating from CKPT
scores() {
  : > "$3.txt"
  for p in en-fr fr-en en-de de-en; do
    xl "$2" "$1" "$p" "$p.src" "$p.$3"
    echo "translate-$p" $("$MAMC" eval --ref "$p.ref" --hyp "$p.$3" -b) >> "$3.txt"
  done
}

# ---- 1. scores = translate + eval; the best checkpoint -------------------------------------------
conf a.yaml "$tmp/a" 1e-2 300 100 "{metric: chrf, patience: 0}" 100
timeout 300 $MPIRUN "$MAMC" train "$here/tiny.mam" --config a.yaml --progress lines > a.log 2>&1 \
  || { cat a.log; echo "NOT OK: mpirun -np 2 training with validation BLEU failed"; exit 1; }
grep -v "^valid @ [0-9]*: mean" a.log
scores "$tmp/a" a.yaml last
[ -f a/best/best.json ] && [ -f a/best/frame.json ] || bad "no DIR/best checkpoint: $(ls a)"
best_step=$(sed -n 's/.*"step": \([0-9]*\).*/\1/p' a/best/best.json)
scores "$tmp/a/best" a.yaml best
ls -A a | grep -v -x -e best -e latest -e metrics.jsonl -e 'step-[0-9]*' > stray.txt \
  && bad "a temporary folder is left: $(cat stray.txt)" || ok "no temporary folder left in the checkpoint folder"
same=1
for f in a/best/*.safetensors; do
  cmp -s "$f" "a/step-$(printf %08d "$best_step")/$(basename "$f")" || { same=0; echo "differs: $f"; }
done
[ "$(ls a/best/*.safetensors | wc -l)" = "$(ls a/step-00000300/*.safetensors | wc -l)" ] || same=0
[ $same = 1 ] && ok "DIR/best = step-$best_step's module files, each once ($(ls a/best/*.safetensors | wc -l))" \
  || bad "DIR/best is not step $best_step's checkpoint"
python3 - a/metrics.jsonl a/best/best.json last.txt best.txt <<'PY' || fail=1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
best = json.load(open(sys.argv[2]))
def read(path):
    return {t: (float(b), float(c)) for t, b, c in (l.split()[:3] for l in open(path))}
last, atbest = read(sys.argv[3]), read(sys.argv[4])
bad = 0
def check(cond, msg):
    global bad
    print(("OK: " if cond else "NOT OK: ") + msg)
    bad |= not cond
valid = [r for r in rows if r["type"] == "valid"]
check([r["step"] for r in valid] == [0, 100, 200, 300], f"validations at {[r['step'] for r in valid]}")
scored = [r for r in valid if r["step"] > 0]
tasks = set(last)
check(all(set(r["bleu"]) == set(r["chrf"]) == tasks for r in scored), f"BLEU and chrF of all {len(tasks)} tasks")
check(any(c > 0 for _, c in last.values()), "some chrF is above 0 (the comparison means something)")
def same(r, ref, what):
    for t in sorted(ref):
        b, c = ref[t]
        check(abs(r["bleu"][t] - b) < 0.01 and abs(r["chrf"][t] - c) < 0.01,
              f"step {r['step']} {t} BLEU/chrF {r['bleu'][t]:.2f}/{r['chrf'][t]:.2f} = {what} {b:.2f}/{c:.2f}")
same(scored[-1], last, "translate + eval from the last checkpoint")
top = max(scored, key=lambda r: (r["chrf_mean"], -r["step"]))
check(best["metric"] == "chrf" and best["step"] == top["step"] and abs(best["value"] - top["chrf_mean"]) < 1e-5,
      f"best.json names the best validation (step {top['step']}, chrF mean {top['chrf_mean']:.2f})")
check([r["step"] for r in scored if r.get("best")][-1:] == [best["step"]], "the last record marked best is best.json's")
same(top, atbest, "translate + eval from DIR/best")
check(not any(r["type"] == "early_stop" for r in rows), "patience 0: no early stop")
sys.exit(bad)
PY

# ---- 2. early stopping stops both ranks at the same step -----------------------------------------
conf b.yaml "$tmp/b" 1e-9 100 10 "{metric: bleu, patience: 2}" 0
if timeout 120 $MPIRUN "$MAMC" train "$here/tiny.mam" --config b.yaml --progress lines --dump-replicas "$tmp/reps" \
     > b.log 2>&1; then
  ok "early-stopped run: both ranks exited 0 ($(tail -1 b.log))"
else
  cat b.log; bad "the early-stopped run failed or hung (rc $?)"
fi
[ "$(grep -c '"type": "early_stop"' b/metrics.jsonl)" = 1 ] \
  && grep -q '"type": "early_stop", "step": 30, "metric": "bleu", .*"best_step": 10, "patience": 2' b/metrics.jsonl \
  && ok "one early stop record: step 30, best at 10, patience 2" || { grep early b/metrics.jsonl; bad "no early stop at step 30"; }
[ "$(cat b/latest)" = "step-00000030" ] && ok "the last checkpoint is step 30" || bad "latest is $(cat b/latest)"
grep -q '"step": 10' b/best/best.json && ok "DIR/best is step 10's: $(cat b/best/best.json)" || bad "best.json: $(cat b/best/best.json)"
xl b.yaml "$tmp/b/best" de-en de-en.src de-en.b && [ -s de-en.b ] && ok "DIR/best loads and translates" \
  || bad "translate from DIR/best after the early stop"
steps() { head -c 300 "$1" | sed -n 's/.*"optimizer_steps":"\([0-9]*\)".*/\1/p'; }
n=0
for r in 0 1; do
  [ -d "reps/rank-$r" ] || { bad "rank $r wrote no replicas (did not reach the end)"; continue; }
  for f in reps/rank-$r/*.safetensors; do
    m=$(basename "$f")
    n=$((n + 1))
    [ "$(steps "$f")" = "$(steps "b/step-00000030/$m")" ] && [ -n "$(steps "$f")" ] \
      || bad "rank $r's $m has $(steps "$f") optimizer steps, the step-30 checkpoint $(steps "b/step-00000030/$m")"
    cmp -s "$f" "reps/rank-0/$m" 2>/dev/null || [ ! -e "reps/rank-0/$m" ] || bad "$m differs between the ranks"
  done
done
[ $n -gt 0 ] && ok "checked $n module copies of both ranks against the step-30 checkpoint"
exit $fail
