#!/bin/sh
# resume_test.sh MAMC CKPT_COMPARE — DEPT rounds resume bit-identically (CPU): a run stopped at
# step N and resumed to step M gives the same bits, in every module file and every holder's
# replica (<module>.rank-R), as the uninterrupted run — the outer optimizer's anchor and
# Nesterov momentum, the round's token counts and TRIM's row counts, and each holder's own
# replica and AdamW moments between rounds all come back (runtime/trainer_ckpt.c):
#   GLOB, outer Nesterov (lr 0.7, momentum 0.9), rounds every 4, 2 processes: stopped at 6
#        (mid-round) and at 8 (a round boundary), resumed to 12;
#   TRIM, plain averaging, 2 processes: stopped at 5, resumed to 12;
#   one process, outer Nesterov on its single holder: stopped at 6, resumed to 12;
#   GLOB with dept.sources_per_round 1 of 2 (each round's source drawn again): stopped at 6.
set -u
MAMC=$1
CMP=$2
. "$(dirname "$0")/common.sh"
train() { # NP YAML [options]
  np=$1 y=$2
  shift 2
  if [ "$np" = 1 ]; then set -- "$MAMC" train "$LM" --config "$y" --progress none "$@"
  else set -- mpirun --allow-run-as-root --oversubscribe -np "$np" "$MAMC" train "$LM" --config "$y" --progress none "$@"; fi
  "$@" > "$y.log" 2>&1 || { cat "$y.log"; return 1; }
}
case_() { # NAME NP STOP VARIANT [gen.py keys]: full 12 steps vs STOP + resume to 12
  name=$1 np=$2 stop=$3 v=$4
  shift 4
  python3 "$here/gen.py" "$name-full.yaml" "$v" steps=12 ckpt="$tmp/$name-full" "$@"
  python3 "$here/gen.py" "$name-part.yaml" "$v" steps=12 ckpt="$tmp/$name-part" "$@"
  if train "$np" "$name-full.yaml" && train "$np" "$name-part.yaml" --steps "$stop" &&
     train "$np" "$name-part.yaml" --resume "$tmp/$name-part" && "$CMP" "$tmp/$name-full" "$tmp/$name-part" 0 > cmp.txt; then
    echo "OK: $name: stopped at $stop, resumed to 12 = 12 uninterrupted ($(cat cmp.txt))"
  else
    cat cmp.txt 2>/dev/null
    echo "NOT OK: $name: stopped at $stop and resumed differs from the uninterrupted run"
    fail=1
  fi
}
case_ glob-nesterov-mid 2 6 glob lr=0.7 momentum=0.9
case_ glob-nesterov-round 2 8 glob lr=0.7 momentum=0.9
case_ trim-mid 2 5 trim
case_ one-nesterov-mid 1 6 glob ranks=0,0 lr=0.7 momentum=0.9
case_ glob-sources-mid 2 6 glob spr=1
# the state is in the files: the mid-round checkpoint has a non-zero momentum and an anchor
# that differs from the parameters (else the test above would prove nothing)
python3 "$here/gen.py" probe.yaml glob steps=6 lr=0.7 momentum=0.9 ckpt="$tmp/probe"
train 2 probe.yaml && python3 - "$here" "$tmp/probe" <<'PY' && echo "OK: the mid-round checkpoint holds the anchor, the momentum and each holder's replica" || { echo "NOT OK: outer state in the checkpoint"; fail=1; }
import os, sys; sys.path.insert(0, sys.argv[1]); import st
d = sys.argv[2] + "/step-00000006"
body, rep = st.read(d + "/body.safetensors"), st.read(d + "/body.rank-1.safetensors")
w = [k for k in body if not k.startswith("outer.") and not k.endswith((".adam_m", ".adam_v"))]
moved = any(body[k][2] != body["outer.anchor." + k][2] for k in w)
mom = any(any(body["outer.momentum." + k][2]) for k in w)
own = any(body[k][2] != rep[k][2] for k in w)
print(f"  {len(w)} body tensors: parameters != anchor: {moved}; momentum non-zero: {mom}; rank 1's replica differs: {own}")
sys.exit(0 if moved and mom and own else 1)
PY
exit $fail
