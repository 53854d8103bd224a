#!/bin/sh
# cli_cache.sh MAMC — `mamc cache` on a folder of made-up entries: it reports the folders the
# environment chooses, counts entries per kind, --trim removes the least recently used first,
# --clear removes every entry and temporary file but nothing else, bad options exit 2.
MAMC=$1
. "$(dirname "$0")/../testlib.sh"
has() { grep -q -- "$1" "$tmp/out" && ok "$2" || { bad "$2"; cat "$tmp/out"; }; }

c=$tmp/c
mkdir -p "$c/corpus"
hex() { printf '%064x' "$1"; }
# five CPU objects of 1000 bytes and two cubins of 3000, each an hour older than the last
for i in 1 2 3 4 5 6 7; do
  ext=o; n=1000
  [ $i -gt 5 ] && ext=cubin n=3000
  head -c $n /dev/urandom > "$c/$(hex $i).$ext"
  touch -d "-$i hours" "$c/$(hex $i).$ext"
done
echo keep > "$c/notes.txt"
echo keep > "$c/corpus/$(hex 1).o"
echo partial > "$c/.tmp-$(hex 9 | cut -c1-16)-1-0"

"$MAMC" cache --help > "$tmp/out"; has "usage: mamc cache" "mamc cache --help"
"$MAMC" --help > "$tmp/out"; has "cache .*kernels" "mamc --help lists cache"

MAMC_JIT_CACHE=$c MAMC_CUDA_CACHE=0 "$MAMC" cache > "$tmp/out"
has "CPU kernels (MAMC_JIT_CACHE): *$c\$" "the CPU folder from MAMC_JIT_CACHE"
has "GPU kernels (MAMC_CUDA_CACHE): *none" "MAMC_CUDA_CACHE=0: none"
has "$c: 7 entries, 10.7 KiB (limit 1.0 GiB" "7 entries, their size and the default limit"
has "^ *2 .*\.cubin" "2 cubins"
has "^ *5 .*4\.9 KiB *\.o " "5 objects"
has "1 *temporary file" "the temporary file"
MAMC_CACHE_MAX=0 "$MAMC" cache --dir "$c" > "$tmp/out"; has "no limit" "MAMC_CACHE_MAX=0: no limit"

# 11000 bytes; trimming to 7999 removes the two oldest (the cubins) and nothing else
"$MAMC" cache --dir "$c" --trim 7999 > "$tmp/out"; has "removed 2 files" "--trim removes two"
[ ! -e "$c/$(hex 7).cubin" ] && [ ! -e "$c/$(hex 6).cubin" ] && [ -e "$c/$(hex 5).o" ] \
  && ok "the least recently used went first" || bad "trim order: $(ls "$c")"
# make the oldest object the newest: the next trim takes number 4 instead
touch "$c/$(hex 5).o"
"$MAMC" cache --dir "$c" --trim 4K > "$tmp/out"; has "removed 1 file\$" "--trim 4K removes one"
[ -e "$c/$(hex 5).o" ] && [ ! -e "$c/$(hex 4).o" ] && ok "recent use keeps an entry" || bad "recency: $(ls "$c")"

"$MAMC" cache --dir "$c" --clear > "$tmp/out"; has "removed 5 files" "--clear removes 4 entries and the temporary"
has "$c: 0 entries" "nothing left"
[ -e "$c/notes.txt" ] && [ -e "$c/corpus/$(hex 1).o" ] && ok "other files kept" || bad "--clear removed other files"

"$MAMC" cache --dir "$tmp/absent" > "$tmp/out"; has "not created yet" "an absent folder"
"$MAMC" cache --trim lots > /dev/null 2>&1; [ $? -eq 2 ] && ok "bad size exits 2" || bad "bad size"
"$MAMC" cache --clear --trim 1G > /dev/null 2>&1; [ $? -eq 2 ] && ok "--clear with --trim exits 2" || bad "--clear --trim"
"$MAMC" cache --frob > /dev/null 2>&1; [ $? -eq 2 ] && ok "unknown option exits 2" || bad "unknown option"
"$MAMC" cache --dir "$c/notes.txt" > /dev/null 2>&1; [ $? -eq 1 ] && ok "unreadable folder exits 1" || bad "unreadable folder"
exit $fail
