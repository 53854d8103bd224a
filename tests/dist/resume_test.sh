#!/bin/sh
# resume_test.sh MAMC CKPT_COMPARE [NP] — a run stopped at step N and resumed from its
# checkpoint gives bit-identical parameters at step M > N to an uninterrupted run: the data
# positions, the optimizer moments and step counters, and the schedule all come back.
# With NP > 1 the same under mpirun -np NP.
set -u
# one BLAS thread, as each process of an mpirun has (OpenBLAS's results depend on it)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
MAMC=$1
CMP=$2
NP=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
RUN=""
[ "$NP" -gt 1 ] && RUN="mpirun --allow-run-as-root --oversubscribe -np $NP"
python3 "$here/gen_config.py" base.yaml 7 "$NP"
sed "s|dir: ckpt|dir: $tmp/full|" base.yaml > full.yaml
sed "s|dir: ckpt|dir: $tmp/part|" base.yaml > part.yaml
$RUN "$MAMC" train "$here/tiny.mam" --config full.yaml --steps 20 --progress none > full.log 2>&1 || { cat full.log; exit 1; }
$RUN "$MAMC" train "$here/tiny.mam" --config part.yaml --steps 9 --progress none > part1.log 2>&1 || { cat part1.log; exit 1; }
$RUN "$MAMC" train "$here/tiny.mam" --config part.yaml --steps 20 --resume "$tmp/part" --progress none > part2.log 2>&1 \
  || { cat part2.log; exit 1; }
"$CMP" "$tmp/full" "$tmp/part" 0 && echo "OK: stopped at 9, resumed to 20 = 20 uninterrupted ($NP process(es))"
