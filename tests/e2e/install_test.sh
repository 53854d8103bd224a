#!/bin/sh
# install_test.sh BUILD_DIR SRC_DIR [CFLAGS] — `cmake --install` puts mamc, libmamc, its
# header, the stdlib and a pkg-config file under a prefix; a driver builds against it with
# pkg-config alone and runs (examples/driver/driver.c on the shipped sample). CFLAGS: extra
# driver flags (a sanitized build passes -fsanitize=..., so the ASan runtime comes first).
set -u
build=$1
src=$2
extra=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
for f in bin/mamc include/mamc/mamc.h share/mamc/stdlib/nn.mam lib/pkgconfig/mamc.pc; do
  [ -e "$tmp/prefix/$f" ] && echo "OK: installed $f" || { echo "NOT OK: $f missing"; exit 1; }
done
ls "$tmp/prefix"/lib*/libmamc.so* > /dev/null 2>&1 || ls "$tmp/prefix"/lib/*/libmamc.so* > /dev/null || { echo "NOT OK: no libmamc.so"; exit 1; }
pc=$(dirname "$(find "$tmp/prefix" -name mamc.pc | head -1)")
libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir mamc)
cc $extra -o "$tmp/driver" "$src/examples/driver/driver.c" $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs mamc) -lm \
  -Wl,-rpath,"$libdir" || { echo "NOT OK: the driver does not build against the installed library"; exit 1; }
echo "OK: driver built with pkg-config"
"$tmp/driver" "$src/examples/modular.mam" "$src/tests/e2e/multi-sample.yaml" 2 "$tmp/ckpt" > "$tmp/run.log" 2>&1 \
  && grep -q "validation identical" "$tmp/run.log" && echo "OK: the installed library trains, saves and reloads" \
  || { cat "$tmp/run.log"; echo "NOT OK: driver run"; exit 1; }
"$tmp/prefix/bin/mamc" check "$src/examples/lm.mam" --config "$src/examples/lm.yaml" && echo "OK: installed mamc runs"
