#!/bin/sh
# bad_input_test.sh MAMC — `mamc train` refuses bad training input before any step, with a
# diagnostic naming the file and line: a missing corpus file, an empty field, invalid UTF-8,
# a wrong column count, a vocabulary file that does not parse, a task whose vocabulary the
# configuration does not define, a label smoothing the model and the configuration disagree on,
# a dropout in the configuration (the model's business).
set -u
MAMC=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
model=$here/../../examples/modular.mam

# a small valid setup to break one thing at a time
printf 'Open file\tDatei öffnen\nSave\tSpeichern\nQuit\tBeenden\n' > "$tmp/good.tsv"
cfg() { # cfg NAME TRAIN_PATH [EXTRA_VOCAB_LINE]
  cat > "$tmp/$1.yaml" <<YAML
index:
  lang: [en, de, fr, es]
  family: {germanic: [en, de], romance: [fr, es]}
vocab:
  en: {type: byte}
  de: ${3:-{type: byte\}}
  fr: {type: byte}
  es: {type: byte}
tasks:
  - task: translate(en, de)
    path: $2
train: {steps: 2, batch_tokens: 512, max_len: 32, valid_every: 0}
checkpoint: {dir: $tmp/ckpt-$1}
YAML
}
expect() { # expect NAME PATTERN
  "$MAMC" train "$model" --config "$tmp/$1.yaml" --progress none > "$tmp/$1.out" 2>&1
  rc=$?
  if [ $rc -eq 2 ] && grep -q -- "$2" "$tmp/$1.out" && ! grep -q "^step " "$tmp/$1.out"; then
    echo "OK: $1: $(grep -m1 -- "$2" "$tmp/$1.out")"
  else
    echo "NOT OK: $1 (exit $rc), expected /$2/:"; cat "$tmp/$1.out"; fail=1
  fi
}

cfg missing "$tmp/nope.tsv"
expect missing "missing.yaml:11:11: error: .*nope.tsv"

printf 'Open file\tDatei öffnen\nSave\t\nQuit\tBeenden\n' > "$tmp/empty.tsv"
cfg empty "$tmp/empty.tsv"
expect empty "empty.tsv:2:[0-9]*: error: "

printf 'Open file\tDatei \377ffnen\n' > "$tmp/utf8.tsv"
cfg utf8 "$tmp/utf8.tsv"
expect utf8 "utf8.tsv:1:17: error: invalid UTF-8"

printf 'Open file\tDatei öffnen\nSave\tSpeichern\textra\n' > "$tmp/cols.tsv"
cfg cols "$tmp/cols.tsv"
expect cols "cols.tsv:2:[0-9]*: error: "

printf 'mamc-bpe v1 size 262\n"a" "b"\nthis is not a merge\n' > "$tmp/de.bpe"
cfg bpe "$tmp/good.tsv" "{type: bpe, size: 262, path: $tmp/de.bpe}"
expect bpe "de.bpe:3:[0-9]*: error: "

cfg novocab "$tmp/good.tsv"
sed -i 's/^  de: .*$//' "$tmp/novocab.yaml"
expect novocab "novocab.yaml:[0-9]*:[0-9]*: error: .*de"

cfg smoothing "$tmp/good.tsv"  # modular.mam says smoothing: 0.1
sed -i 's/^train: {/train: {label_smoothing: 0.2, /' "$tmp/smoothing.yaml"
expect smoothing "modular.mam:[0-9]*:[0-9]*: error: cross_entropy(smoothing: 0.1) disagrees with .*label_smoothing: 0.2 (.*smoothing.yaml:12)"

cfg dropout "$tmp/good.tsv"
sed -i 's/^train: {/train: {dropout: 0.1, /' "$tmp/dropout.yaml"
expect dropout "dropout.yaml:12:[0-9]*: error: train.dropout is 0.1: mamc takes dropout from the model"
exit $fail
