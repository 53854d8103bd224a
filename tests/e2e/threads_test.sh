#!/bin/sh
# threads_test.sh MAMC CKPT_COMPARE — the number of executor threads (MAMC_THREADS: the pool
# that splits the JIT kernels' outer ranges, runtime/pool.c, and the optimizer's) does not
# change a result: modular.mam trained STEPS steps on the committed sample with 1, 2 and 3
# threads (one BLAS thread each) ends with bit-identical parameters. Before cg_split_row,
# thread boundaries fell anywhere in a row and libm's vector and scalar forms rounded the
# elements around them differently (a relative difference of 2e-3 in one bias after a step).
# Skipped (77) without the JIT (MAMC_NO_JIT, or a build without LLVM): nothing is split then.
. "$(dirname "$0")/../testlib.sh"
MAMC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
CMP=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
here=$(cd "$(dirname "$0")" && pwd)
STEPS=6
export OPENBLAS_NUM_THREADS=1
sed -e "s|\.\./\.\./data|$here/../../data|" -e "s|^checkpoint: .*|checkpoint: {dir: ck, every: 0, keep: 1}|" \
  -e "s|^  valid_every: .*|  valid_every: 0|" "$here/multi-sample.yaml" > "$tmp/run.yaml"
cd "$tmp" || exit 1
for t in 1 2 3; do
  MAMC_THREADS=$t "$MAMC" train "$here/../../examples/modular.mam" --config run.yaml --steps $STEPS --progress none \
    > "train-$t.log" 2>&1 || { bad "MAMC_THREADS=$t: training failed"; tail -5 "train-$t.log"; exit 1; }
  mv ck "t$t"
done
if ! grep -q "CPU kernels" train-1.log; then
  echo "SKIP: no JIT in this run"
  exit 77
fi
for t in 2 3; do
  if "$CMP" t1 "t$t" 0 > "cmp-$t.log" 2>&1; then
    ok "MAMC_THREADS=$t: $STEPS steps, parameters bit-identical to 1 thread"
  else
    bad "MAMC_THREADS=$t differs from 1 thread: $(cat "cmp-$t.log")"
  fi
done
exit $fail
