#!/bin/sh
# rounds_test.sh MAMC CKPT_COMPARE — DEPT's variants on 1 and 2 processes against the oracles
# of the reference's DEPT list (../shared/reference/dijiang_dept.md; docs/dept.md), on
# tiny_lm.mam and the shipped sample (configurations from gen.py):
#   local SGD    one local step per round, plain averaging, SGD = synchronous data-parallel
#                SGD: GLOB, and TRIM with sources of identical vocabularies;
#   one worker   a round on a single holder returns its parameters: bit-identical to no rounds;
#   permutation  swapping which rank trains which source changes no bit (TRIM: dense + rows);
#   replicas     after the last round every holder has the same bits;
#   TRIM rows    rows in no source's vocabulary are bit-unchanged (= their initial values);
#   SPEC         no round: a source's table is bit-identical to a run without the other
#                source; with rounds, each rank sends exactly the body's bytes per round;
#   bytes        the runtime's payload per step (comm_bytes) = `mamc plan --step S` for
#                GLOB, TRIM and SPEC;
#   moments      dept.moments reset leaves zero AdamW moments after a round, keep does not;
#   schedule     the inner learning rate follows one cosine over all the steps, not per round;
#   continued    a SPEC body continues with a fresh global table (--init-from).
set -u
MAMC=$1
CMP=$2
. "$(dirname "$0")/common.sh"
RUN="mpirun --allow-run-as-root --oversubscribe -np 2"
train() { # NAME NP [mamc train options]: trains NAME.yaml, log in NAME.log
  n=$1 np=$2
  shift 2
  if [ "$np" = 1 ]; then
    "$MAMC" train "$LM" --config "$n.yaml" --progress none --metrics "$tmp/$n.jsonl" "$@" > "$n.log" 2>&1
  else
    mpirun --allow-run-as-root --oversubscribe -np "$np" "$MAMC" train "$LM" --config "$n.yaml" --progress none \
      --metrics "$tmp/$n.jsonl" "$@" > "$n.log" 2>&1
  fi || { cat "$n.log"; bad "$n: training failed"; return 1; }
}

# ---- local SGD = data-parallel SGD ------------------------------------------------------------
gen dp.yaml std opt=sgd clip=0 inner_lr=0.05 ckpt="$tmp/dp"
gen lo.yaml glob opt=sgd clip=0 inner_lr=0.05 every=1 ckpt="$tmp/lo"
train dp 2 && train lo 2 && "$CMP" "$tmp/dp" "$tmp/lo" 1e-5 > cmp.txt && ok "GLOB: N_local = 1, SGD, averaging = data-parallel SGD ($(cat cmp.txt))" || bad "GLOB local SGD"
gen dpt.yaml std dept=trim sources=en,en2 opt=sgd clip=0 inner_lr=0.05 ckpt="$tmp/dpt"
gen lot.yaml trim sources=en,en2 opt=sgd clip=0 inner_lr=0.05 every=1 ckpt="$tmp/lot"
train dpt 2 && train lot 2 && "$CMP" "$tmp/dpt" "$tmp/lot" 1e-5 > cmp.txt && ok "TRIM (identical vocabularies): N_local = 1, SGD, averaging = data-parallel SGD ($(cat cmp.txt))" || bad "TRIM local SGD"

# ---- one worker: the round returns its parameters ---------------------------------------------------
gen one.yaml glob ranks=0,0 every=2 ckpt="$tmp/one"
gen none.yaml std ranks=0,0 ckpt="$tmp/none"
train one 1 && train none 1 && "$CMP" "$tmp/one" "$tmp/none" 0 > /dev/null && ok "one worker: rounds every 2 steps (AdamW) are bit-identical to no rounds" || bad "one worker"

# ---- permutation invariance, replicas ------------------------------------------------------------
gen p01.yaml trim ranks=0,1 ckpt="$tmp/p01"
gen p10.yaml trim ranks=1,0 ckpt="$tmp/p10"
train p01 2 --dump-replicas "$tmp/rep" && train p10 2 && "$CMP" "$tmp/p01" "$tmp/p10" 0 > /dev/null && ok "permutation: sources swapped between the ranks, TRIM rounds: bit-identical" || bad "permutation"
python3 - "$here" "$tmp/rep" <<'PY' && ok "replicas: after the last round both holders have the same parameters, bit for bit" || bad "replicas differ"
import sys; sys.path.insert(0, sys.argv[1]); import st
for m in ("body", "embed[all]"):
    a, b = (st.read(f"{sys.argv[2]}/rank-{r}/{m}.safetensors") for r in (0, 1))
    for k in a:
        if not k.endswith((".adam_m", ".adam_v")) and a[k][2] != b[k][2]:
            sys.exit(f"{m}.{k} differs")
PY

# ---- TRIM: rows in no vocabulary are bit-unchanged ------------------------------------------------------
gen init.yaml trim freeze=1 steps=1 ckpt="$tmp/init"
train init 1 && python3 - "$here" "$tmp/init" "$tmp/p01" <<'PY' && ok "TRIM: rows in no source's vocabulary keep their initial bits; the others trained" || bad "TRIM untouched rows"
import os, sys; sys.path.insert(0, sys.argv[1]); import st
def table(d):
    step = open(d + "/latest").read().strip()
    return st.rows(st.read(f"{d}/{step}/embed[all].safetensors")["weight"])
a, b = table(sys.argv[2]), table(sys.argv[3])
data = sys.argv[1] + "/../../data/sample"
used = {0, 1, 2, 3}
for f in ("en-de", "de-fr"):  # lm(en), lm(de): column 0, byte ids = 4 + byte
    for line in open(f"{data}/{f}/train.tsv", "rb"):
        used |= {4 + c for c in line.rstrip(b"\n").split(b"\t")[0]}
same = [i for i in range(len(a)) if i not in used and a[i] != b[i]]
moved = sum(a[i] != b[i] for i in used)
print(f"  {len(a) - len(used)} rows in no vocabulary, {len(same)} changed; {moved} of {len(used)} used rows trained")
sys.exit(1 if same or moved < len(used) // 2 else 0)
PY

# ---- SPEC isolation -------------------------------------------------------------------------------------
gen iso2.yaml spec every=100 ckpt="$tmp/iso2"
gen iso1.yaml spec sources=en ranks=0 every=100 ckpt="$tmp/iso1"
train iso2 2 && train iso1 1 && python3 - "$here" "$tmp/iso1" "$tmp/iso2" <<'PY' && ok "SPEC: without a round, embed[en] is bit-identical to a run where the other source does not exist" || bad "SPEC isolation"
import sys; sys.path.insert(0, sys.argv[1]); import st
t = [st.read(f"{d}/step-00000008/embed[en].safetensors")["weight"] for d in sys.argv[2:]]
sys.exit(0 if t[0] == t[1] else 1)
PY
gen spec.yaml spec ckpt="$tmp/spec"
train spec 2 && python3 - "$here" "$tmp/spec" "$tmp/spec.jsonl" <<'PY' && ok "SPEC: 2 rounds, each rank sends exactly the body's bytes per round (embeddings: 0)" || bad "SPEC bytes"
import json, sys; sys.path.insert(0, sys.argv[1]); import st
body = st.read(sys.argv[2] + "/step-00000008/body.safetensors")
nbytes = sum(len(v[2]) for k, v in body.items() if not k.endswith((".adam_m", ".adam_v")) and not k.startswith("outer."))
rows = [r for r in map(json.loads, open(sys.argv[3])) if r["type"] == "train"]
got, want = rows[-1]["comm_bytes"], 2 * 2 * nbytes
print(f"  runtime: {got} B in all; 2 rounds x 2 ranks x {nbytes} B of body = {want} B")
sys.exit(0 if got == want else 1)
PY

# ---- runtime bytes = plan --------------------------------------------------------------------------------
for v in glob trim spec; do
  gen "b$v.yaml" "$v" ckpt="$tmp/b$v"
  train "b$v" 2 || continue
  for s in 0 1 2 3 4 5 6 7; do
    "$MAMC" plan "$LM" --config "b$v.yaml" --step "$s" | awk '$1 == "total" {print $10}'
  done > "plan$v.txt"
  python3 - "$tmp/b$v.jsonl" "plan$v.txt" "$v" <<'PY' || fail=1
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "train"]
cum = [r["comm_bytes"] for r in rows]
runtime = [b - a for a, b in zip([0] + cum, cum)]
plan = [int(float(x)) for x in open(sys.argv[2]).read().split()]
ok = runtime == plan and len(plan) == 8
print(("OK" if ok else "NOT OK") + f": {sys.argv[3].upper()}: runtime payload per step {runtime} == mamc plan {plan}")
sys.exit(0 if ok else 1)
PY
done

# ---- moments, schedule ---------------------------------------------------------------------------------------
gen reset.yaml glob moments=reset ckpt="$tmp/reset"
train reset 2 && python3 - "$here" "$tmp/reset" "$tmp/bglob" <<'PY' && ok "moments: reset zeroes the AdamW moments at each round; keep (the default) keeps them" || bad "moments reset"
import sys; sys.path.insert(0, sys.argv[1]); import st
def moments(d):
    t = st.read(d + "/step-00000008/body.safetensors")
    return [v[2] for k, v in t.items() if k.endswith((".adam_m", ".adam_v"))]
zero = all(not any(b) for b in moments(sys.argv[2]))
kept = all(any(b) for b in moments(sys.argv[3]))
sys.exit(0 if zero and kept else 1)
PY
gen cos.yaml glob schedule=cosine warmup=2 steps=12 ckpt="$tmp/cos"
train cos 2 && python3 - "$tmp/cos.jsonl" <<'PY' && ok "schedule: the inner lr is one cosine over all 12 steps (rounds every 4 do not restart it)" || bad "schedule"
import json, math, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "train"]
peak, w, n = 0.01, 2, 12
want = [peak * s / w if s <= w else 0.5 * peak * (1 + math.cos(math.pi * (s - w) / (n - w))) for s in range(1, n + 1)]
sys.exit(0 if all(abs(r["lr"] - x) <= 1e-5 * peak for r, x in zip(rows, want)) and len(rows) == n else 1)
PY

# ---- continued pre-training of a SPEC body with a fresh global table ---------------------------------------------
gen ct.yaml glob ckpt="$tmp/ct"
train ct 2 --init-from "$tmp/spec" && python3 - "$here" "$tmp/spec" "$tmp/ct.log" <<'PY' && ok "continued pre-training: the SPEC body under a fresh global table (--init-from)" || bad "continued pre-training"
import re, sys; sys.path.insert(0, sys.argv[1]); import st
body = [k for k in st.read(sys.argv[2] + "/step-00000008/body.safetensors") if not k.endswith((".adam_m", ".adam_v")) and not k.startswith("outer.")]
m = re.search(r"initialised (\d+) of (\d+) parameters", open(sys.argv[3]).read())
print(f"  {m.group(0) if m else 'no initialised line'}; the body has {len(body)} tensors, the global table 1")
sys.exit(0 if m and int(m.group(1)) == len(body) and int(m.group(2)) == len(body) + 1 else 1)
PY
exit $fail
