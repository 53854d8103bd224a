#!/bin/sh
# bytes_test.sh MAMC NP — the gradient bytes the runtime hands to MPI at every step (summed
# over ranks, logged as comm_bytes) equal what `mamc plan` predicts for that step (payload),
# on tiny.mam with random explicit placements; and the plan moves exactly the theoretical
# minimum (wire == minimum), which tests/comm checks at every step.
set -u
# one BLAS thread, as each process of an mpirun has (OpenBLAS's results depend on it)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
MAMC=$1
NP=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fail=0
for seed in 4 9; do
  python3 "$here/gen_config.py" c.yaml "$seed$NP" "$NP"
  sed -i "s/steps: 50/steps: 10/; s/log_every: 0/log_every: 1/; s|dir: ckpt|dir: $tmp/ck$seed|" c.yaml
  mpirun --allow-run-as-root --oversubscribe -np "$NP" "$MAMC" train "$here/tiny.mam" --config c.yaml \
    --metrics "$tmp/m$seed.jsonl" --progress none > run.log 2>&1 || { cat run.log; fail=1; continue; }
  for s in $(seq 0 9); do
    "$MAMC" plan "$here/tiny.mam" --config c.yaml --processes "$NP" --step "$s" | awk '$1 == "total" {print $10}'
  done > plan.txt
  python3 - "$tmp/m$seed.jsonl" plan.txt "$seed" <<'PY' || fail=1
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "train"]
cum = [r["comm_bytes"] for r in rows]
runtime = [b - a for a, b in zip([0] + cum, cum)]
plan = [int(float(x)) for x in open(sys.argv[2]).read().split()]
ok = runtime == plan and len(plan) == 10
print(("OK" if ok else "NOT OK") + f": placement {sys.argv[3]}: runtime payload per step {runtime} == plan {plan}")
sys.exit(0 if ok else 1)
PY
done
exit $fail
