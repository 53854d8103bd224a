#!/bin/sh
# cli_passes.sh MAMC — the pass pipeline from the command line: `mamc passes` lists the table;
# `mamc ir --after PASS` / `--passes LETTERS` print the program after the passes, which parses
# back to the same text (fusion groups included); after memplan the plans follow as comments;
# an unknown pass, or autodiff on a graph without a loss, exits 2 with a message.
MAMC=$1
. "$(dirname "$0")/../testlib.sh"

"$MAMC" passes > "$tmp/list" && grep -q "^F  fusion" "$tmp/list" && grep -q "^A  autodiff" "$tmp/list" \
  && ok "mamc passes" || bad "mamc passes"
"$MAMC" passes --help | grep -q "usage: mamc passes" && ok "mamc passes --help" || bad "mamc passes --help"

for e in lm shared; do
  m=examples/$e.mam y=examples/$e.yaml
  "$MAMC" ir "$m" --config "$y" --after F -o "$tmp/$e.F.mir" && grep -q " group [0-9]" "$tmp/$e.F.mir" \
    && grep -q "grad\." "$tmp/$e.F.mir" && ok "ir --after F $e" || bad "ir --after F $e"
  "$MAMC" ir --ir "$tmp/$e.F.mir" > "$tmp/$e.F2.mir" && cmp -s "$tmp/$e.F.mir" "$tmp/$e.F2.mir" \
    && ok "fused $e round trip" || bad "fused $e round trip"
  MAMC_VERIFY=1 "$MAMC" ir "$m" --config "$y" --after memplan -o "$tmp/$e.M.mir" \
    && grep -q "^#   arena: " "$tmp/$e.M.mir" && ok "ir --after memplan $e" || bad "ir --after memplan $e"
done
# the pipeline verifies after every pass on models whose moves fusion clones and fuses (DiJiang's
# rotary embedding, a packed projection's slices)
for m in examples/modular bench/gpu_attn bench/gpu_tiny; do
  MAMC_VERIFY=1 "$MAMC" ir "$m.mam" --config "$m.yaml" --after memplan -o "$tmp/v.mir" \
    && grep -q " group [0-9]" "$tmp/v.mir" && ok "verified after every pass: $m" || bad "verify $m"
done
# no autodiff: --passes runs just the given ones; the result can be optimised again unchanged
"$MAMC" ir --ir tests/passes/fusion_chain.mir --passes SF > "$tmp/c1.mir" \
  && "$MAMC" ir --ir "$tmp/c1.mir" --passes SF > "$tmp/c2.mir" && cmp -s "$tmp/c1.mir" "$tmp/c2.mir" \
  && ok "--passes SF is idempotent" || bad "--passes SF"
"$MAMC" ir --ir tests/passes/fusion_chain.mir --after bogus > /dev/null 2> "$tmp/err"
[ $? -eq 2 ] && grep -q "unknown pass 'bogus'" "$tmp/err" && ok "unknown pass exits 2" || bad "unknown pass"
"$MAMC" ir --ir tests/passes/fusion_chain.mir --after fusion > /dev/null 2> "$tmp/err"
[ $? -eq 2 ] && grep -q "no output 'loss'" "$tmp/err" && ok "autodiff without loss exits 2" || bad "autodiff without loss"
exit $fail
