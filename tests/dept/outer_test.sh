#!/bin/sh
# outer_test.sh MAMC CKPT_COMPARE — outer rounds (DEPT / DiLoCo) against their oracles:
#   1. one local step per round with plain averaging (outer every 1, lr 1, momentum 0) and
#      SGD = synchronous data-parallel SGD (every(1)), on 2 processes;
#   2. a SPEC-style run (per-language embeddings and decoders `local`, the rest in outer
#      rounds every 4 steps with Nesterov momentum) runs to the end on 2 processes.
set -u
MAMC=$1
CMP=$2
. "$(dirname "$0")/common.sh"
RUN="mpirun --allow-run-as-root --oversubscribe -np 2"
python3 "$here/../dist/gen_config.py" base.yaml 5 2 sgd
sed -i 's/lr: 0.01, valid_every: 0, log_every: 0,/lr: 0.05, valid_every: 0, log_every: 0, clip: 0,/; s/steps: 50/steps: 12/' base.yaml
sed "s|dir: ckpt|dir: $tmp/dp|" base.yaml > dp.yaml
sed "s|dir: ckpt|dir: $tmp/lo|" base.yaml > lo.yaml
printf 'sync:\n  "*": {outer: {every: 1, lr: 1, momentum: 0}}\n' >> lo.yaml
$RUN "$MAMC" train "$here/../dist/tiny.mam" --config dp.yaml --progress none > dp.log 2>&1 || { cat dp.log; exit 1; }
$RUN "$MAMC" train "$here/../dist/tiny.mam" --config lo.yaml --progress none > lo.log 2>&1 || { cat lo.log; exit 1; }
"$CMP" "$tmp/dp" "$tmp/lo" 1e-5 && echo "OK: N_local = 1 with averaging and SGD = data-parallel SGD" || fail=1
sed "s|dir: ckpt|dir: $tmp/spec|" base.yaml > spec.yaml
printf 'sync:\n  "embed[*]": local\n  "dec[*]": local\n  default: {outer: {every: 4, lr: 0.7, momentum: 0.9, nesterov: true}}\n' >> spec.yaml
$RUN "$MAMC" train "$here/../dist/tiny.mam" --config spec.yaml --progress none > spec.log 2>&1 \
  && echo "OK: local embeddings/decoders + outer Nesterov rounds every 4 steps: finished" || { cat spec.log; fail=1; }
exit $fail
