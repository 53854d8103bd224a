#!/bin/sh
# sources_test.sh MAMC CKPT_COMPARE — DEPT's random subset of sources per round (Algorithm 1's
# S_r; dept.sources_per_round, docs/dept.md) on tiny_lm.mam and the shipped sample
# (configurations from gen.py):
#   agree      4 sources on 4 processes, K = 2, GLOB and TRIM: each round's "sources" record
#              draws 2 sources, and the ranks that trained in the round (each rank's own
#              decision, summed over the processes) are exactly the ranks of those sources;
#              after the last round every holder has the same bits;
#   bytes      the runtime's payload per step (comm_bytes) = `mamc plan --step S`, K = 2 of 4
#              (GLOB, TRIM: a sitting-out source sends nothing; tests/dept/skip_test.sh checks
#              the bytes saved and rank by rank) and K = 1 of 2 (TRIM);
#   all        K = the number of sources is bit-identical to leaving the key out;
#   one        K = 1: a round returns the drawn source's parameters — bit-identical to a run
#              of that source alone (the "one worker" oracle).
set -u
MAMC=$1
CMP=$2
. "$(dirname "$0")/common.sh"
train() { # NAME NP [mamc train options]: trains NAME.yaml, log in NAME.log, metrics in NAME.jsonl
  n=$1 np=$2
  shift 2
  mpirun --allow-run-as-root --oversubscribe -np "$np" "$MAMC" train "$LM" --config "$n.yaml" --progress none \
    --metrics "$tmp/$n.jsonl" "$@" > "$n.log" 2>&1 || { cat "$n.log"; bad "$n: training failed"; return 1; }
}
plan_bytes() { # NAME STEPS: mamc plan's payload at each step, one a line, in plan-NAME.txt
  s=0
  while [ "$s" -lt "$2" ]; do
    "$MAMC" plan "$LM" --config "$1.yaml" --step "$s" | awk '$1 == "total" {print $10}'
    s=$((s + 1))
  done > "plan-$1.txt"
}

# ---- every rank draws the same subset; bytes = plan ------------------------------------------------
for v in glob trim; do
  gen "a$v.yaml" "$v" sources=en,de,fr,es ranks=0,1,2,3 spr=2 steps=12 ckpt="$tmp/a$v"
  train "a$v" 4 --dump-replicas "$tmp/rep$v" || continue
  plan_bytes "a$v" 12
  python3 - "$here" "$tmp" "a$v" "$v" <<'PY' || fail=1
import json, sys
sys.path.insert(0, sys.argv[1]); import st
tmp, n, v = sys.argv[2], sys.argv[3], sys.argv[4].upper()
rows = [json.loads(l) for l in open(f"{tmp}/{n}.jsonl")]
rank_of = {"lm-en": 0, "lm-de": 1, "lm-fr": 2, "lm-es": 3}
src = [r for r in rows if r["type"] == "sources"]
good = len(src) == 3
for r in src:
    trained = [k for k, x in enumerate(r["runs"]) if x > 0]
    want = sorted(rank_of[s] for s in r["drawn"])
    good &= len(r["drawn"]) == 2 and trained == want and all(r["runs"][k] == 4 for k in want)
draws = {tuple(r["drawn"]) for r in src}
print(("OK" if good else "NOT OK") + f": {v}: 4 sources, K = 2: every round the ranks that trained are the drawn "
      f"sources' ({'; '.join(', '.join(r['drawn']) + ' -> runs ' + str(r['runs']) for r in src)})")
cum = [r["comm_bytes"] for r in rows if r["type"] == "train"]
runtime = [b - a for a, b in zip([0] + cum, cum)]
plan = [int(float(x)) for x in open(f"{tmp}/plan-{n}.txt").read().split()]
same = runtime == plan and len(plan) == 12
print(("OK" if same else "NOT OK") + f": {v}: K = 2 of 4, runtime payload per step {runtime} == mamc plan {plan}")
reps = []
for r in range(4):
    t = st.read(f"{tmp}/rep{v.lower()}/rank-{r}/body.safetensors")
    reps.append({k: x[2] for k, x in t.items() if not k.endswith((".adam_m", ".adam_v"))})
equal = all(reps[r] == reps[0] for r in range(4))
print(("OK" if equal else "NOT OK") + f": {v}: after the last round the 4 holders have the same body, bit for bit")
sys.exit(0 if good and same and equal else 1)
PY
done
gen t1.yaml trim spr=1 steps=8 ckpt="$tmp/t1"
if train t1 2; then
  plan_bytes t1 8
  python3 - "$tmp/t1.jsonl" plan-t1.txt <<'PY' || fail=1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cum = [r["comm_bytes"] for r in rows if r["type"] == "train"]
runtime = [b - a for a, b in zip([0] + cum, cum)]
plan = [int(float(x)) for x in open(sys.argv[2]).read().split()]
ok = runtime == plan and len(plan) == 8
print(("OK" if ok else "NOT OK") + f": TRIM: K = 1 of 2, runtime payload per step {runtime} == mamc plan {plan}")
sys.exit(0 if ok else 1)
PY
fi

# ---- K = all: bit-identical to no key ----------------------------------------------------------------
gen k0.yaml trim steps=8 ckpt="$tmp/k0"
gen k2.yaml trim spr=2 steps=8 ckpt="$tmp/k2"
train k0 2 && train k2 2 && "$CMP" "$tmp/k0" "$tmp/k2" 0 > cmp.txt &&
  ! grep -q '"sources"' k2.jsonl && ok "K = all (2 of 2) is bit-identical to no sources_per_round ($(cat cmp.txt))" ||
  bad "K = all differs from no sources_per_round"

# ---- K = 1: the round returns the drawn source's parameters ----------------------------------------------
# sampling.seed 2 draws lm-en for the first round (a task's batch order is keyed by its index,
# so the run alone must keep the drawn source first); it trains on rank 0, then on rank 1 (a
# holder above the lowest), and the round must give exactly what lm-en gives alone.
for rk in 0,1 1,0; do
  n=o$(echo "$rk" | tr -d ,)
  gen "$n.yaml" glob spr=1 steps=4 seed=2 ranks="$rk" ckpt="$tmp/$n"
  train "$n" 2 || continue
  s=$(python3 -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if '\"sources\"' in l][0]['drawn'])" "$n.jsonl")
  [ "$s" = "['lm-en']" ] || { bad "K = 1, seed 2: drew $s, expected ['lm-en']"; continue; }
  gen solo.yaml glob sources=en ranks=0 steps=4 seed=2 ckpt="$tmp/solo"
  [ -d "$tmp/solo" ] || "$MAMC" train "$LM" --config solo.yaml --progress none > solo.log 2>&1 ||
    { cat solo.log; bad "solo: training failed"; continue; }
  "$CMP" "$tmp/$n" "$tmp/solo" 0 > cmp.txt &&
    ok "K = 1 (lm-en drawn, on rank ${rk%%,*}): the round gives lm-en's parameters, bit-identical to lm-en trained alone ($(cat cmp.txt))" ||
    { cat cmp.txt; bad "K = 1 (ranks $rk): the round differs from the drawn source alone"; }
done
exit $fail
