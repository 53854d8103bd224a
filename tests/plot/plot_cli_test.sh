#!/bin/sh
# plot_cli_test.sh MAMC — `mamc plot` on the fixture metrics file: exit 0 and a PNG of the
# asked size (decoded with Python's zlib when python3 is there: a second, independent
# decoder); bad input exits 2 with a message. Run from the repository root.
set -u
MAMC=$1
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$MAMC" plot tests/plot/fixtures/metrics.jsonl -o "$tmp/c.png" --width 900 --height 600 2>"$tmp/e" ||
  { echo "NOT OK: mamc plot failed: $(cat "$tmp/e")"; fail=1; }
grep -q "metrics.jsonl:90:.*warning: not a JSON object" "$tmp/e" || { echo "NOT OK: no warning for the bad line"; fail=1; }
if command -v python3 >/dev/null 2>&1; then
  python3 - "$tmp/c.png" <<'PY' || { echo "NOT OK: Python could not decode the PNG"; fail=1; }
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n"
at, idat, dims = 8, b"", None
while at < len(b):
    n, t = struct.unpack(">I4s", b[at:at + 8])
    data = b[at + 8:at + 8 + n]
    assert zlib.crc32(t + data) == struct.unpack(">I", b[at + 8 + n:at + 12 + n])[0], t
    if t == b"IHDR": dims = struct.unpack(">II", data[:8])
    if t == b"IDAT": idat += data
    at += 12 + n
assert dims == (900, 600), dims
raw = zlib.decompress(idat)
assert len(raw) == (900 * 3 + 1) * 600
print("OK: python zlib decodes the PNG", dims)
PY
fi
# standard output
"$MAMC" plot tests/plot/fixtures/metrics.jsonl -o - 2>/dev/null | head -c 4 | od -c | grep -q 'P   N   G' ||
  { echo "NOT OK: -o -"; fail=1; }

expect_bad() { # expect_bad PATTERN ARGS...
  pat=$1; shift
  "$MAMC" plot "$@" >"$tmp/o" 2>"$tmp/e"; rc=$?
  if [ $rc -ne 2 ] || ! grep -q "$pat" "$tmp/e"; then
    echo "NOT OK: mamc plot $* -> rc $rc, stderr: $(cat "$tmp/e") (wanted '$pat')"; fail=1
  fi
}
printf '{"type": "other", "step": 1}\n' >"$tmp/none.jsonl"
expect_bad "nothing to plot" "$tmp/none.jsonl" -o "$tmp/x.png"
expect_bad "cannot open" "$tmp/missing.jsonl"
expect_bad "give the metrics file" -o "$tmp/x.png"
expect_bad "width wants" tests/plot/fixtures/metrics.jsonl --width 10
expect_bad "unknown option" tests/plot/fixtures/metrics.jsonl --colour red

[ $fail -eq 0 ] && echo "OK: mamc plot" || echo "NOT OK: mamc plot"
exit $fail
