#!/bin/sh
# nonfinite_cli.sh MAMC — the numerical guard through `mamc train` (issue #9): tiny.mam with
# lr 1e30 overflows at step 2. train.nonfinite: stop exits non-zero naming the op
# ("op %N matmul (from .../nn.mam:L:C) produced Inf"); skip runs to the end, warns about each
# skipped step and writes `skip` lines and a `skipped` count into the metrics JSONL, which
# stays valid JSON (NaN losses as null).
set -u
MAMC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
data=$(cd "$here/../../data/sample/en-de" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
for mode in stop skip; do
  sed -e "s|\.\./\.\./data/sample/en-de|$data|" \
      -e "s|^train: .*|train: {steps: 5, batch_tokens: 256, max_len: 32, lr: 1e30, clip: 0, schedule: constant, valid_every: 0, log_every: 1, nonfinite: $mode}|" \
      -e "s|^checkpoint: .*|checkpoint: {dir: $tmp/$mode, every: 0, keep: 1}|" "$here/tiny.yaml" > $mode.yaml
done
fail() { echo "FAIL: $*"; cat "$log"; exit 1; }
log=stop.log
"$MAMC" train "$here/tiny.mam" --config stop.yaml --progress lines > $log 2>&1 && fail "stop mode exited 0"
grep -q "error: step 2: task lm-[a-z]*: the loss is NaN; op %[0-9]* [a-z_]* (from .*nn.mam:[0-9]*:[0-9]*) produced [-]*Inf at \[" $log \
  || fail "stop mode does not name the op"
log=skip.log
"$MAMC" train "$here/tiny.mam" --config skip.yaml --progress lines > $log 2>&1 || fail "skip mode failed"
grep -q "warning: skipped step 2: task lm-[a-z]*: the loss is NaN" $log || fail "no warning for the skipped step"
grep -q '{"type": "skip", "step": 5, .*"skipped": 4,' skip/metrics.jsonl || { log=skip/metrics.jsonl; fail "no skip line"; }
python3 -c "import json, sys; [json.loads(l) for l in open(sys.argv[1])]" skip/metrics.jsonl \
  || { log=skip/metrics.jsonl; fail "the metrics are not JSON lines"; }
echo "OK: stop names the op; skip skipped steps 2-5 and logged them"
