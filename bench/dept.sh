#!/bin/sh
# dept.sh [BUILD_DIR] — DEPT's variants side by side on the shipped sample (docs/dept.md):
# examples/dept/lm.mam, four languages as four sources on four processes, 300 sequential
# steps each: STD (every gradient all-reduced every step), GLOB, TRIM and SPEC (rounds every
# 25 steps, plain averaging), then SPEC's continued pre-training with a fresh global table
# (50 steps, ct.yaml). Prints a markdown table: validation loss per source (the global
# vocabulary, after the last step), the bytes each rank handed to MPI (the runtime's
# comm_bytes: in all, and per round), the embedding memory per rank (mamc plan), and the
# wall time. Small scale on purpose: it shows the mechanics and the accounting, not the
# paper's perplexities. Outputs (logs, metrics, plans) go to $OUT (default /tmp/mamc-dept).
# DATA=corpus sh bench/dept.sh build: the same on the default corpus (data/corpus).
# SPR=2 sh bench/dept.sh build: GLOB, TRIM, SPEC with dept.sources_per_round 2 (bytes for K < N).
set -eu
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
MAMC=$BUILD/mamc
OUT=${OUT:-/tmp/mamc-dept}
mkdir -p "$OUT"
RUN="mpirun --allow-run-as-root --oversubscribe -np 4"
# DATA=sample (default): the committed data/sample and examples/dept/all.bpe, as written.
# DATA=corpus: the same configurations rewritten (into $OUT) to read the default corpus
# (python3 scripts/fetch-corpus.py -> data/corpus) with a 1,000-token BPE trained on it.
DATA=${DATA:-sample}
CK=ckpt/dept
if [ "$DATA" = corpus ]; then
  [ -f data/corpus/en-de/train.tsv ] || { echo "dept.sh: no data/corpus (python3 scripts/fetch-corpus.py)" >&2; exit 1; }
  CK="$OUT/ckpt/dept"
  for v in std glob trim spec ct; do
    sed -e "s#\.\./\.\./data/sample#$root/data/corpus#g" -e "s#path: all.bpe#path: $OUT/all.bpe#" \
        -e "s#dir: ckpt/dept-#dir: $CK-#" "examples/dept/$v.yaml" > "$OUT/$v.yaml"
  done
  CFG="$OUT"
  rm -f "$OUT/all.bpe"
  "$MAMC" vocab --config "$OUT/glob.yaml" > "$OUT/vocab.log" 2>&1 || { cat "$OUT/vocab.log"; exit 1; }
else
  CFG=examples/dept
  [ -f examples/dept/all.bpe ] || "$MAMC" vocab --config examples/dept/glob.yaml
fi
# SPR=K: GLOB, TRIM and SPEC with dept.sources_per_round K instead (Algorithm 1's random subset:
# K of the 4 sources train in each round; the others sit it out, send nothing and receive the
# round's result), beside the bytes of the same run with all 4 (mamc plan, which equals the
# runtime: tests/dept), then stop.
if [ -n "${SPR:-}" ]; then
  for v in glob trim spec; do
    y="$OUT/$v-k$SPR.yaml"
    sed -e "s#dept: {variant: $v}#dept: {variant: $v, sources_per_round: $SPR}#" \
        -e "s#\.\./\.\./data/sample#$root/data/sample#g" -e "s#path: all.bpe#path: $root/examples/dept/all.bpe#" \
        -e "s#dir: [^,]*dept-$v,#dir: $OUT/ckpt/dept-$v-k$SPR,#" "$CFG/$v.yaml" > "$y"
    grep -q "sources_per_round: $SPR" "$y" || { echo "dept.sh: could not set sources_per_round in $y" >&2; exit 1; }
    rm -rf "$OUT/ckpt/dept-$v-k$SPR" "$OUT/$v-k$SPR.jsonl"
    echo "dept.sh: $v, sources_per_round $SPR ($DATA)" >&2
    $RUN "$MAMC" train examples/dept/lm.mam --config "$y" --progress none --metrics "$OUT/$v-k$SPR.jsonl" \
      > "$OUT/$v-k$SPR.log" 2>&1 || { cat "$OUT/$v-k$SPR.log"; exit 1; }
    "$MAMC" plan examples/dept/lm.mam --config "$y" > "$OUT/$v-k$SPR.plan"
    "$MAMC" plan examples/dept/lm.mam --config "$CFG/$v.yaml" > "$OUT/$v.plan"
  done
  python3 - "$OUT" "$SPR" <<'PY'
import json, re, sys
out, K = sys.argv[1], sys.argv[2]
def plan_total(f, steps, col=4):  # the plan's expected payload (col 2: wire) per step, all ranks, x steps / 4
    t = [l.split() for l in open(f) if l.startswith("total")][0]
    return float(t[col]) * steps / 4
def kib(b): return f"{b / 1024:.1f} KiB"
src = ["lm-en", "lm-de", "lm-fr", "lm-es"]
print(f"| variant | valid loss en / de / fr / es (mean) | sent per rank in all, K = {K} of 4 (runtime; mamc plan) "
      f"| per round | the same run with K = 4 (mamc plan) | ratio | wire per rank, K = {K}; K = 4 (mamc plan) | ratio | time |")
print("|---|---|---|---|---|---|---|---|---|")
for v in ("glob", "trim", "spec"):
    rows = [json.loads(l) for l in open(f"{out}/{v}-k{K}.jsonl")]
    valid = [r for r in rows if r["type"] == "valid"][-1]
    train = [r for r in rows if r["type"] == "train"]
    rounds = sum(1 for r in rows if r["type"] == "sources")
    secs = float(re.search(r"done: \d+ steps in ([0-9.]+) s", open(f"{out}/{v}-k{K}.log").read()).group(1))
    losses = [valid["loss"][s] for s in src]
    sent, steps = train[-1]["comm_bytes"] / 4, train[-1]["step"]
    planned, full = plan_total(f"{out}/{v}-k{K}.plan", steps), plan_total(f"{out}/{v}.plan", steps)
    wk, wf = plan_total(f"{out}/{v}-k{K}.plan", steps, 2), plan_total(f"{out}/{v}.plan", steps, 2)
    print(f"| {v.upper()} | {' / '.join(f'{x:.3f}' for x in losses)} ({sum(losses) / 4:.3f}) | {kib(sent)}; "
          f"{kib(planned)} | {kib(sent / rounds)} ({rounds} rounds) | {kib(full)} | {sent / full:.3f} | "
          f"{kib(wk)}; {kib(wf)} | {wk / wf:.3f} | {secs:.0f} s |")
PY
  exit 0
fi
for v in std glob trim spec; do
  rm -rf "$CK-$v" "$OUT/$v.jsonl"
  echo "dept.sh: $v ($DATA)" >&2
  $RUN "$MAMC" train examples/dept/lm.mam --config "$CFG/$v.yaml" --progress none --metrics "$OUT/$v.jsonl" \
    > "$OUT/$v.log" 2>&1 || { cat "$OUT/$v.log"; exit 1; }
  "$MAMC" plan examples/dept/lm.mam --config "$CFG/$v.yaml" > "$OUT/$v.plan"
done
rm -rf "$CK-ct" "$OUT/ct.jsonl"
echo "dept.sh: spec + continued pre-training" >&2
$RUN "$MAMC" train examples/dept/lm.mam --config "$CFG/ct.yaml" --init-from "$CK-spec" --progress none \
  --metrics "$OUT/ct.jsonl" > "$OUT/ct.log" 2>&1 || { cat "$OUT/ct.log"; exit 1; }
python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
def run(v):
    rows = [json.loads(l) for l in open(f"{out}/{v}.jsonl")]
    valid = [r for r in rows if r["type"] == "valid"][-1]
    train = [r for r in rows if r["type"] == "train"][-1]
    secs = float(re.search(r"done: \d+ steps in ([0-9.]+) s", open(f"{out}/{v}.log").read()).group(1))
    return valid, train, secs
def kib(b): return f"{b / 1024:.1f} KiB"
def emb(v):
    if v == "ct": v = "glob"
    text = open(f"{out}/{v}.plan").read()
    m = re.findall(r"^(\d+)\s+(\d+)/\d+\s+([0-9.]+ \w+)\s+([0-9.]+ \w+)$", text, re.M)
    if not m: return "250.0 KiB", "250.0 KiB"
    return m[0][2], " / ".join(x[3] for x in m)
src = ["lm-en", "lm-de", "lm-fr", "lm-es"]
print("| variant | valid loss en / de / fr / es (mean) | sent per rank in all | per round | emb memory per rank (held; as the paper) | time |")
print("|---|---|---|---|---|---|")
for v, name, rounds, steps in (("std", "STD", 300, 300), ("glob", "GLOB", 12, 300), ("trim", "TRIM", 12, 300),
                               ("spec", "SPEC", 12, 300), ("ct", "SPEC + CT (50 GLOB steps)", 2, 50)):
    valid, train, secs = run(v)
    losses = [valid["loss"][s] for s in src]
    sent = train["comm_bytes"] / 4
    held, paper = emb(v)
    per = f"{kib(sent / rounds)} ({'per step' if v == 'std' else f'{rounds} rounds'})"
    print(f"| {name} | {' / '.join(f'{x:.3f}' for x in losses)} ({sum(losses) / 4:.3f}) | {kib(sent)} | {per} | "
          f"{held}; {paper} | {secs:.0f} s |")
PY
