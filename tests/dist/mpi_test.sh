#!/bin/sh
# mpi_test.sh MAMC CKPT_COMPARE NP — multi-process training against its single-process
# reference, and replica consistency:
#   1. examples/modular.mam on the sample, NP ranks (round-robin placement) vs --emulate-ranks NP
#      in one process: AdamW, bit-identical for NP = 2 (sums of two are order-free); SGD within
#      1e-5 relative for NP = 4 (MPI sums in another order; AdamW would amplify that rounding
#      on parameters whose true gradient is zero, such as attention key biases);
#   2. tests/dist/tiny.mam with tasks on random ranks and a random sampling seed, 50 steps,
#      three times: every run finishes (no deadlock), and every module's copies on all its
#      holders are bit-identical at the end.
set -u
# one BLAS thread, as each process of an mpirun has (OpenBLAS's results depend on it)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
MAMC=$1
CMP=$2
NP=$3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
MPIRUN="mpirun --allow-run-as-root --oversubscribe -np $NP"
fail=0
opt=adamw; tol=0
[ "$NP" -gt 2 ] && { opt=sgd; tol=1e-5; }

sed "s|\.\./\.\./data|$here/../../data|; s/valid_every: 30/valid_every: 0/" "$here/../e2e/multi-sample.yaml" > base.yaml
sed -i "s/^  schedule: .*$/  schedule: {kind: constant, warmup: 1}\n  optimizer: {kind: $opt}/" base.yaml
sed "s|dir: ckpt-e2e|dir: $tmp/one|" base.yaml > one.yaml
sed "s|dir: ckpt-e2e|dir: $tmp/many|" base.yaml > many.yaml
"$MAMC" train "$here/../../examples/modular.mam" --config one.yaml --steps 8 --emulate-ranks "$NP" --progress none > one.log 2>&1 \
  || { cat one.log; echo "NOT OK: the single-process reference failed"; exit 1; }
$MPIRUN "$MAMC" train "$here/../../examples/modular.mam" --config many.yaml --steps 8 --progress none > many.log 2>&1 \
  || { cat many.log; echo "NOT OK: mpirun -np $NP failed"; exit 1; }
if "$CMP" "$tmp/one" "$tmp/many" "$tol"; then echo "OK: $NP ranks = one process ($opt)"; else fail=1; fi

for seed in 1 2 3; do
  python3 "$here/gen_config.py" "tiny$seed.yaml" "$seed$NP" "$NP"
  rm -rf reps
  if timeout 300 $MPIRUN "$MAMC" train "$here/tiny.mam" --config "tiny$seed.yaml" --progress none \
       --dump-replicas "$tmp/reps" > "tiny$seed.log" 2>&1; then
    echo "OK: random placement $seed: all $NP ranks finished 50 steps"
  else
    cat "tiny$seed.log"; echo "NOT OK: random placement $seed did not finish"; fail=1; continue
  fi
  # every module present on several ranks: identical bytes
  for f in reps/rank-0/*.safetensors reps/rank-*/*.safetensors; do
    m=$(basename "$f")
    for r in reps/rank-*; do
      [ -e "$r/$m" ] || continue
      cmp -s "$f" "$r/$m" || { echo "NOT OK: $m differs between $(dirname "$f") and $r"; fail=1; }
    done
  done
  echo "OK: replicas of every module identical across its holders ($(ls reps/rank-*/*.safetensors | wc -l) copies)"
done
exit $fail
