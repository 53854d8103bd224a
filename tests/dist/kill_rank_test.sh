#!/bin/sh
# kill_rank_test.sh MAMC — one rank of a 2-process run is killed (SIGKILL) mid-run: every
# rank stops within seconds (no hang) with a message naming the dead rank, and a restart
# resumes from the last complete checkpoint.
set -u
# one BLAS thread, as each process of an mpirun has (OpenBLAS's results depend on it)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
MAMC=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'pkill -9 -f "$tmp/k.yaml" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
python3 "$here/gen_config.py" k.yaml 11 2
sed -i "s/steps: 50/steps: 100000/; s|checkpoint: {dir: ckpt, every: 0, keep: 1}|checkpoint: {dir: $tmp/ckpt, every: 20, keep: 2}|" k.yaml
mpirun --allow-run-as-root --oversubscribe -np 2 "$MAMC" train "$here/tiny.mam" --config "$tmp/k.yaml" --progress none > run.log 2>&1 &
job=$!
# wait for a complete checkpoint, then kill rank 1's process
for i in $(seq 1 120); do [ -e "$tmp/ckpt/latest" ] && break; sleep 0.5; done
[ -e "$tmp/ckpt/latest" ] || { cat run.log; echo "NOT OK: no checkpoint within 60 s"; exit 1; }
victim=$(pgrep -f "$tmp/k.yaml" | while read p; do [ "$(cat /proc/$p/comm)" = mamc ] && echo $p; done | tail -1)
kill -9 "$victim"
t0=$(date +%s)
while kill -0 $job 2>/dev/null; do
  [ $(( $(date +%s) - t0 )) -gt 30 ] && { echo "NOT OK: the other rank still runs 30 s after its peer died"; exit 1; }
  sleep 0.2
done
dt=$(( $(date +%s) - t0 ))
grep -q "rank [01].*exited on signal 9\|rank [01].*Killed" run.log && echo "OK: all ranks stopped ${dt} s after rank death; mpirun names it: $(grep -m1 'exited on signal' run.log | sed 's/^ *//')" \
  || { cat run.log; echo "NOT OK: no message naming the rank"; exit 1; }
last=$(cat "$tmp/ckpt/latest")
sed -i "s/steps: 100000/steps: $(( $(echo "$last" | sed 's/step-0*//') + 5 ))/" k.yaml
mpirun --allow-run-as-root --oversubscribe -np 2 "$MAMC" train "$here/tiny.mam" --config "$tmp/k.yaml" --progress none \
  --resume "$tmp/ckpt" > resume.log 2>&1 && echo "OK: restarted from $last and finished" || { cat resume.log; exit 1; }
