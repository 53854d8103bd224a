#!/bin/sh
# outer_ir_test.sh MAMC — the trainer's rounds are the rounds the communication pass placed:
# for GLOB, TRIM and SPEC (and a Nesterov GLOB) on 2 processes, the parameters each rank
# combines in rounds, with their group (holders), period, outer lr / momentum / nesterov,
# row masking (TRIM) and size — as the runtime runs them (the "round" lines the trainer
# writes to its metrics, from its own groups: runtime/trainer_dept.c) — equal the outer_sync
# ops of `mamc ir --after comm --rank R` (passes/comm.c); and the dense bytes a rank sends
# in a round (the runtime's comm_bytes at the round's step, GLOB and SPEC) equal the sizes
# of those ops, 4 bytes per element.
set -u
MAMC=$1
. "$(dirname "$0")/common.sh"
for c in "glob" "trim" "spec" "glob lr=0.7 momentum=0.9"; do
  set -- $c
  v=$1
  shift
  python3 "$here/gen.py" run.yaml "$v" steps=4 ckpt="$tmp/ck" "$@"
  rm -f m.jsonl
  mpirun --allow-run-as-root --oversubscribe -np 2 "$MAMC" train "$LM" --config run.yaml --progress none \
    --metrics "$tmp/m.jsonl" > train.log 2>&1 || { cat train.log; fail=1; continue; }
  for r in 0 1; do
    "$MAMC" ir "$LM" --config run.yaml --rank "$r" --after comm > "ir$r.txt" 2>&1 || { cat "ir$r.txt"; fail=1; }
  done
  python3 - "$tmp" "$c" <<'PY' || fail=1
import json, re, sys
tmp, name = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(tmp + "/m.jsonl")]
rt = [r for r in rows if r["type"] == "round"]
train = [r for r in rows if r["type"] == "train"]
def holders(g): return [int(x) for x in re.findall(r"\d+", g)]
ok = True
for rank in (0, 1):
    text = open(f"{tmp}/ir{rank}.txt").read()
    ops = {}
    for task in re.split(r"\n(?=task @)", text)[1:]:
        node = {}
        for m in re.finditer(r"^\s*(%\d+) = outer_sync (%\w+)(, %vocab_rows)? \{([^}]*)\} : f32\[([^\]]*)\]", task, re.M):
            a = m.group(4)
            g = re.search(r"group = @(ranks\[[^\]]*\])", a).group(1)
            f = lambda k, d: float(re.search(k + r" = ([-\d.e]+)", a).group(1)) if k + " =" in a else d
            n = 1
            for x in m.group(5).split(","): n *= int(x)
            node[m.group(1)] = (g, int(f("every", 0)), f("lr", 1.0), f("momentum", 0.0),
                                int("nesterov" in a.split(", ")), int(bool(re.search(r"\brows\b", a))), n)
        for m in re.finditer(r"return outer\.(\S+) = (%\d+)", task):
            ops[m.group(1)] = node[m.group(2)]
    want = {r["param"]: (r["group"], r["every"], r["lr"], r["momentum"], r["nesterov"], r["rows"], r["numel"])
            for r in rt if rank in holders(r["group"])}
    same = ops == want and len(ops) > 0
    ok &= same
    print(("OK" if same else "NOT OK") + f": {name}: rank {rank}: the runtime's rounds = the pass's outer_sync ops "
          f"({len(ops)} parameters, {sum(v[6] for v in ops.values())} elements)")
    if not same:
        for k in sorted(set(ops) | set(want)):
            if ops.get(k) != want.get(k): print(f"   {k}: pass {ops.get(k)} runtime {want.get(k)}")
    if name.split()[0] in ("glob", "spec") and rank == 1:
        dense = 4 * sum(v[6] for r in (0, 1) for v in ops.values() if not v[5])  # both ranks hold the same
        got = train[3]["comm_bytes"] - train[2]["comm_bytes"]
        b = got == dense
        ok &= b
        print(("OK" if b else "NOT OK") + f": {name}: round bytes at step 4: runtime {got} = 2 ranks x outer_sync sizes x 4 = {dense}")
sys.exit(0 if ok else 1)
PY
done
exit $fail
