#!/bin/sh
# interrupt_test.sh MAMC CKPT_COMPARE — Ctrl-C and SIGTERM during `mamc train` (tools/cmd_train.c,
# trainer_watch_stop): tiny.mam on the committed sample, STEPS steps with no checkpoint before
# the end. Once the run has logged 20 steps it gets the signal; it must finish that step, write
# its checkpoint, say where to resume and exit 130; resumed with --resume, it must end with
# parameters bit-identical to an uninterrupted run's. Then the same on 2 processes (mpirun
# -np 2, when there is an mpirun), SIGTERM sent to one rank only: both stop after the same step
# (the flag travels in the step's world sum), the checkpoint is written, and the resumed run
# equals the uninterrupted 2-process run bit for bit; SIGUSR1 sent to mpirun (which forwards it)
# stops both the same way. And once with the step on the device
# (--device cuda in host emulation, where the build has the CUDA backend).
. "$(dirname "$0")/../testlib.sh"
MAMC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
CMP=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
here=$(cd "$(dirname "$0")" && pwd)
data=$(cd "$here/../../data/sample/en-de" && pwd)
cd "$tmp" || exit 1
STEPS=1500 # long enough that a loaded machine cannot finish it before the signal
# one BLAS thread, as each process of an mpirun has (OpenBLAS's results depend on it)
export OPENBLAS_NUM_THREADS=1

config() { # config FILE DIR
  sed -e "s|\.\./\.\./data/sample/en-de|$data|" \
      -e "s|^train: .*|train: {steps: $STEPS, batch_tokens: 256, max_len: 32, lr: 1e-3, valid_every: 0, log_every: 1}|" \
      -e "s|^checkpoint: .*|checkpoint: {dir: $2, every: 0, keep: 2}|" "$here/tiny.yaml" > "$1"
}

# interrupt NAME SIGNAL LAUNCH...: starts LAUNCH in the background (its output in NAME.log), and
# once 20 steps are logged sends SIGNAL to the process $target names (the launched one unless
# pick_target sets another); sets rc to the exit status
interrupt() {
  name=$1 sig=$2
  shift 2
  "$@" > "$name.log" 2>&1 &
  pid=$!
  n=0
  # up to 3 minutes: under a loaded ctest -j the kernels compile slowly before step 1
  while [ "$n" -lt 3600 ] && [ "$(grep -c '^step ' "$name.log")" -lt 20 ] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.05
    n=$((n + 1))
  done
  echo "$name: SIG$sig after $(grep -c '^step ' "$name.log") logged steps ($((n / 20)) s)"
  target=$pid
  pick_target
  kill -s "$sig" "$target" 2>/dev/null
  wait "$pid"
  rc=$?
}
pick_target() { :; }

# the step the run stopped at, from its last line: "interrupted at step K of N; ..."
stopped_at() { sed -n 's/.*interrupted at step \([0-9]*\) of.*/\1/p' "$1" | tail -1; }

config ref.yaml "$tmp/ref"
"$MAMC" train "$here/tiny.mam" --config ref.yaml --progress none > ref.log 2>&1 || { cat ref.log; exit 1; }

for sig in INT TERM; do
  config "run-$sig.yaml" "$tmp/run-$sig"
  interrupt "run-$sig" "$sig" "$MAMC" train "$here/tiny.mam" --config "run-$sig.yaml" --progress lines
  k=$(stopped_at "run-$sig.log")
  if [ "$rc" -eq 130 ] && [ -n "$k" ] && [ "$k" -ge 20 ] && [ "$k" -lt "$STEPS" ] &&
     [ -d "run-$sig/step-$(printf %08d "$k")" ] && grep -q "interrupted: stopping after this step" "run-$sig.log"; then
    ok "SIG$sig at step $k of $STEPS: exit 130, checkpoint step-$k written"
  else
    bad "SIG$sig: exit $rc, stopped at '${k:-?}'"
    tail -5 "run-$sig.log"
  fi
  "$MAMC" train "$here/tiny.mam" --config "run-$sig.yaml" --resume "$tmp/run-$sig" --progress none > "resume-$sig.log" 2>&1 \
    || { bad "SIG$sig: the resumed run failed"; tail -5 "resume-$sig.log"; }
  if "$CMP" ref "run-$sig" 0 > "cmp-$sig.log" 2>&1; then
    ok "SIG$sig: resumed to step $STEPS, parameters bit-identical to the uninterrupted run"
  else
    bad "SIG$sig: the resumed run differs from the uninterrupted one"
    cat "cmp-$sig.log"
  fi
done

# the step on the device (train.device: cuda, in host emulation where the build has CUDA):
# the flag travels the device path's step end too
config dref.yaml "$tmp/dref"
if MAMC_CUDA_EMU=1 "$MAMC" train "$here/tiny.mam" --config dref.yaml --device cuda --progress none > dref.log 2>&1; then
  config drun.yaml "$tmp/drun"
  export MAMC_CUDA_EMU=1
  interrupt drun TERM "$MAMC" train "$here/tiny.mam" --config drun.yaml --device cuda --progress lines
  k=$(stopped_at drun.log)
  "$MAMC" train "$here/tiny.mam" --config drun.yaml --device cuda --resume "$tmp/drun" --progress none > dresume.log 2>&1 \
    || { bad "device: the resumed run failed"; tail -5 dresume.log; }
  unset MAMC_CUDA_EMU
  if [ "$rc" -eq 130 ] && [ -n "$k" ] && [ "$k" -lt "$STEPS" ] && "$CMP" dref drun 0 > dcmp.log 2>&1; then
    ok "device (emulated): SIGTERM at step $k, exit 130, resumed bit-identical to the uninterrupted run"
  else
    bad "device (emulated): exit $rc, stopped at '${k:-?}'"
    tail -3 drun.log dcmp.log
  fi
else
  echo "SKIP: no CUDA backend in this build (the device part): $(tail -1 dref.log)"
fi

if ! command -v mpirun > /dev/null; then
  echo "SKIP: no mpirun (the 2-process part)"
  exit $fail
fi
MPIRUN="mpirun --allow-run-as-root --oversubscribe -np 2"
config ref2.yaml "$tmp/ref2"
$MPIRUN "$MAMC" train "$here/tiny.mam" --config ref2.yaml --progress none > ref2.log 2>&1 || { cat ref2.log; exit 1; }
config run2.yaml "$tmp/run2"
pick_target() { # one rank: the second mamc process mpirun started
  target=$(ps -o pid= --ppid "$pid" | tail -1 | tr -d ' ')
  echo "SIGTERM to rank process $target of: $(ps -o pid= --ppid "$pid" | tr '\n' ' ')"
}
interrupt run2 TERM $MPIRUN "$MAMC" train "$here/tiny.mam" --config run2.yaml --progress lines
pick_target() { :; }
k=$(stopped_at run2.log)
if [ "$rc" -ne 0 ] && [ -n "$k" ] && [ "$k" -ge 20 ] && [ "$k" -lt "$STEPS" ] && [ -d "run2/step-$(printf %08d "$k")" ] &&
   [ "$(cat run2/latest)" = "step-$(printf %08d "$k")" ]; then
  ok "2 processes, SIGTERM to one rank: both stopped after step $k, its checkpoint written (mpirun exit $rc)"
else
  bad "2 processes: exit $rc, stopped at '${k:-?}', latest $(cat run2/latest 2>/dev/null)"
  tail -8 run2.log
fi
# SIGUSR1 to mpirun itself, which forwards it to every rank (SIGINT or SIGTERM there would
# end the job): both ranks stop after the same step with its checkpoint
config run3.yaml "$tmp/run3"
interrupt run3 USR1 $MPIRUN "$MAMC" train "$here/tiny.mam" --config run3.yaml --progress lines
k3=$(stopped_at run3.log)
if [ "$rc" -ne 0 ] && [ -n "$k3" ] && [ "$k3" -ge 20 ] && [ "$k3" -lt "$STEPS" ] &&
   [ "$(cat run3/latest 2>/dev/null)" = "step-$(printf %08d "$k3")" ] && [ -d "run3/step-$(printf %08d "$k3")" ]; then
  ok "2 processes, SIGUSR1 to mpirun: both stopped after step $k3, its checkpoint written (mpirun exit $rc)"
else
  bad "2 processes, SIGUSR1 to mpirun: exit $rc, stopped at '${k3:-?}', latest $(cat run3/latest 2>/dev/null)"
  tail -8 run3.log
fi
$MPIRUN "$MAMC" train "$here/tiny.mam" --config run2.yaml --resume "$tmp/run2" --progress none > resume2.log 2>&1 \
  || { bad "2 processes: the resumed run failed"; tail -5 resume2.log; }
if "$CMP" ref2 run2 0 > cmp2.log 2>&1; then
  ok "2 processes: resumed to step $STEPS, parameters bit-identical to the uninterrupted 2-process run"
else
  bad "2 processes: the resumed run differs from the uninterrupted one"
  cat cmp2.log
fi
exit $fail
