#!/usr/bin/env bash
# tests/fuzz/seed.sh [MAMC] — (re)creates the seed corpora tests/fuzz/corpus/<harness>/ from
# the tree: the examples, the stdlib and the test inputs of each parser, plus generated
# safetensors files and BPE vocabularies (MAMC: a built mamc, for `mamc vocab`; default
# build-rel9/mamc, else build/mamc). The corpus is committed; keep it under 2 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
C=tests/fuzz/corpus
MAMC=${1:-$( [ -x build-rel9/mamc ] && echo build-rel9/mamc || echo build/mamc )}
rm -rf "$C"
mkdir -p "$C"/{mam,ir,yaml,safetensors,vocab}

copy() { # copy FILES into $C/$1, named after their path
  local h=$1; shift
  for f in "$@"; do cp "$f" "$C/$h/$(echo "$f" | tr '/' '_')"; done
}
copy mam examples/*.mam stdlib/*.mam tests/frontend_syntax/golden/*.mam tests/frontend_syntax/bad/*.mam \
  tests/frontend_sema/cases/*.mam
copy ir tests/ir/golden/*.mir tests/passes/*.mir tests/autodiff/golden/*.mir
copy yaml examples/*.yaml tests/config/good/*.yaml tests/config/bad/*.yaml tests/frontend_sema/cases/*.yaml \
  tests/e2e/*.yaml

# safetensors: every dtype, metadata, an empty file, a scalar, escapes in names.
python3 - "$C/safetensors" <<'PY'
import json, struct, sys
out = sys.argv[1]
def st(name, tensors, meta=None):
    header, blobs, off = {}, [], 0
    if meta is not None: header["__metadata__"] = meta
    for tname, dt, shape, raw in tensors:
        header[tname] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw); off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    open(f"{out}/{name}.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
f32 = lambda xs: struct.pack(f"<{len(xs)}f", *xs)
st("all_dtypes", [("w", "F32", [2, 3], f32([0.5, -1, 2, 3, 4, 5])),
                  ("d", "F64", [2], struct.pack("<2d", 1.0, -2.5)),
                  ("b", "BF16", [3], b"\x80\x3f\x00\x40\x40\x40"),
                  ("h", "F16", [1, 2], b"\x00\x3c\x00\xc0"),
                  ("ids", "I32", [4], struct.pack("<4i", 0, 1, -7, 2**31 - 1))],
   {"format": "pt", "step": "12"})
st("empty", [])
st("scalar", [("s", "F32", [], f32([3.25]))], {})
st("zero_dim", [("z", "F32", [0, 4], b"")])
st("escapes", [('layer.0."q"\\n\u00e9', "F32", [1], f32([1]))], {"k\u0001": "v\"\\"})
st("checkpoint_like", [("weight", "F32", [4, 2], f32(range(8))), ("bias", "F32", [2], f32([0, 0]))],
   {"mamc.module": "embed[en]", "mamc.step": "100", "mamc.dtype": "f32"})
PY

# vocabularies: the byte tokenizer, a hand-written BPE file, and trained ones of a few sizes.
cp tests/config/files/vocab/fr.bpe "$C/vocab/fr.bpe"
printf 'mamc-byte v1\n' >"$C/vocab/byte.txt"
printf 'mamc-bpe v1 size 263\n"t" "h"\n"th" "e"\n" " "\\x00"\n' >"$C/vocab/hand.bpe"
printf 'mamc-bpe v1 size 262\r\n"\\"" "\\\\"\r\n\r\n"\xc3\xa9" "t"\r\n' >"$C/vocab/crlf_escapes.bpe"
if [ -x "$MAMC" ]; then
  for n in 300 400; do
    "$MAMC" vocab --size "$n" -o "$C/vocab/trained_$n.bpe" data/sample/en-de/valid.tsv >/dev/null
  done
  "$MAMC" vocab --size 330 -o "$C/vocab/trained_fr.bpe" data/sample/de-fr/valid.tsv >/dev/null
else
  echo "seed.sh: no mamc at $MAMC: skipping trained vocabularies" >&2
fi
du -sh "$C"
for h in mam ir yaml safetensors vocab; do echo "$h: $(ls "$C/$h" | wc -l) files"; done
