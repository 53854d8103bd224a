#!/bin/sh
# dtrain_test.sh MAMC [--mpi] — train.device: cuda in the trainer (runtime/cuda/dtrain*.c), in the
# host emulation of the device (MAMC_CUDA_EMU=1: no GPU needed), against the CPU with the same
# seed (tolerances: dtrain_compare.py; the device's products and kernels round differently, so
# not bit-identical):
#   1. tests/dist/tiny.mam, 4 tasks on the sample, 15 steps, AdamW, clipping, validation every 5:
#      the step on the device (sums, norm, AdamW: path (b)) and staged through the host
#      (MAMC_CUDA_STAGED=1: path (a)) — per-step losses, gradient norms and validation losses
#      within 1e-4 relative, final parameters within 1e-4 normwise; the metrics' device lines
#      say the device ran every step (the check fails if the CPU ran them);
#   2. resuming a device run from its step-8 checkpoint ends bit-identical to the straight run
#      (parameters and moments down at the save, up again at the load);
#   3. examples/lm.mam with DEPT outer rounds every 4 steps (staged: the rounds run on the host),
#      10 steps: losses within 1e-4, parameters within 1e-3 (Adam on near-zero gradients);
#   4. without MAMC_CUDA_EMU, --device cuda on a machine without a GPU stops with "no CUDA device".
# --mpi: instead, tiny.mam on 2 processes (mpirun -np 2), CPU against device (staged: the bucket
# exchange on host buffers): rank 0's losses and the parameters within 1e-4.
set -u
MAMC=$1
MODE=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$here/../..
CMP="python3 $here/dtrain_compare.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fail=0
sample=$root/data/sample

config() { # config NPROC -> tinyNPROC.yaml
  np=$1
  {
    echo "index: {lang: [en, de, fr, es], family: {germanic: [en, de], romance: [fr, es]}}"
    echo "vocab: {en: byte, de: byte, fr: byte, es: byte}"
    [ "$np" -gt 1 ] && echo "processes: $np"
    echo "tasks:"
    i=0
    for t in "en de en-de 0" "de en en-de 1" "en fr en-fr 0" "fr de de-fr 1"; do
      set -- $t
      echo "  - task: translate($1, $2)"
      echo "    path: $sample/$3/train.tsv"
      [ "$4" = 1 ] && echo "    columns: [1, 0]"
      [ $i = 0 ] && echo "    valid: $sample/$3/valid.tsv"
      [ "$np" -gt 1 ] && echo "    ranks: [$((i % np))]"
      i=$((i + 1))
    done
    echo "sampling: {temperature: 1.0, seed: 3}"
    echo "train: {steps: 15, batch_tokens: 256, max_len: 24, lr: 0.01, clip: 1.0, log_every: 1,"
    echo "        schedule: {kind: inverse_sqrt, warmup: 4}, valid_every: 5, valid_batches: 2}"
    echo "checkpoint: {dir: ckpt, every: 0, keep: 1}"
  } > "tiny$np.yaml"
}

run() { # run NAME ARGS... (ckpt -> NAME/, metrics NAME.jsonl)
  name=$1
  shift
  rm -rf ckpt
  if "$@" --progress none --metrics "$name.jsonl" > "$name.log" 2>&1 && mv ckpt "$name"; then return 0; fi
  cat "$name.log"
  echo "NOT OK: run $name failed"
  fail=1
  return 1
}
check() { $CMP "$@" || fail=1; }

if [ "$MODE" = --mpi ]; then
  config 2
  MPIRUN="mpirun --allow-run-as-root --oversubscribe -np 2"
  run cpu timeout 120 $MPIRUN "$MAMC" train "$root/tests/dist/tiny.mam" --config tiny2.yaml &&
    run dev timeout 120 env MAMC_CUDA_EMU=1 $MPIRUN "$MAMC" train "$root/tests/dist/tiny.mam" --config tiny2.yaml \
      --device cuda && {
      check device dev.jsonl step=staged train_runs=15 staged_steps=15 device_steps=0
      check metrics cpu.jsonl dev.jsonl 1e-4
      check ckpt cpu dev 1e-4
    }
  exit $fail
fi

config 1
T="$MAMC train $root/tests/dist/tiny.mam --config tiny1.yaml"
if run cpu $T; then
  if run dev env MAMC_CUDA_EMU=1 $T --device cuda; then
    check device dev.jsonl step=device emulated=1 train_runs=15 device_steps=15 staged_steps=0 eval_runs=8
    check metrics cpu.jsonl dev.jsonl 1e-4
    check ckpt cpu dev 1e-4
  fi
  if run staged env MAMC_CUDA_EMU=1 MAMC_CUDA_STAGED=1 $T --device cuda; then
    check device staged.jsonl step=staged train_runs=15 device_steps=0 staged_steps=15 eval_runs=8
    check metrics cpu.jsonl staged.jsonl 1e-4
    check ckpt cpu staged 1e-4
  fi
  # 2. resume on the device: bit-identical to the straight device run
  if run first env MAMC_CUDA_EMU=1 $T --device cuda --steps 8 &&
     run resumed env MAMC_CUDA_EMU=1 $T --device cuda --resume first; then
    check device resumed.jsonl step=device train_runs=7 device_steps=7 uploads=2 downloads=1
    check ckpt dev resumed 0 --all
  fi
fi

# 3. DEPT outer rounds (staged)
cat > lm.yaml <<EOF
index: {source: [en, de, fr]}
vocab: {en: byte, de: byte, fr: byte}
tasks:
  - {task: lm(en), path: $sample/en-de/train.tsv, columns: [0]}
  - {task: lm(de), path: $sample/de-fr/train.tsv, columns: [0]}
  - {task: lm(fr), path: $sample/en-fr/train.tsv, columns: [1]}
sync: {"embed[*]": local, body: {outer: {every: 4, lr: 0.7, momentum: 0.9, nesterov: true}}}
dept: {variant: spec}
train: {steps: 10, batch_tokens: 512, max_len: 48, lr: 1e-3, log_every: 1}
checkpoint: {dir: ckpt, every: 0, keep: 1}
EOF
L="$MAMC train $root/examples/lm.mam --config lm.yaml"
if run lmcpu $L && run lmdev env MAMC_CUDA_EMU=1 $L --device cuda; then
  check device lmdev.jsonl step=staged train_runs=10 staged_steps=10
  check metrics lmcpu.jsonl lmdev.jsonl 1e-4
  check ckpt lmcpu lmdev 1e-3
fi

# 4. no emulation: a machine without a GPU says so (one with a GPU trains on it)
if $T --device cuda --steps 1 --progress none --metrics gpu.jsonl > gpu.log 2>&1; then
  check device gpu.jsonl emulated=0
elif grep -q "no CUDA device" gpu.log; then
  echo "OK: without a GPU: $(head -1 gpu.log)"
else
  cat gpu.log
  echo "NOT OK: --device cuda without a GPU did not say 'no CUDA device'"
  fail=1
fi
exit $fail
