#!/bin/sh
# cli_comm.sh MAMC — the distributed commands: `mamc place` prints a placement (every rank
# listed, the cost against the baselines), `mamc plan` the buckets and bytes per rank,
# `mamc ir --after comm --rank R` the inserted collectives (verifying, and parsing back);
# bad --rank values exit 2.
MAMC=$1
. "$(dirname "$0")/../testlib.sh"
m=examples/modular.mam y=examples/modular.yaml

"$MAMC" place "$m" --config "$y" --processes 4 > "$tmp/place" && grep -q "^rank 3: " "$tmp/place" \
  && grep -q "^  mammoth-approx " "$tmp/place" && grep -q "^  round-robin " "$tmp/place" \
  && grep -q "^communicator groups" "$tmp/place" && ok "mamc place" || bad "mamc place"
"$MAMC" place "$m" --config "$y" --processes 4 > "$tmp/place2" && cmp -s "$tmp/place" "$tmp/place2" \
  || sed -i 's/: [0-9.]* s$//' "$tmp/place" "$tmp/place2"
cmp -s "$tmp/place" "$tmp/place2" && ok "mamc place is deterministic" || bad "mamc place is deterministic"
"$MAMC" place --help | grep -q "usage: mamc place" && ok "place --help" || bad "place --help"

"$MAMC" plan "$m" --config "$y" --processes 4 --step 3 > "$tmp/plan" && grep -q "^step 3: rank 0 " "$tmp/plan" \
  && grep -q "^  b0 " "$tmp/plan" && grep -q "^total " "$tmp/plan" && ok "mamc plan" || bad "mamc plan"
"$MAMC" plan examples/lm.mam --config examples/lm.yaml --processes 2 > "$tmp/plan_lm" \
  && grep -q "rounds body on ranks\[0, 1\]" "$tmp/plan_lm" && ok "mamc plan (DEPT)" || bad "mamc plan (DEPT)"

for r in 0 3; do
  MAMC_VERIFY=1 "$MAMC" ir "$m" --config "$y" --processes 4 --rank $r --after comm -o "$tmp/r$r.mir" \
    && grep -q "allreduce_start .*weight = tokens" "$tmp/r$r.mir" && grep -q "allreduce_done" "$tmp/r$r.mir" \
    && grep -q "group = @world" "$tmp/r$r.mir" && grep -q "%tokens: f32\[\]" "$tmp/r$r.mir" \
    && ok "ir --after comm --rank $r" || bad "ir --after comm --rank $r"
  "$MAMC" ir --ir "$tmp/r$r.mir" > "$tmp/r$r.2.mir" && cmp -s "$tmp/r$r.mir" "$tmp/r$r.2.mir" \
    && ok "rank $r round trip" || bad "rank $r round trip"
done
cmp -s "$tmp/r0.mir" "$tmp/r3.mir" && bad "ranks 0 and 3 differ" || ok "ranks 0 and 3 differ"
MAMC_VERIFY=1 "$MAMC" ir "$m" --config "$y" --processes 2 --rank 1 --after memplan > /dev/null \
  && ok "rank 1 through memplan" || bad "rank 1 through memplan"
"$MAMC" ir "$m" --config "$y" --after comm > "$tmp/one.mir" && ! grep -q "allreduce" "$tmp/one.mir" \
  && ok "one process: no collectives" || bad "one process: no collectives"
"$MAMC" ir --ir tests/comm/comm_recv.mir --rank 1 --passes C | grep -q "recv}" \
  && ok "ir --ir --rank" || bad "ir --ir --rank"

"$MAMC" ir "$m" --config "$y" --processes 2 --rank 2 --after comm > /dev/null 2> "$tmp/err"
[ $? -eq 2 ] && grep -q "rank 2" "$tmp/err" && ok "--rank out of range" || bad "--rank out of range"
"$MAMC" ir "$m" --config "$y" --rank x > /dev/null 2>&1
[ $? -eq 2 ] && ok "--rank x" || bad "--rank x"
exit $fail
