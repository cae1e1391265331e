#!/usr/bin/env bash
# `cmake --install` puts the libraries (static and shared), the headers, relstab.pc, the relstab binary and the Python
# package under a prefix; a separate C program compiles and links against them with pkg-config alone (shared and
# static), the shared library exports only rs_* functions under a versioned soname, and the installed Python package
# finds the installed library by itself. Usage: bash install.sh /path/to/relstab
# (run from the build directory, as ctest does).
set -u
BIN=${1:?usage: install.sh /path/to/relstab}
BUILD=$(dirname "$BIN")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/relstab-cli-install-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null || { echo "FAIL: cmake --install"; exit 1; }
for f in bin/relstab include/relstab/relstab.h include/relstab/nn.h; do
    [ -e "$TMP/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
pc=$(find "$TMP/prefix" -name relstab.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: relstab.pc not installed"; exit 1; }
cat > "$TMP/use.c" <<'C'
#include <relstab/relstab.h>
#include <stdio.h>
int main(void) {
    rs_net *net = rs_net_new(1, 4, 4);
    int32_t x = rs_net_flatten(net, "flatten", 0);
    rs_net_linear(net, "fc", x, 2, 1);
    if (rs_net_build(net, 1, 0) != RS_OK) return 1;
    rs_net_init(net, 0);
    float in[16] = {0};
    if (rs_net_forward(net, in, 1, RS_MODE_EVAL) != RS_OK) return 1;
    printf("outputs %lld\n", (long long)rs_net_output_numel(net));
    rs_net_free(net);
    return 0;
}
C
extra=""
sanitize=0
grep -q '^RELSTAB_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null && extra="-fsanitize=address,undefined" && sanitize=1
export PKG_CONFIG_PATH="$(dirname "$pc")"
libdir=$(pkg-config --variable=libdir relstab)
# the shared library: versioned soname, symlinks, only the public API exported
so=$(readlink -f "$libdir/librelstab.so") || { echo "FAIL: librelstab.so not installed"; exit 1; }
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ -n "$soname" ] && [ -e "$libdir/$soname" ] || { echo "FAIL: no soname ('$soname') or no $soname link"; exit 1; }
case "$soname" in librelstab.so.[0-9]*) ;; *) echo "FAIL: unexpected soname $soname"; exit 1 ;; esac
syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRWV]$/ {sub(/@.*/, "", $3); print $3}')
other=$(printf '%s\n' "$syms" | grep -v '^rs_' | head -3)
[ -z "$other" ] || { echo "FAIL: librelstab.so exports non-rs_ symbols: $other"; exit 1; }
for s in rs_net_new rs_measure rs_diffeo_T_of_delta rs_accum_add; do
    printf '%s\n' "$syms" | grep -qx "$s" || { echo "FAIL: $s is not exported"; exit 1; }
done
for s in rs_dnnl_engine rs_kv_split rs_cmd_measure; do # internal (src/*/*_internal.h) or the CLI's
    printf '%s\n' "$syms" | grep -qx "$s" && { echo "FAIL: internal $s is exported"; exit 1; }
done
echo "install.sh: $soname exports $(printf '%s\n' "$syms" | wc -l) rs_* functions"
# a program against the shared library (pkg-config's default), then against the static one
cc -std=c17 $extra $(pkg-config --cflags relstab) "$TMP/use.c" -o "$TMP/use" $(pkg-config --libs relstab) \
    || { echo "FAIL: a program does not build against the installed shared relstab"; exit 1; }
readelf -d "$TMP/use" | grep -q "NEEDED.*\[$soname\]" || { echo "FAIL: the program does not use $soname"; exit 1; }
out=$(LD_LIBRARY_PATH="$libdir" "$TMP/use") || { echo "FAIL: the program linked to $soname failed"; exit 1; }
[ "$out" = "outputs 2" ] || { echo "FAIL: unexpected output '$out' (shared)"; exit 1; }
cc -std=c17 $extra $(pkg-config --cflags relstab) "$TMP/use.c" -o "$TMP/use_static" -Wl,-Bstatic -lrelstab \
    -Wl,-Bdynamic $(pkg-config --static --libs relstab | sed 's/-lrelstab//') \
    || { echo "FAIL: a program does not build against the installed static relstab"; exit 1; }
readelf -d "$TMP/use_static" | grep -q "NEEDED.*librelstab" && { echo "FAIL: the static build needs librelstab.so"; exit 1; }
out=$("$TMP/use_static") || { echo "FAIL: the statically linked program failed"; exit 1; }
[ "$out" = "outputs 2" ] || { echo "FAIL: unexpected output '$out' (static)"; exit 1; }
# the Python package, found under the prefix with the library it finds by itself
pydir=$(find "$TMP/prefix" -type d -name relstab -path '*python3*' | head -1)
py=""
for p in /usr/bin/python3 python3; do command -v "$p" >/dev/null && "$p" -c 'import numpy' 2>/dev/null && py=$p && break; done
if [ -z "$pydir" ]; then
    echo "FAIL: the Python package is not installed"; exit 1
elif [ -z "$py" ]; then
    echo "install.sh: SKIPPED the Python check: no python3 with numpy"
else
    pre=""
    [ $sanitize = 1 ] && pre="$(cc -print-file-name=libasan.so)"
    got=$(cd "$TMP" && env -u RELSTAB_LIB PYTHONPATH="$(dirname "$pydir")" LD_PRELOAD="$pre" ASAN_OPTIONS=detect_leaks=0 \
          "$py" -c 'import numpy as np, relstab; from relstab import _lib
x = np.ones((1, 1, 8, 8), np.float32); x[0, 0, :, :4] = 0
print(_lib.path, relstab.diffeo(x, delta=1.0).shape)') || { echo "FAIL: the installed Python package does not work"; exit 1; }
    case "$got" in "$TMP/prefix/"*"(1, 1, 8, 8)") ;; *) echo "FAIL: the installed package used '$got'"; exit 1 ;; esac
fi
"$TMP/prefix/bin/relstab" --version >/dev/null || { echo "FAIL: installed relstab does not run"; exit 1; }
echo "install.sh: all checks passed"
