#!/usr/bin/env bash
# `cmake --install` puts the library, the headers, relstab.pc and the relstab binary under a prefix, and a separate
# C program compiles and links against them with pkg-config alone. Usage: bash install.sh /path/to/relstab
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
grep -q '^RELSTAB_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null && extra="-fsanitize=address,undefined"
export PKG_CONFIG_PATH="$(dirname "$pc")"
cc -std=c17 $extra $(pkg-config --cflags relstab) "$TMP/use.c" -o "$TMP/use" $(pkg-config --libs relstab) \
    || { echo "FAIL: a program does not build against the installed relstab"; exit 1; }
out=$("$TMP/use") || { echo "FAIL: the linked program failed"; exit 1; }
[ "$out" = "outputs 2" ] || { echo "FAIL: unexpected output '$out'"; exit 1; }
"$TMP/prefix/bin/relstab" --version >/dev/null || { echo "FAIL: installed relstab does not run"; exit 1; }
echo "install.sh: all checks passed"
