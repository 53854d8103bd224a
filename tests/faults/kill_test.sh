#!/bin/sh
# kill_test.sh MAMC CKPT_COMPARE [N] [STEPS] — kill -9 a training run at random moments, N
# times (default 20), and resume it each time (issue #9).
#
# tiny.mam trains on the committed sample (tiny.yaml's tasks) with a checkpoint every step,
# so many kills land while a checkpoint is being written (counted: a new .step-*.tmp folder
# left behind). After each kill the checkpoint that DIR/latest lists must load (ckpt_compare reads
# every tensor of it), and the run resumes from it (or starts afresh when no checkpoint was
# listed yet). A run that reaches the end before its kill starts again from scratch. At the
# end the last run goes on to STEPS (default 100) without a kill, and its final parameters
# must be bit-identical to those of an uninterrupted reference run (CPU).
#
# Kill moments: uniform in [0.2, 1.2] x the reference run's wall time (start-up and JIT
# included, ~0.5 s; the scale shrinks by 1/4 whenever a run completes before its kill), with
# MAMC_KILL_SEED=N for a repeatable sequence. Exit 0: every check held.
set -u
MAMC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
CMP=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
N=${3:-20}
STEPS=${4:-100}
here=$(cd "$(dirname "$0")" && pwd)
data=$(cd "$here/../../data/sample/en-de" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
seed=${MAMC_KILL_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "kill_test: N=$N STEPS=$STEPS MAMC_KILL_SEED=$seed"

# tiny.yaml with absolute data paths, a checkpoint every step (keep 2), no validation
config() { # config FILE DIR
  sed -e "s|\.\./\.\./data/sample/en-de|$data|" \
      -e "s|^train: .*|train: {steps: $STEPS, batch_tokens: 256, max_len: 32, lr: 1e-3, valid_every: 0, log_every: 1}|" \
      -e "s|^checkpoint: .*|checkpoint: {dir: $2, every: 1, keep: 2}|" "$here/tiny.yaml" > "$1"
}
config ref.yaml "$tmp/ref"
config run.yaml "$tmp/run"

t0=$(date +%s.%N)
"$MAMC" train "$here/tiny.mam" --config ref.yaml --progress none > ref.log 2>&1 || { cat ref.log; exit 1; }
t1=$(date +%s.%N)
ref_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
echo "kill_test: reference run: $STEPS steps in $ref_ms ms"

# a small LCG over the seed: kill delays in ms, uniform in [0.2, 1.2] x ref_ms
rnd=$seed
next_delay() { # sets delay (not in a subshell: rnd advances)
  rnd=$(( (rnd * 1103515245 + 12345) % 2147483648 ))
  delay=$(( ref_ms / 5 + (rnd / 16) % (ref_ms + 1) ))
}

kills=0 mid=0 fresh=0 completed=0 fail=0
while [ "$kills" -lt "$N" ]; do
  resume=""
  [ -f run/latest ] && resume="--resume $tmp/run"
  [ -z "$resume" ] && fresh=$((fresh + 1))
  next_delay
  before=$(ls -a run 2>/dev/null | grep '^\.step-.*\.tmp$')
  "$MAMC" train "$here/tiny.mam" --config run.yaml $resume --progress none >> run.log 2>&1 &
  pid=$!
  sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null
    kills=$((kills + 1))
    step=$(cat run/latest 2>/dev/null || echo none)
    after=$(ls -a run 2>/dev/null | grep '^\.step-.*\.tmp$')
    [ -n "$after" ] && [ "$after" != "$before" ] && mid=$((mid + 1)) && step="$step (mid-checkpoint: $after)"
    if [ -f run/latest ] && ! "$CMP" run run 0 > cmp.log 2>&1; then
      echo "kill_test: kill $kills after $delay ms: the listed checkpoint $(cat run/latest) does not load:"
      cat cmp.log
      fail=1
      break
    fi
    echo "kill_test: kill $kills after $delay ms: latest = $step"
  else
    wait "$pid"
    rc=$?
    if [ "$rc" -ne 0 ]; then
      echo "kill_test: the run failed (exit $rc) before its kill:"
      tail -20 run.log
      fail=1
      break
    fi
    # it finished first: it must equal the reference; then start again from scratch, with
    # shorter delays (the machine got faster than when the reference run was timed)
    completed=$((completed + 1))
    ref_ms=$((ref_ms * 3 / 4 + 1))
    "$CMP" ref run 0 > cmp.log 2>&1 || { echo "kill_test: a completed run differs from the reference:"; cat cmp.log; fail=1; break; }
    rm -rf run
  fi
done
[ "$fail" = 0 ] || exit 1

resume=""
[ -f run/latest ] && resume="--resume $tmp/run"
"$MAMC" train "$here/tiny.mam" --config run.yaml $resume --progress none >> run.log 2>&1 || { tail -20 run.log; exit 1; }
if ! "$CMP" ref run 0 > cmp.log 2>&1; then
  echo "kill_test: the resumed run's final parameters differ from the uninterrupted run's:"
  cat cmp.log
  exit 1
fi
echo "OK: $kills kill -9s ($mid mid-checkpoint, $fresh starts without a checkpoint, $completed runs completed" \
  "before their kill); every listed checkpoint loaded; final parameters bit-identical to the uninterrupted run"
