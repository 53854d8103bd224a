#!/bin/sh
# rerun_test.sh MAMC — a fresh `mamc train` into a checkpoint folder that holds an earlier run
# (tools/cmd_train.c, set_aside) moves that run to DIR.1, DIR.2, ... instead of overwriting it:
#   1. 30 steps, a checkpoint every 10 (keep 2): ck has step-20, step-30 and 30 metrics records;
#   2. the same command again for 10 steps: ck moved to ck.1, byte for byte what it was, said so;
#      ck holds the new run alone (step-10, 10 records);
#   3. --init-from ck (the folder itself): ck goes to ck.2 and the run initialises from there;
#   4. --resume ck continues in place (nothing moved); a folder with other files only (no
#      checkpoint, no metrics) is not moved.
. "$(dirname "$0")/../testlib.sh"
MAMC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
data=$(cd "$here/../../data/sample/en-de" && pwd)
cd "$tmp" || exit 1
sed -e "s|\.\./\.\./data/sample/en-de|$data|" \
    -e "s|^train: .*|train: {steps: 30, batch_tokens: 256, max_len: 32, lr: 1e-3, valid_every: 0, log_every: 1}|" \
    -e "s|^checkpoint: .*|checkpoint: {dir: ck, every: 10, keep: 2}|" "$here/tiny.yaml" > run.yaml
train() { "$MAMC" train "$here/tiny.mam" --config run.yaml --progress none "$@"; }
records() { grep -c '"type": "train"' "$1"; }
sums() { (cd "$1" && find . -type f | sort | xargs sha256sum); }

train > 1.log 2>&1 || { cat 1.log; exit 1; }
sums ck > before.sum
[ "$(cat ck/latest)" = step-00000030 ] && [ -d ck/step-00000020 ] && [ "$(records ck/metrics.jsonl)" -eq 30 ] \
  && ok "first run: step-20, step-30, 30 records" || bad "first run: $(ls ck)"

train --steps 10 > 2.log 2>&1 || { cat 2.log; exit 1; }
grep -q "mamc train: ck held an earlier run (latest: step-00000030): moved to ck.1 (to continue that run instead: --resume ck.1)" 2.log \
  && ok "second run: says it moved ck to ck.1" || { bad "second run's message"; head -3 2.log; }
sums ck.1 > after.sum
cmp -s before.sum after.sum && ok "ck.1 is the first run, byte for byte" || bad "ck.1 differs from the first run"
[ "$(ls ck | tr '\n' ' ')" = "latest metrics.jsonl step-00000010 " ] && [ "$(records ck/metrics.jsonl)" -eq 10 ] \
  && ok "ck holds the second run alone" || bad "ck after the second run: $(ls ck | tr '\n' ' '), $(records ck/metrics.jsonl) records"

train --steps 5 --init-from ck > 3.log 2>&1 || { cat 3.log; exit 1; }
grep -q "moved to ck.2" 3.log && grep -q "initialised .* parameters from ck.2" 3.log && [ -d ck.2/step-00000010 ] \
  && ok "--init-from ck: moved to ck.2, initialised from there" || { bad "--init-from ck"; head -4 3.log; }

train --steps 8 --resume ck > 4.log 2>&1 || { cat 4.log; exit 1; }
! grep -q "moved to" 4.log && [ ! -e ck.3 ] && [ "$(cat ck/latest)" = step-00000008 ] \
  && ok "--resume ck: continued in place, nothing moved" || { bad "--resume ck"; head -3 4.log; ls; }

mkdir other && echo notes > other/README
sed -i "s|dir: ck,|dir: other,|" run.yaml
train --steps 2 > 5.log 2>&1 || { cat 5.log; exit 1; }
! grep -q "moved to" 5.log && [ -f other/README ] && [ ! -e other.1 ] \
  && ok "a folder without a run is used as it is" || { bad "a folder without a run"; head -3 5.log; }
exit $fail
