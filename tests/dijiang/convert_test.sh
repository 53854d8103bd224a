#!/bin/sh
# convert_test.sh MAMC — DiJiang conversion end to end on the committed sample (label dijiang):
# train examples/convert/softmax.mam a few steps, `mamc convert --attn dijiang` its checkpoint
# to examples/convert/dijiang.mam (kept: every shared parameter, bit for bit; new: the DiJiang
# ones), fine-tune with --init-from, and check the refusals (a model without DiJiang
# attention, an unknown --attn, a missing checkpoint).
. "$(dirname "$0")/../testlib.sh"
MAMC=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
cd "$tmp" || exit 1
Y=$SRC/tests/dijiang/convert-sample.yaml

"$MAMC" train "$SRC/examples/convert/softmax.mam" --config "$Y" --progress none > train.log 2>&1 \
  && ok "train softmax.mam" || { bad "train softmax.mam"; cat train.log; }
"$MAMC" convert --attn dijiang ckpt-dj-convert converted --model "$SRC/examples/convert/dijiang.mam" --config "$Y" \
  > convert.log 2>&1 && ok "mamc convert" || { bad "mamc convert"; cat convert.log; }
grep -q "kept 35 of 49 parameters" convert.log && grep -q "body.layer.1.self_attn.kernel.out_gate.weight" convert.log \
  && grep -q "kernel.proj : f32\[32, 32\] (frozen)" convert.log && ok "convert reports kept / new" \
  || { bad "convert report"; cat convert.log; }
test -f converted/step-00000000/body.safetensors && test -f converted/latest && ok "converted checkpoint written" \
  || bad "converted checkpoint"
# refusals
"$MAMC" convert --attn dijiang ckpt-dj-convert x --model "$SRC/examples/convert/softmax.mam" --config "$Y" > r1.log 2>&1
[ $? -eq 2 ] && grep -q "uses no DiJiang attention" r1.log && ok "refuses a model without DiJiang" || { bad "no-dijiang"; cat r1.log; }
"$MAMC" convert --attn performer ckpt-dj-convert x --model "$SRC/examples/convert/dijiang.mam" --config "$Y" > r2.log 2>&1
[ $? -eq 2 ] && grep -q "takes dijiang" r2.log && ok "refuses an unknown --attn" || { bad "--attn"; cat r2.log; }
"$MAMC" convert --attn dijiang nowhere x --model "$SRC/examples/convert/dijiang.mam" --config "$Y" > r3.log 2>&1
[ $? -eq 2 ] && grep -q "not a mamc checkpoint" r3.log && ok "refuses a missing checkpoint" || { bad "missing"; cat r3.log; }
"$MAMC" convert --help | grep -q "usage: mamc convert --attn dijiang" && ok "mamc convert --help" || bad "--help"


# fine-tuning last: it writes into the same checkpoint dir
"$MAMC" train "$SRC/examples/convert/dijiang.mam" --config "$Y" --init-from converted --steps 2 --progress none \
  > tune.log 2>&1 && grep -q "initialised 49 of 49 parameters" tune.log && grep -q "validation loss" tune.log \
  && ok "fine-tune from the converted checkpoint (every parameter from it)" || { bad "fine-tune"; cat tune.log; }

exit $fail
