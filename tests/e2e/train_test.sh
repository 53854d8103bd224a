#!/bin/sh
# train_test.sh MAMC — end-to-end training on the shipped sample (data/sample): the
# validation loss of examples/modular.mam falls, and two runs with the same seed give
# bit-identical losses. Metrics are read from the JSONL file mamc writes.
set -u
MAMC=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1   # checkpoints go to ./ckpt-e2e: keep them out of the source tree
fail=0

"$MAMC" train "$here/../../examples/modular.mam" --config "$here/multi-sample.yaml" --metrics "$tmp/m1.jsonl" \
  --progress lines > "$tmp/out1" 2>&1 || { cat "$tmp/out1"; echo "NOT OK: training failed"; exit 1; }
tail -3 "$tmp/out1"
python3 - "$tmp/m1.jsonl" <<'PY' || fail=1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
valid = [r["mean"] for r in rows if r["type"] == "valid"]
train = [r["loss"] for r in rows if r["type"] == "train"]
ok = len(valid) >= 2 and valid[-1] < 0.85 * valid[0]
print(("OK" if ok else "NOT OK") + f": validation loss {valid[0]:.3f} -> {valid[-1]:.3f} ({100*valid[-1]/valid[0]:.0f}%), {len(train)} logged steps")
sys.exit(0 if ok else 1)
PY

# same seed, same losses (a short run twice, each in its own checkpoint folder; no validation)
for i in 2 3; do
  mkdir -p "$tmp/run$i" && cp "$here/multi-sample.yaml" "$tmp/run$i/" && sed -i "s|\.\./\.\./data|$here/../../data|g; s|dir: ckpt-e2e|dir: $tmp/run$i/ckpt|; s/valid_every: 30/valid_every: 0/" "$tmp/run$i/multi-sample.yaml"
  "$MAMC" train "$here/../../examples/modular.mam" --config "$tmp/run$i/multi-sample.yaml" --steps 12 \
    --metrics "$tmp/m$i.jsonl" --progress none > "$tmp/out$i" 2>&1 || { cat "$tmp/out$i"; fail=1; }
done
if python3 - "$tmp/m2.jsonl" "$tmp/m3.jsonl" <<'PY'
import json, sys
a, b = ([(r["step"], r["loss"]) for r in map(json.loads, open(f)) if r["type"] == "train"] for f in sys.argv[1:3])
ok = a == b and len(a) > 0
print(("OK" if ok else "NOT OK") + f": two runs with one seed: {len(a)} logged losses, identical: {a == b}")
sys.exit(0 if ok else 1)
PY
then :; else fail=1; fi
# the compiled path (fusion groups through the LLVM JIT, BLAS, fast kernels) against the
# reference interpreter running every node: the same losses over 4 steps, to f32 rounding
# (batches of 512 tokens: 9 s in the interpreter, whose 4 steps of 2048 take 34 s)
for b in default interp; do
  mkdir -p "$tmp/be-$b" && sed "s|\.\./\.\./data|$here/../../data|g; s|dir: ckpt-e2e|dir: $tmp/be-$b/ckpt|; s/valid_every: 30/valid_every: 0/; s/batch_tokens: 2048/batch_tokens: 512/" \
    "$here/multi-sample.yaml" > "$tmp/be-$b/c.yaml"
  if [ $b = interp ]; then export MAMC_BACKEND=interp; fi
  "$MAMC" train "$here/../../examples/modular.mam" --config "$tmp/be-$b/c.yaml" --steps 4 --metrics "$tmp/be-$b.jsonl" \
    --progress none > "$tmp/be-$b.out" 2>&1 || { cat "$tmp/be-$b.out"; fail=1; }
  unset MAMC_BACKEND
done
python3 - "$tmp/be-default.jsonl" "$tmp/be-interp.jsonl" <<'PY' || fail=1
import json, sys
a, b = ([r["loss"] for r in map(json.loads, open(f)) if r["type"] == "train"] for f in sys.argv[1:3])
worst = max(abs(x - y) / abs(y) for x, y in zip(a, b)) if a and len(a) == len(b) else 1
ok = worst < 1e-4
print(("OK" if ok else "NOT OK") + f": compiled path vs interpreter: losses {a} vs {b}, worst relative difference {worst:.2e}")
sys.exit(0 if ok else 1)
PY
exit $fail
