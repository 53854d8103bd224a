#!/bin/sh
# golden_test.sh MAMC — `mamc eval` against the scores sacreBLEU computed for the fixture
# (tests/eval/fixtures/expected.txt; must agree to 0.01), and the command's behaviour on bad
# input (exit 2 with a message). Run from the repository root.
set -u
MAMC=$1
DIR=tests/eval/fixtures
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the fixture: one row per (metric, references, case) ------------------------------------
grep -v '^#' "$DIR/expected.txt" | while read -r metric refs case want rest; do
  args=""
  for r in $(echo "$refs" | tr ',' ' '); do args="$args --ref $DIR/$r"; done
  [ "$case" = lc ] && args="$args --lowercase"
  # shellcheck disable=SC2086
  got=$("$MAMC" eval $args --hyp "$DIR/hyp.txt" --metrics "$metric" --score-only --width 10) || {
    echo "NOT OK: mamc eval failed for $metric $refs $case"; echo x >>"$tmp/fail"; continue; }
  if awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.01) }'; then
    echo "OK: $metric $refs $case: $got (sacreBLEU $want)"
  else
    echo "NOT OK: $metric $refs $case: $got, sacreBLEU $want"; echo x >>"$tmp/fail"
  fi
done
[ -f "$tmp/fail" ] && fail=1

# ---- the text format: sacreBLEU's, with our version tag -------------------------------------
out=$("$MAMC" eval --ref "$DIR/ref.txt" --hyp "$DIR/hyp.txt" --width 1)
echo "$out" | grep -q '^BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2\.6\.0-mamc = 51\.0 72\.1/54\.0/44\.8/38\.7 (BP = 1\.000 ratio = 1\.128 hyp_len = 3827 ref_len = 3394)$' ||
  { echo "NOT OK: BLEU line: $out"; fail=1; }
echo "$out" | grep -q '^chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2\.6\.0-mamc = 73\.0$' ||
  { echo "NOT OK: chrF line: $out"; fail=1; }
# standard input, and JSON (checked by Python's parser when there is one)
"$MAMC" eval --ref "$DIR/ref.txt" --hyp - --json <"$DIR/hyp.txt" >"$tmp/out.json" || { echo "NOT OK: --json"; fail=1; }
if command -v python3 >/dev/null 2>&1; then
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [x["name"] for x in d]==["BLEU","chrF2"]; assert abs(d[0]["score_exact"]-50.9634212867)<1e-6, d; assert d[0]["nrefs"]=="1" and d[1]["nc"]=="6"' "$tmp/out.json" ||
    { echo "NOT OK: JSON output"; cat "$tmp/out.json"; fail=1; }
fi

# ---- identical files: BLEU 100, chrF 100 -------------------------------------------------------
out=$("$MAMC" eval --ref "$DIR/ref.txt" --hyp "$DIR/ref.txt" --score-only)
[ "$out" = "$(printf '100.00\n100.00')" ] || { echo "NOT OK: identical files: $out"; fail=1; }

# ---- bad input: exit 2 and a message ----------------------------------------------------------
expect_bad() { # expect_bad PATTERN ARGS...
  pat=$1; shift
  "$MAMC" eval "$@" >"$tmp/o" 2>"$tmp/e"; rc=$?
  if [ $rc -ne 2 ] || ! grep -q "$pat" "$tmp/e"; then
    echo "NOT OK: mamc eval $* -> rc $rc, stderr: $(cat "$tmp/e") (wanted '$pat')"; fail=1
  fi
}
head -n 10 "$DIR/hyp.txt" >"$tmp/short.txt"
printf 'ok\nbad \377 byte\n' >"$tmp/bad.txt"
printf 'ok\nok\n' >"$tmp/two.txt"
: >"$tmp/empty.txt"
expect_bad "has 10 lines but" --ref "$DIR/ref.txt" --hyp "$tmp/short.txt"
expect_bad "bad.txt:2:5: invalid UTF-8" --ref "$tmp/two.txt" --hyp "$tmp/bad.txt"
expect_bad "no lines" --ref "$tmp/empty.txt" --hyp "$tmp/empty.txt"
expect_bad "unknown metric 'ter'" --ref "$DIR/ref.txt" --hyp "$DIR/hyp.txt" --metrics bleu,ter
expect_bad "give --ref" --hyp "$DIR/hyp.txt"
expect_bad "cannot open" --ref "$tmp/missing.txt" --hyp "$DIR/hyp.txt"

[ $fail -eq 0 ] && echo "OK: mamc eval" || echo "NOT OK: mamc eval"
exit $fail
