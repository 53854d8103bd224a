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
#      precision: bf16 — the CPU ignores it (bit-identical to its fp32 run); on the device the
#      products take bf16 operands and activations are stored as bf16 (dexec_dtype.c): losses
#      within 1e-2 of the CPU's, not equal to the f32 device run's, the device line says bf16
#      (precision and activations; the f32 run's: fp32 and no bf16 bytes);
#   2. resuming a device run from its step-8 checkpoint ends bit-identical to the straight run
#      (parameters and moments down at the save, up again at the load);
#   3. examples/lm.mam with DEPT outer rounds every 4 steps (staged: the rounds run on the host),
#      10 steps: losses within 1e-4, parameters within 1e-3 (Adam on near-zero gradients);
#   4. without MAMC_CUDA_EMU, --device cuda on a machine without a GPU stops with "no CUDA device";
#      cuda:1 where (emulated) there is one GPU is refused, and opens GPU 1 where there are two;
#   5. CUDA graphs (runtime/cuda/dtrain_graph.c; the emulation records a capture and runs the
#      record at each launch): graphs.mam (every node on the device) on a generated corpus of a
#      few sentence lengths, 2 tasks, validation, 24 steps: graphs on, graphs capped at 1 per
#      task (evictions), and MAMC_CUDA_GRAPHS=0 end bit-identical (losses, norms, parameters);
#      the device_stats line counts replays, captures and eager runs; with precision: bf16 (bf16
#      activations) graphs on and off bit-identical too; every capture failing
#      (MAMC_CUDA_EMU_CAPTURE_FAIL) falls back to eager runs, still equal; on the sample (3 tasks,
#      30 steps) graphs invalidated by moved staging buffers are captured again, still equal.
# --mpi: instead, on 2 processes (mpirun -np 2):
#   tiny.mam, CPU against the step on the device (path (b): device sums staged through host
#   buffers for the host's bucket exchange, world norm, AdamW on the device) and against the
#   staged step (MAMC_CUDA_STAGED=1: path (a)): rank 0's losses and norms within 1e-5 (path (b)
#   against the CPU and against path (a); path (a) against the CPU 1e-4), parameters within 1e-4;
#   the device line says which path, and path (b)'s device_stats show one parameter upload (the
#   start), none per step; the same gradient payload per step as the CPU's (the same exchange);
#   graphs.mam, 3 tasks on 2 ranks (a shared decoder), path (b) with CUDA graphs on and off:
#   bit-identical, graphs replayed, 1e-5 of the CPU;
#   one GPU per local rank: with 2 (emulated) GPUs the ranks open 0 and 1, with one both open 0;
#   collectives on device buffers (dtrain_nccl.c, NCCL emulated: MPI on the emulated device
#   memory, where libnccl.so.2 loads; else SKIP): path (b) against MAMC_NCCL=0 (through host
#   buffers) bit-identical, the device line names the path; on 4 processes (tasks on 2 ranks
#   each: groups of different holders, trainers a subset, broadcasts) the same, 1e-5 of the
#   CPU, and a communicator failing on one rank (MAMC_NCCL_EMU_FAIL, at start or mid-run) is
#   agreed by every rank: MPI-staged, the reason names the rank, still bit-identical.
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
lengths() { # a generated corpus of a few sentence lengths (CUDA graphs: some shapes repeat)
  awk 'BEGIN { srand(7); for (i = 0; i < 120; i++) { r = rand(); n = r < 0.45 ? 5 : r < 0.9 ? 11 : 2 + int(rand() * 14)
    s = ""; t = ""; for (j = 0; j < n; j++) { s = s sprintf("%c", 97 + int(rand() * 26)); t = t sprintf("%c", 97 + int(rand() * 26)) }
    print s "\t" t } }' > lengths.tsv
}
nccl_kind() { # nccl_kind X.jsonl: the device line's collectives (dtrain_nccl.c)
  python3 -c 'import json, sys
print(next((x.get("collectives", "") for x in map(json.loads, open(sys.argv[1])) if x.get("type") == "device"), ""))' "$1"
}
nccl_because() {
  python3 -c 'import json, sys
print(next((x.get("collectives_because", "") for x in map(json.loads, open(sys.argv[1])) if x.get("type") == "device"), ""))' "$1"
}
payload() { # payload A.jsonl B.jsonl: the train lines' comm_bytes are equal (the same exchange)
  python3 -c 'import json, sys
p = [[x.get("comm_bytes") for x in map(json.loads, open(f)) if x.get("type") == "train"] for f in sys.argv[1:]]
sys.exit(0 if p[0] == p[1] and p[0] and p[0][-1] else 1)' "$1" "$2" && echo "OK: $1 and $2: the same payload bytes per step" ||
    { echo "NOT OK: $1 and $2: different gradient payloads"; fail=1; }
}

if [ "$MODE" = --mpi ]; then
  config 2
  MPIRUN="mpirun --allow-run-as-root --oversubscribe -np 2"
  T="$MPIRUN $MAMC train $root/tests/dist/tiny.mam --config tiny2.yaml"
  if run cpu timeout 120 $T; then
    if run dev timeout 120 env MAMC_CUDA_EMU=1 $T --device cuda; then
      check device dev.jsonl step=device train_runs=15 device_steps=15 staged_steps=0 uploads=1 "ordinals=[0, 0]"
      check metrics cpu.jsonl dev.jsonl 1e-5
      check ckpt cpu dev 1e-4
      payload cpu.jsonl dev.jsonl
      # collectives on device buffers (dtrain_nccl.c): NCCL emulated where libnccl.so.2 loads,
      # bit-identical to the exchange through host buffers (MAMC_NCCL=0)
      NCCL=$(nccl_kind dev.jsonl)
      if [ "$NCCL" = nccl-emulated ]; then
        if run devoff timeout 120 env MAMC_CUDA_EMU=1 MAMC_NCCL=0 $T --device cuda; then
          check device devoff.jsonl step=device collectives=mpi-staged collectives_because=MAMC_NCCL=0
          check metrics devoff.jsonl dev.jsonl 0
          check ckpt devoff dev 0 --all
          payload devoff.jsonl dev.jsonl
        fi
      else
        echo "SKIP: collectives on device buffers (NCCL emulation): $(nccl_because dev.jsonl)"
        check device dev.jsonl collectives=mpi-staged
      fi
    fi
    if run staged timeout 120 env MAMC_CUDA_EMU=1 MAMC_CUDA_STAGED=1 $T --device cuda; then
      check device staged.jsonl step=staged train_runs=15 staged_steps=15 device_steps=0 graphs=off 'uploads>14' \
        collectives=mpi-staged
      check metrics cpu.jsonl staged.jsonl 1e-4
      check ckpt cpu staged 1e-4
      [ -f dev.jsonl ] && check metrics staged.jsonl dev.jsonl 1e-5 && check ckpt staged dev 1e-4
    fi
  fi
  if [ -z "${MAMC_DTRAIN_NO_JIT:-}${MAMC_NO_JIT:-}" ]; then # (graphs need the CPU JIT: see part 5)
    lengths
    printf '%s\n' "index: {lang: [en, fr, de]}" "vocab: {en: byte, fr: byte, de: byte}" "processes: 2" "tasks:" \
      '  - {task: "translate(en, fr)", path: lengths.tsv, valid: lengths.tsv, ranks: [0]}' \
      '  - {task: "translate(fr, en)", path: lengths.tsv, columns: [1, 0], ranks: [1]}' \
      '  - {task: "translate(en, de)", path: lengths.tsv, ranks: [1]}' "sampling: {temperature: 1.0, seed: 5}" \
      "train: {steps: 24, batch_tokens: 96, max_len: 24, lr: 3e-3, clip: 1.0, log_every: 1," \
      "        schedule: {kind: inverse_sqrt, warmup: 4}, valid_every: 8, valid_batches: 2}" \
      "checkpoint: {dir: ckpt, every: 0, keep: 1}" > graphs2.yaml
    G="$MPIRUN $MAMC train $here/graphs.mam --config graphs2.yaml"
    if run g2cpu timeout 120 $G && run g2on timeout 120 env MAMC_CUDA_EMU=1 $G --device cuda &&
       run g2off timeout 120 env MAMC_CUDA_EMU=1 MAMC_CUDA_GRAPHS=0 $G --device cuda; then
      check device g2on.jsonl step=device graphs=on uploads=1 device_steps=24 graph_failed=0 'graph_replays>0' \
        'step_end_replays>0'
      check device g2off.jsonl step=device graphs=off uploads=1 graph_replays=0
      check metrics g2off.jsonl g2on.jsonl 0
      check ckpt g2off g2on 0 --all
      check metrics g2cpu.jsonl g2on.jsonl 1e-5
      check ckpt g2cpu g2on 1e-4
      payload g2cpu.jsonl g2on.jsonl
    fi
  fi
  # 4 processes, each task on 2 of them (data parallel), so that groups have different holders
  # and a step's trainers are some of a group's holders (all-reduce among them, broadcast to the
  # others): emulated NCCL against MPI-staged bit for bit, 1e-5 of the CPU; a communicator
  # failing on one rank, at the start or at a set first needed mid-run, is agreed by every
  # rank (the device line, or a device_warning line, names the rank), still bit-identical.
  if [ "${NCCL:-}" = nccl-emulated ]; then
    d=$sample
    printf '%s\n' "index: {lang: [en, de, fr, es], family: {germanic: [en, de], romance: [fr, es]}}" \
      "vocab: {en: byte, de: byte, fr: byte, es: byte}" "processes: 4" "tasks:" \
      "  - {task: \"translate(en, de)\", path: $d/en-de/train.tsv, valid: $d/en-de/valid.tsv, ranks: [0, 2]}" \
      "  - {task: \"translate(de, en)\", path: $d/en-de/train.tsv, columns: [1, 0], ranks: [1, 3]}" \
      "  - {task: \"translate(en, fr)\", path: $d/en-fr/train.tsv, ranks: [0, 3]}" \
      "  - {task: \"translate(fr, de)\", path: $d/de-fr/train.tsv, columns: [1, 0], ranks: [1, 2]}" \
      "sampling: {temperature: 1.0, seed: 3}" \
      "train: {steps: 12, batch_tokens: 256, max_len: 24, lr: 0.01, clip: 1.0, log_every: 1," \
      "        schedule: {kind: inverse_sqrt, warmup: 4}, valid_every: 6, valid_batches: 2}" \
      "checkpoint: {dir: ckpt, every: 0, keep: 1}" > tiny4.yaml
    T4="mpirun --allow-run-as-root --oversubscribe -np 4 $MAMC train $root/tests/dist/tiny.mam --config tiny4.yaml"
    if run cpu4 timeout 120 $T4 && run n4 timeout 120 env MAMC_CUDA_EMU=1 $T4 --device cuda &&
       run o4 timeout 120 env MAMC_CUDA_EMU=1 MAMC_NCCL=0 $T4 --device cuda; then
      check device n4.jsonl step=device collectives=nccl-emulated 'collective_sets>3' uploads=1
      check device o4.jsonl step=device collectives=mpi-staged
      check metrics o4.jsonl n4.jsonl 0
      check ckpt o4 n4 0 --all
      payload o4.jsonl n4.jsonl
      check metrics cpu4.jsonl n4.jsonl 1e-5
      check ckpt cpu4 n4 1e-4
      if run f4 timeout 120 env MAMC_CUDA_EMU=1 MAMC_NCCL_EMU_FAIL=2 $T4 --device cuda; then
        check device f4.jsonl collectives=mpi-staged
        nccl_because f4.jsonl | grep -q '^rank 2: ncclCommInitRank failed: injected' &&
          echo "OK: f4.jsonl: the failure agreed: $(nccl_because f4.jsonl)" ||
          { echo "NOT OK: f4.jsonl: collectives_because is '$(nccl_because f4.jsonl)'"; fail=1; }
        check metrics o4.jsonl f4.jsonl 0
        check ckpt o4 f4 0 --all
      fi
      if run m4 timeout 120 env MAMC_CUDA_EMU=1 MAMC_NCCL_EMU_FAIL=1@2 $T4 --device cuda; then
        check device m4.jsonl collectives=nccl-emulated
        grep '"type": "device_warning"' m4.jsonl | grep -q 'rank 1: ncclCommInitRank failed: injected' &&
          echo "OK: m4.jsonl: a communicator failing mid-run: one device_warning line, MPI from then on" ||
          { echo "NOT OK: m4.jsonl: no device_warning line naming rank 1"; fail=1; }
        check metrics o4.jsonl m4.jsonl 0
        check ckpt o4 m4 0 --all
      fi
    fi
  fi
  run two timeout 60 env MAMC_CUDA_EMU=1 MAMC_CUDA_EMU_DEVICES=2 $MPIRUN "$MAMC" train "$root/tests/dist/tiny.mam" \
    --config tiny2.yaml --device cuda --steps 2 && check device two.jsonl "ordinals=[0, 1]" ordinal=0 local_rank=0
  exit $fail
fi

config 1
T="$MAMC train $root/tests/dist/tiny.mam --config tiny1.yaml"
if run cpu $T; then
  if run dev env MAMC_CUDA_EMU=1 $T --device cuda; then
    check device dev.jsonl step=device emulated=1 train_runs=15 device_steps=15 staged_steps=0 eval_runs=8 \
      activations=fp32 bf16_values=0 activation_bytes_bf16=0
    check metrics cpu.jsonl dev.jsonl 1e-4
    check ckpt cpu dev 1e-4
  fi
  if run staged env MAMC_CUDA_EMU=1 MAMC_CUDA_STAGED=1 $T --device cuda; then
    check device staged.jsonl step=staged train_runs=15 device_steps=0 staged_steps=15 eval_runs=8
    check metrics cpu.jsonl staged.jsonl 1e-4
    check ckpt cpu staged 1e-4
  fi
  # precision: bf16 (the CPU ignores it; the device's products take bf16 operands)
  sed 's/^train: {/train: {precision: bf16, /' tiny1.yaml > tiny1b.yaml
  B="$MAMC train $root/tests/dist/tiny.mam --config tiny1b.yaml"
  if run cpubf $B; then
    check metrics cpu.jsonl cpubf.jsonl 0
    check ckpt cpu cpubf 0 --all
  fi
  if run devbf env MAMC_CUDA_EMU=1 $B --device cuda; then
    check device devbf.jsonl step=device precision=bf16 train_runs=15 activations=bf16 'bf16_values>0' \
      'activation_bytes_bf16>0'
    check metrics cpu.jsonl devbf.jsonl 1e-2
    [ -f dev.jsonl ] && check differ dev.jsonl devbf.jsonl 1e-5
    # the weights' bf16 copies (made at upload, kept by k_adamw) against products rounding the
    # f32 weights themselves: the same numbers, bit for bit; and the same on the staged path
    # (host optimizer, copies remade at every upload)
    if run devbfw0 env MAMC_CUDA_EMU=1 MAMC_CUDA_BF16_WEIGHTS=0 $B --device cuda; then
      check metrics devbf.jsonl devbfw0.jsonl 0
      check ckpt devbf devbfw0 0 --all
    fi
    if run stbf env MAMC_CUDA_EMU=1 MAMC_CUDA_STAGED=1 $B --device cuda &&
       run stbfw0 env MAMC_CUDA_EMU=1 MAMC_CUDA_STAGED=1 MAMC_CUDA_BF16_WEIGHTS=0 $B --device cuda; then
      check metrics stbf.jsonl stbfw0.jsonl 0
      check ckpt stbf stbfw0 0 --all
    fi
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

# 4. which GPU: cuda:N is checked against the GPUs there are (2 emulated: cuda:1 opens the second)
if env MAMC_CUDA_EMU=1 $T --device cuda:1 --steps 1 --progress none > one.log 2>&1; then
  echo "NOT OK: cuda:1 with one (emulated) GPU was accepted"
  fail=1
elif grep -q "CUDA device 1 asked for (cuda:N), but there are 1" one.log; then
  echo "OK: cuda:1 with one GPU: $(head -1 one.log)"
else
  cat one.log
  echo "NOT OK: cuda:1 with one GPU did not say which devices there are"
  fail=1
fi
run cuda1 env MAMC_CUDA_EMU=1 MAMC_CUDA_EMU_DEVICES=2 $T --device cuda:1 --steps 1 &&
  check device cuda1.jsonl ordinal=1 "ordinals=[1]"

# no emulation: a machine without a GPU says so (one with a GPU trains on it)
if $T --device cuda --steps 1 --progress none --metrics gpu.jsonl > gpu.log 2>&1; then
  check device gpu.jsonl emulated=0
elif grep -q "no CUDA device" gpu.log; then
  echo "OK: without a GPU: $(head -1 gpu.log)"
else
  cat gpu.log
  echo "NOT OK: --device cuda without a GPU did not say 'no CUDA device'"
  fail=1
fi
# 5. CUDA graphs: on, capped at one per task, off — bit-identical. Without the CPU JIT (built
# without LLVM, or MAMC_NO_JIT) the emulation runs generated kernels on the host: no capture.
if [ -n "${MAMC_DTRAIN_NO_JIT:-}${MAMC_NO_JIT:-}" ]; then
  echo "SKIP: part 5 (CUDA graphs): no CPU JIT for the emulation's generated kernels"
  exit $fail
fi
lengths
graphs_yaml() { # graphs_yaml TASKS STEPS BATCH_TOKENS MAX_LEN (TASKS: the tasks: block's lines)
  printf '%s\n' "index: {lang: [en, fr, de]}" "vocab: {en: byte, fr: byte, de: byte}" "tasks:" "$1" \
    "sampling: {temperature: 1.0, seed: 5}" \
    "train: {steps: $2, batch_tokens: $3, max_len: $4, lr: 3e-3, clip: 1.0, log_every: 1," \
    "        schedule: {kind: inverse_sqrt, warmup: 4}, valid_every: 8, valid_batches: 2}" \
    "checkpoint: {dir: ckpt, every: 0, keep: 1}"
}
graphs_yaml '  - {task: "translate(en, fr)", path: lengths.tsv, valid: lengths.tsv}
  - {task: "translate(fr, en)", path: lengths.tsv, columns: [1, 0]}' 24 96 24 > graphs.yaml
G="$MAMC train $here/graphs.mam --config graphs.yaml --device cuda"
if run gon env MAMC_CUDA_EMU=1 $G && run gcap env MAMC_CUDA_EMU=1 MAMC_CUDA_GRAPHS=1 $G &&
   run goff env MAMC_CUDA_EMU=1 MAMC_CUDA_GRAPHS=0 $G; then
  check device gon.jsonl step=device graphs=on host_nodes=0 train_runs=24 graph_failed=0 \
    'graph_replays>0' 'graph_captures>0' 'eager_runs>0' 'step_end_replays>0'
  check device gcap.jsonl graphs=on graph_cap=1 graph_failed=0 'graph_evicted>0' 'graph_replays>0'
  check device goff.jsonl graphs=off graph_replays=0 graph_captures=0 eager_runs=24
  check metrics goff.jsonl gon.jsonl 0
  check metrics goff.jsonl gcap.jsonl 0
  check ckpt goff gon 0 --all
  check ckpt goff gcap 0 --all
fi
# bf16 activations (precision: bf16) replayed from CUDA graphs: on and off bit-identical, and not
# the f32 run's
sed 's/^train: {/train: {precision: bf16, /' graphs.yaml > graphsb.yaml
GB="$MAMC train $here/graphs.mam --config graphsb.yaml --device cuda"
if run gbon env MAMC_CUDA_EMU=1 $GB && run gboff env MAMC_CUDA_EMU=1 MAMC_CUDA_GRAPHS=0 $GB; then
  check device gbon.jsonl graphs=on activations=bf16 graph_failed=0 'graph_replays>0' 'activation_bytes_bf16>0'
  check metrics gboff.jsonl gbon.jsonl 0
  check ckpt gboff gbon 0 --all
  [ -f gon.jsonl ] && check differ gon.jsonl gbon.jsonl 1e-6
fi
# every capture fails (injected at its end, after the gradient callbacks' host bookkeeping): one
# warning line, the host's token sums rolled back, eager runs — still bit-identical
if run gfail env MAMC_CUDA_EMU=1 MAMC_CUDA_EMU_CAPTURE_FAIL=1000000 $G; then
  check device gfail.jsonl graphs=on graph_replays=0 graph_captures=0 step_end_replays=0 'graph_failed>0'
  [ "$(grep -c '"type": "device_warning"' gfail.jsonl)" = 1 ] || { echo "NOT OK: gfail.jsonl: not one device_warning line"; fail=1; }
  check metrics goff.jsonl gfail.jsonl 0
  check ckpt goff gfail 0 --all
fi
graphs_yaml "  - {task: \"translate(en, fr)\", path: $sample/en-fr/train.tsv, valid: $sample/en-fr/valid.tsv}
  - {task: \"translate(fr, en)\", path: $sample/en-fr/train.tsv, columns: [1, 0]}
  - {task: \"translate(de, fr)\", path: $sample/de-fr/train.tsv}" 30 400 28 > graphs3.yaml
G="$MAMC train $here/graphs.mam --config graphs3.yaml --device cuda"
if run g3on env MAMC_CUDA_EMU=1 $G && run g3off env MAMC_CUDA_EMU=1 MAMC_CUDA_GRAPHS=0 $G; then
  check device g3on.jsonl graphs=on train_runs=30 graph_failed=0 'graph_invalidated>0' 'graph_replays>0'
  check metrics g3off.jsonl g3on.jsonl 0
  check ckpt g3off g3on 0 --all
fi
exit $fail
