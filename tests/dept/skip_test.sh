#!/bin/sh
# skip_test.sh MAMC CKPT_COMPARE — sources that sit a round out skip its exchange
# (dept.sources_per_round K of N; runtime/trainer_sync.c: tsync_outer; docs/dept.md), on
# tiny_lm.mam, 4 sources on 4 processes (configurations from gen.py):
#   oracle   K = 2 of 4, GLOB, TRIM and SPEC: bit-identical to MAMC_DEPT_EXCHANGE_ALL=1 (every
#            holder joins every round, zeros from those that sat out: the exchange before);
#   bytes    per round the runtime sends (N − K)·D fewer payload bytes than that oracle (D: a
#            holder's dense round bytes, from the checkpoint): GLOB and SPEC K·D instead of
#            N·D, TRIM the same rows; K = 4 of 4 is the oracle's figure; per rank (the "sent"
#            of each round's metrics line) = `mamc plan --step S`, and a rank that sat out
#            sends 0;
#   K = 3    the same terms summed in another association: after one round every element is
#            within 4u·max|tensor| (u = 2^-24) of the oracle's;
#   long     24 rounds of random draws (K = 2 TRIM, K = 3 GLOB): no deadlock (a time limit),
#            the holders end bit-identical, runtime = plan at every step and rank by rank.
set -u
MAMC=$1
CMP=$2
. "$(dirname "$0")/common.sh"
FOUR="sources=en,de,fr,es ranks=0,1,2,3"
train() { # NAME [mamc train options]: trains NAME.yaml on 4 processes (at most 120 s)
  n=$1
  shift
  timeout 120 mpirun --allow-run-as-root --oversubscribe -np 4 "$MAMC" train "$LM" --config "$n.yaml" --progress none \
    --metrics "$tmp/$n.jsonl" "$@" > "$n.log" 2>&1 || { tail -20 "$n.log"; bad "$n: training failed (or hung)"; return 1; }
}
train_all() { # NAME: as train, every holder joining every round (the exchange before)
  MAMC_DEPT_EXCHANGE_ALL=1
  export MAMC_DEPT_EXCHANGE_ALL
  train "$@"
  r=$?
  unset MAMC_DEPT_EXCHANGE_ALL
  return $r
}
plan() { # NAME STEPS: per step, the total and then each rank's payload (mamc plan), one step a line
  s=0
  while [ "$s" -lt "$2" ]; do
    "$MAMC" plan "$LM" --config "$1.yaml" --step "$s" |
      awk '$1 == "total" {t = $10} $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ && NF == 11 {r = r " " $10} END {print t r}'
    s=$((s + 1))
  done > "plan-$1.txt"
}
check() { # NAME STEPS: runtime = plan per step (world) and per round and rank ("sent")
  plan "$1" "$2"
  python3 - "$tmp/$1.jsonl" "plan-$1.txt" "$1" "$2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cum = [r["comm_bytes"] for r in rows if r["type"] == "train"]
runtime = [b - a for a, b in zip([0] + cum, cum)]
plan = [[int(float(x)) for x in l.split()] for l in open(sys.argv[2])]
good = len(plan) == int(sys.argv[4]) and runtime == [p[0] for p in plan]
rounds = [r for r in rows if r["type"] == "sources"]
for r in rounds:
    want = plan[r["step"] - 1][1:]
    good &= r["sent"] == want and sum(r["sent"]) == runtime[r["step"] - 1]
    good &= all(s == 0 for s, n in zip(r["sent"], r["runs"]) if n == 0)  # sat out: sends nothing
print(("OK" if good else "NOT OK") + f": {sys.argv[3]}: runtime payload = mamc plan at each of {len(runtime)} steps "
      f"and, in each of {len(rounds)} rounds, rank by rank (ranks that sat out: 0); first rounds: "
      + "; ".join(f"step {r['step']} sent {r['sent']}" for r in rounds[:3]))
sys.exit(0 if good else 1)
PY
}
per_round() { python3 -c "import json,sys; print([r['comm_bytes'] for r in map(json.loads, open(sys.argv[1])) if r['type'] == 'train'][-1] // int(sys.argv[2]))" "$@"; }
dense() { # CKPT MODULES...: a holder's dense round bytes D (the modules' parameters, f32)
  python3 - "$here" "$@" <<'PY'
import sys; sys.path.insert(0, sys.argv[1]); import st
d = sys.argv[2]
step = open(d + "/latest").read().strip()
print(sum(len(v[2]) for m in sys.argv[3:] for k, v in st.read(f"{d}/{step}/{m}.safetensors").items()
          if not k.endswith((".adam_m", ".adam_v")) and not k.startswith("outer.")))
PY
}

# ---- oracle, bytes ------------------------------------------------------------------------------
for v in glob trim spec; do
  gen "n$v.yaml" "$v" $FOUR spr=2 steps=8 every=2 seed=5 ckpt="$tmp/n$v"
  gen "o$v.yaml" "$v" $FOUR spr=2 steps=8 every=2 seed=5 ckpt="$tmp/o$v"
  gen "f$v.yaml" "$v" $FOUR steps=8 every=2 seed=5 ckpt="$tmp/f$v"
  train "n$v" && train_all "o$v" && train "f$v" || continue
  "$CMP" "$tmp/o$v" "$tmp/n$v" 0 > cmp.txt && ok "$v: K = 2 of 4: bit-identical to every holder exchanging ($(cat cmp.txt))" ||
    { cat cmp.txt; bad "$v: K = 2 of 4 differs from MAMC_DEPT_EXCHANGE_ALL=1"; }
  case $v in glob) mods="body embed[all]" ;; *) mods=body ;; esac
  D=$(dense "$tmp/n$v" $mods) n=$(per_round "n$v.jsonl" 4) o=$(per_round "o$v.jsonl" 4) f=$(per_round "f$v.jsonl" 4)
  if [ "$v" = trim ]; then want=$((o - 2 * D)); else want=$((2 * D)); fi
  [ "$n" = "$want" ] && [ "$o" -ge "$n" ] && { [ "$v" = trim ] || [ "$o" = "$f" ]; } &&
    ok "$v: bytes per round (mean of 4, all ranks): K = 2 of 4 $n = $(
      [ "$v" = trim ] && echo "oracle $o - 2 x D" || echo "2 x D"), D = $D; every holder exchanging $o; K = 4 of 4 $f" ||
    bad "$v: bytes per round: K = 2 $n, want $want (D $D), oracle $o, K = 4 $f"
  check "n$v" 8 || fail=1
done

# ---- K = 3: the same sum, another association ----------------------------------------------------------
# sampling.seed 6 leaves rank 2 out of the first round: the oracle's all-reduce over 4 and the
# reduction over 3 may associate the 3 terms differently
gen k3.yaml glob $FOUR spr=3 steps=2 every=2 seed=6 ckpt="$tmp/k3"
gen k3o.yaml glob $FOUR spr=3 steps=2 every=2 seed=6 ckpt="$tmp/k3o"
if train k3 && train_all k3o; then
  python3 - "$here" "$tmp/k3" "$tmp/k3o" "$tmp/k3.jsonl" <<'PY' || fail=1
import json, struct, sys, os
sys.path.insert(0, sys.argv[1]); import st
a, b = (d + "/step-00000002" for d in sys.argv[2:4])
worst, nd, tot = 0.0, 0, 0
for f in sorted(os.listdir(a)):
    if not f.endswith(".safetensors"): continue
    ta, tb = st.read(f"{a}/{f}"), st.read(f"{b}/{f}")
    for k in ta:
        if k.endswith((".adam_m", ".adam_v")) or ta[k][0] != "F32": continue
        x = struct.unpack("<%df" % (len(ta[k][2]) // 4), ta[k][2])
        y = struct.unpack("<%df" % (len(tb[k][2]) // 4), tb[k][2])
        sc = max(abs(v) for v in y) or 1.0
        for u, v in zip(x, y):
            tot += 1
            if u != v: nd, worst = nd + 1, max(worst, abs(u - v) / sc)
drawn = [json.loads(l)["drawn"] for l in open(sys.argv[4]) if '"sources"' in l]
good = worst <= 2.0 ** -22
print(("OK" if good else "NOT OK") + f": K = 3 of 4 (drawn {drawn[0]}): {nd} of {tot} elements differ from every holder "
      f"exchanging, by at most {worst:.3g} x max|tensor| (bound 4u = {2.0 ** -22:.3g})")
sys.exit(0 if good else 1)
PY
fi

# ---- long: 24 rounds of random draws ------------------------------------------------------------------------
for c in "trim 2" "glob 3"; do
  set -- $c
  n=l$1$2
  gen "$n.yaml" "$1" $FOUR spr="$2" steps=48 every=2 seed=11 ckpt="$tmp/$n"
  train "$n" --dump-replicas "$tmp/rep$n" || continue
  python3 - "$here" "$tmp/rep$n" "$tmp/$n.jsonl" "$2" <<'PY' && ok "$n: 24 rounds of K = $2 of 4: no deadlock, every round drew $2 sources, the 4 holders end bit-identical" || bad "$n: replicas or draws"
import json, sys; sys.path.insert(0, sys.argv[1]); import st
src = [json.loads(l) for l in open(sys.argv[3]) if '"sources"' in l]
if len(src) != 24 or any(len(r["drawn"]) != int(sys.argv[4]) for r in src): sys.exit("draws")
for m in ("body", "embed[all]"):
    reps = [st.read(f"{sys.argv[2]}/rank-{r}/{m}.safetensors") for r in range(4)]
    for k in reps[0]:
        if not k.endswith((".adam_m", ".adam_v")) and any(x[k][2] != reps[0][k][2] for x in reps):
            sys.exit(f"{m}.{k} differs")
PY
  check "$n" 48 || fail=1
done
exit $fail
