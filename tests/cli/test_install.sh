#!/usr/bin/env bash
# cmake --install puts the library, headers, gesta.pc, the CLI and the models
# in a prefix, and a program built against the installed gesta.pc runs.
# Usage: bash test_install.sh GESTA_BIN SOURCE_DIR TMPDIR
set -u
GESTA=$1 SRC=$2 TMP=$3
. "$(dirname "$0")/lib.sh"
BUILD=$(dirname "$GESTA")
PREFIX=$TMP/prefix
have() { [ -e "$1" ] && ok "installed $2" || fail "missing $2 ($1)"; }

echo "== cmake --install $BUILD --prefix $PREFIX"
if cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" 2>&1; then
  ok "cmake --install"
else
  fail "cmake --install:"
  cat "$TMP/install.log"
  echo "test_install: $failures failure(s)"
  exit 1
fi

PC=$(find "$PREFIX" -name gesta.pc -path '*/pkgconfig/*' | head -n 1)
have "$PC" "gesta.pc"
LIBDIR=$(dirname "$(dirname "${PC:-$PREFIX/lib/pkgconfig/x}")")
have "$LIBDIR/libgesta.a" "the static library"
ls "$LIBDIR"/libgesta.so* >/dev/null 2>&1 && ok "installed the shared library" || fail "no libgesta.so in $LIBDIR"
for h in gesta.h error.h tensor.h context.h op.h model.h backend.h executor.h safetensors.h version.h; do
  have "$PREFIX/include/gesta/$h" "include/gesta/$h"
done
have "$PREFIX/bin/gesta" "bin/gesta"
have "$PREFIX/share/gesta/models/lrcn.yaml" "share/gesta/models/lrcn.yaml"
have "$PREFIX/share/gesta/models/seed/lrcn.yaml" "share/gesta/models/seed/lrcn.yaml"
have "$PREFIX/share/gesta/models/cnn.yaml" "share/gesta/models/cnn.yaml"

echo "== the installed CLI"
"$PREFIX/bin/gesta" --version >"$TMP/version.out" 2>&1 && ok "installed gesta --version" || fail "installed gesta --version"
if "$PREFIX/bin/gesta" info "$PREFIX/share/gesta/models/seed/lrcn.yaml" | grep -qF "Total params: 195,973"; then
  ok "installed gesta info on the installed lrcn.yaml"
else
  fail "installed gesta info"
fi

echo "== a program built against the installed gesta.pc"
cat >"$TMP/count.c" <<'CEOF'
#include <gesta/gesta.h>
#include <stdio.h>
int main(int argc, char **argv) {
  gesta_context ctx;
  gesta_model *model = NULL;
  gesta_error err;
  gesta_context_init(&ctx);
  if (argc < 2 || gesta_model_load_file(&ctx, argv[1], &model, &err) != GESTA_STATUS_OK)
    return fprintf(stderr, "%s\n", argc < 2 ? "usage: count MODEL" : err.message), 1;
  printf("%lld\n", (long long)gesta_model_count_params(model).total);
  gesta_model_free(model);
  return 0;
}
CEOF
# gesta.pc finds its prefix relative to itself, wherever it was installed.
PKG="pkg-config"
export PKG_CONFIG_PATH=$(dirname "$PC")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
# A sanitizer build's library needs the same runtime in the program.
SAN=$(sed -n 's/^GESTA_SANITIZE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
SANFLAGS=${SAN:+-fsanitize=$SAN}
if ${CC:-cc} -std=c11 $SANFLAGS $($PKG --cflags gesta) "$TMP/count.c" -o "$TMP/count" \
  $($PKG --static --libs gesta) >"$TMP/cc.log" 2>&1; then
  ok "compiled and linked with pkg-config --static gesta"
else
  fail "compile/link:"
  cat "$TMP/cc.log"
fi
total=$(LD_LIBRARY_PATH=$LIBDIR "$TMP/count" "$PREFIX/share/gesta/models/seed/lrcn.yaml" 2>&1)
[ "$total" = "195973" ] && ok "the program counts 195973 params" || fail "the program printed '$total'"

echo "test_install: $failures failure(s)"
[ $failures -eq 0 ]
