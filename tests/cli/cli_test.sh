#!/bin/sh
# cli_test.sh MAMC DOT — the mamc command line on the examples: --help answers, every example
# checks, `mamc ir` output re-parses to identical text, `mamc dot` renders with Graphviz, and
# bad input exits 2 with a file:line:col diagnostic and writes no output file.
MAMC=$1
DOT=${2:-}
. "$(dirname "$0")/../testlib.sh"

"$MAMC" --help | grep -q "usage: mamc COMMAND" && ok "mamc --help" || bad "mamc --help"
for c in check ir dot; do
  "$MAMC" $c --help | grep -q "usage: mamc $c" && ok "mamc $c --help" || bad "mamc $c --help"
done
"$MAMC" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok "unknown command exits 2" || bad "unknown command"

for e in multi modular shared lm; do
  m=examples/$e.mam y=examples/$e.yaml
  "$MAMC" check "$m" --config "$y" >/dev/null && ok "check $e" || bad "check $e"
  "$MAMC" ir "$m" --config "$y" -o "$tmp/$e.mir" && "$MAMC" ir --ir "$tmp/$e.mir" > "$tmp/$e.2.mir" \
    && cmp -s "$tmp/$e.mir" "$tmp/$e.2.mir" && ok "ir round trip $e" || bad "ir round trip $e"
  "$MAMC" dot "$m" --config "$y" -o "$tmp/$e.dot" && ok "dot $e" || bad "dot $e"
  if [ -n "$DOT" ]; then
    "$DOT" -Tpng "$tmp/$e.dot" -o "$tmp/$e.png" && [ -s "$tmp/$e.png" ] && ok "dot -Tpng $e" || bad "dot -Tpng $e"
  fi
done

"$MAMC" check examples/shared.mam --config examples/translate.yaml >/dev/null && ok "check translate.yaml" \
  || bad "check translate.yaml"

# train.label_smoothing reaches every cross_entropy that gives no smoothing: (lm.mam's gives none)
sed 's/^train:$/train:\n  label_smoothing: 0.25/' examples/lm.yaml > "$tmp/lm-ls.yaml"
sed -i "s#\.\./data/#$PWD/data/#g; s#path: vocab/#path: $PWD/examples/vocab/#g" "$tmp/lm-ls.yaml"
"$MAMC" ir examples/lm.mam --config "$tmp/lm-ls.yaml" 2>&1 | grep -q "cross_entropy .*{smoothing = 0.25, ignore = 0}" \
  && ok "train.label_smoothing in the IR" || bad "train.label_smoothing not in the IR"
"$MAMC" ir examples/lm.mam --config examples/lm.yaml 2>&1 | grep "cross_entropy" | grep -q -v smoothing \
  && ok "no label_smoothing: none in the IR" || bad "label smoothing without train.label_smoothing"

# bad input: exit 2, a located diagnostic with a caret, and no output file
printf 'use nn\nindex lang from config\nmodule m = nn.Linear(4, 4)\ntask translate(s: lang, t: lang) {\n  input src: i32[B, S]\n  loss = sum(cast(src, f32) @ m.weight)\n}\n' > "$tmp/bad.mam"
"$MAMC" ir "$tmp/bad.mam" --config examples/modular.yaml -o "$tmp/bad.mir" 2> "$tmp/err"
rc=$?
[ $rc -eq 2 ] && ok "bad model exits 2" || bad "bad model exit status $rc"
grep -q "bad.mam:6:[0-9]*: error: " "$tmp/err" && grep -q '\^' "$tmp/err" && ok "diagnostic with caret" || { bad "diagnostic"; cat "$tmp/err"; }
[ ! -e "$tmp/bad.mir" ] && ok "no output written on error" || bad "output written on error"
"$MAMC" check "$tmp/missing.mam" 2> "$tmp/err"; [ $? -eq 2 ] && grep -q "cannot open" "$tmp/err" && ok "missing file" || bad "missing file"
exit $fail
