#!/usr/bin/env bash
# End-to-end test of `relstab diffeo`: the printed T range (SPEC.md 2.3 values), mode counts, errors with a
# one-line reason and a non-zero exit, the PNG grid's size, the NPY outputs, thread-count invariance and the
# round trip builtin image -> inputs.npy -> --npy. Usage: bash diffeo.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init diffeo "$@"
expect_error() { local needle=$1; shift; expect_status nz "$needle" diffeo "$@"; }

out=$("$BIN" diffeo --help) || fail "--help exited non-zero"
expect_in "$out" "checkerboard" "--help names the built-in image"
expect_in "$out" "--out-npy" "--help lists --out-npy"

out=$("$BIN" diffeo --n 32 --cut 3 --delta 1) || fail "--n 32 --cut 3 --delta 1 failed"
expect_in "$out" "T     = 1.1318e-3" "T(delta=1, n=32, c=3)"
expect_in "$out" "T_min = 2.8295e-4" "T_min(32, 3)"
expect_in "$out" "T_max = 1.3047e-2" "T_max(3)"
expect_in "$out" "delta = 3.40 px at T_max" "delta at T_max"
expect_in "$out" "6 modes" "modes for c = 3"

out=$("$BIN" diffeo --n 28 --cut 3) || fail "--n 28 failed"
expect_in "$out" "T     = 1.4783e-3" "T(delta=1, n=28, c=3)"
out=$("$BIN" diffeo --n 32 --cut 5) || fail "--cut 5 failed"
expect_in "$out" "T     = 7.7257e-4" "T(delta=1, n=32, c=5)"
expect_in "$out" "19 modes" "modes for c = 5"
out=$("$BIN" diffeo --n 32 --cut 15) || fail "--cut 15 failed"
expect_in "$out" "172 modes" "modes for c = 15"
expect_in "$out" "T > T_max" "warning above T_max"
out=$("$BIN" diffeo --n 32 --cut 3 --T 1.1318e-3) || fail "--T failed"
expect_in "$out" "delta = 1 px" "delta from T"

expect_error "ln 1 = 0" --cut 1
expect_error "not both" --delta 1 --T 1e-3
expect_error "unknown interpolation" --interp bicubic
expect_error "unknown or incomplete option" --frobnicate
expect_error "--n" --n 1
expect_error "checker or gradient" --image zebra
expect_error "no-such-dir" --data "npy:$TMP/no-such-dir" --png "$TMP/x.png"

# PNG: 1 image, T = 0 + 6 columns of 32x32 cells zoomed 4x with 1-pixel separators: 902 x 128
"$BIN" diffeo --png "$TMP/grid.png" >/dev/null || fail "--png failed"
[ -s "$TMP/grid.png" ] || fail "no PNG written"
sig=$(head -c 8 "$TMP/grid.png" | od -An -tx1 | tr -d ' \n')
[ "$sig" = "89504e470d0a1a0a" ] || fail "not a PNG signature: $sig"
wh=$(od -An -tu1 -j16 -N8 "$TMP/grid.png" | tr -s ' ' | sed 's/^ //')
[ "$wh" = "0 0 3 134 0 0 0 128" ] || fail "PNG size bytes '$wh', expected 902 x 128"
"$BIN" diffeo --png "$TMP/grid2.png" --index 0,1 --repeats 2 --cols 3 --zoom 1 --interp gaussian >/dev/null ||
    fail "gaussian grid failed"
wh=$(od -An -tu1 -j16 -N8 "$TMP/grid2.png" | tr -s ' ' | sed 's/^ //')
[ "$wh" = "0 0 0 131 0 0 0 131" ] || fail "PNG size bytes '$wh', expected 131 x 131 (4 rows, 4 columns)"

# NPY outputs, identical for 1 and 2 threads; another seed gives another field
"$BIN" diffeo --index 0,5 --repeats 2 --out-npy "$TMP/a" --threads 1 >/dev/null || fail "--out-npy failed"
"$BIN" diffeo --index 0,5 --repeats 2 --out-npy "$TMP/b" --threads 2 >/dev/null || fail "--out-npy (2 threads) failed"
"$BIN" diffeo --index 0,5 --repeats 2 --out-npy "$TMP/c" --seed 1 >/dev/null || fail "--out-npy --seed 1 failed"
for f in inputs fields deformed index; do
    [ -s "$TMP/a/$f.npy" ] || fail "$f.npy not written"
    cmp -s "$TMP/a/$f.npy" "$TMP/b/$f.npy" || fail "$f.npy differs between 1 and 2 threads"
done
cmp -s "$TMP/a/fields.npy" "$TMP/c/fields.npy" && fail "fields.npy identical for seeds 0 and 1"
head -c 128 "$TMP/a/fields.npy" | grep -q "'shape': (4, 2, 32, 32)" || fail "fields.npy shape is not (4, 2, 32, 32)"
head -c 128 "$TMP/a/inputs.npy" | grep -q "'shape': (4, 1, 32, 32)" || fail "inputs.npy shape is not (4, 1, 32, 32)"
head -c 128 "$TMP/a/index.npy" | grep -q "'descr': '<i8'" || fail "index.npy is not int64"

# Round trip: the built-in images saved as NPY, read back with --npy (rows 0 and 1 get the fields of indices 0 and
# 1), give the same deformed images as the built-in image with --index 0,1.
"$BIN" diffeo --index 0,1 --out-npy "$TMP/d" >/dev/null || fail "--out-npy (index 0,1) failed"
"$BIN" diffeo --npy "$TMP/d/inputs.npy" --index 0,1 --out-npy "$TMP/e" >/dev/null || fail "--npy failed"
cmp -s "$TMP/d/deformed.npy" "$TMP/e/deformed.npy" || fail "--npy round trip gives other deformed images"
expect_error "disagrees" --npy "$TMP/d/inputs.npy" --n 28
expect_error "outside" --npy "$TMP/d/inputs.npy" --index 7
"$BIN" diffeo --interp gaussian --out-npy "$TMP/g" >/dev/null || fail "gaussian --out-npy failed"
[ -s "$TMP/g/smoothed.npy" ] || fail "gaussian: smoothed.npy not written"

# A real dataset when the Debian package is installed
if [ -d /usr/share/datasets/fashion-mnist ] || [ -d /usr/share/fashion-mnist ]; then
    out=$("$BIN" diffeo --data fashionmnist --index 0,1 --png "$TMP/fm.png" 2>&1) || fail "fashionmnist: $out"
    expect_in "$out" "image 28x28" "fashionmnist image size"
    expect_in "$out" "T     = 1.4783e-3" "fashionmnist T"
fi
expect_error "1-D signals" --data scale1d --png "$TMP/s.png"

cli_done
