#!/bin/sh
# extend_test.sh MAMC CKPT_COMPARE — adding a language to a trained model: train tiny.mam on
# en/de/fr directions, then `mamc train --extend` with Spanish tasks added: the modules the
# checkpoint held are bit-identical afterwards (frozen), the new ones (embed[es], dec[es]) train.
set -u
# one BLAS thread, as each process of an mpirun has (OpenBLAS's results depend on it)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
MAMC=$1
CMP=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
data=$here/../../data/sample
head='index:
  lang: [en, de, fr, es]
  family: {germanic: [en, de], romance: [fr, es]}
vocab: {en: byte, de: byte, fr: byte, es: byte}
tasks:'
task() { printf '  - task: translate(%s, %s)\n    path: %s/%s/train.tsv\n%s' "$1" "$2" "$data" "$3" "${4:+    columns: [1, 0]
}"; }
{ echo "$head"; task en de en-de; task de en en-de r; task en fr en-fr; task fr en en-fr r
  echo "train: {steps: 15, batch_tokens: 256, max_len: 24, lr: 0.01, valid_every: 0, schedule: {kind: constant, warmup: 1}}"
  echo "checkpoint: {dir: $tmp/base, every: 0}"; } > base.yaml
{ echo "$head"; task en de en-de; task en es en-es; task es en en-es r
  echo "train: {steps: 10, batch_tokens: 256, max_len: 24, lr: 0.01, valid_every: 0, schedule: {kind: constant, warmup: 1}}"
  echo "checkpoint: {dir: $tmp/ext, every: 0}"; } > ext.yaml
"$MAMC" train "$here/tiny.mam" --config base.yaml --progress none > base.log 2>&1 || { cat base.log; exit 1; }
"$MAMC" train "$here/tiny.mam" --config ext.yaml --extend "$tmp/base" --progress none > ext.log 2>&1 || { cat ext.log; exit 1; }
grep "kept frozen" ext.log
fail=0
b=$(cat base/latest) e=$(cat ext/latest)
for f in base/$b/*.safetensors; do
  m=$(basename "$f")
  [ -e "ext/$e/$m" ] || continue
  # parameters only (moments are not written for frozen modules' updates): compare with the tool
  mkdir -p one two && rm -f one/* two/* && cp "$f" one/ && cp "ext/$e/$m" two/ && cp base/$b/frame.json one/ && cp base/$b/frame.json two/
  "$CMP" one two 0 > /dev/null && echo "OK: $m unchanged (frozen)" || { echo "NOT OK: $m changed although frozen"; fail=1; }
done
for m in "embed[es]" "dec[es]"; do
  [ -e "ext/$e/$m.safetensors" ] && echo "OK: new module $m trained and saved" || { echo "NOT OK: $m missing"; fail=1; }
done
exit $fail
