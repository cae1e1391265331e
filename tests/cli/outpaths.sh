#!/usr/bin/env bash
# End-to-end test of output paths and small limits: every command checks its output paths before any work (a
# missing directory, a directory given as a file, a file given as a directory: one line naming the path, exit 1,
# nothing computed); theory --plot into a missing directory says so instead of gnuplot's errors; diffeo --index
# takes ranges and many values; forward refuses a NaN input cleanly (no leak: checked in the ASan build).
# Usage: bash outputs.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init outpaths "$@"
fast() { # fast SECONDS command...: the command must fail within SECONDS (no computation before the check)
    local t0=$SECONDS
    "$BIN" "${@:2}" >/dev/null 2>&1
    [ $((SECONDS - t0)) -le "$1" ] || fail "${*:2}: took $((SECONDS - t0)) s before failing"
}
M="measure --model lenet --init --data twopoints:testsize=500 --P 500"
expect_status 1 "--out $TMP/nope/a.csv: no such directory $TMP/nope" $M --out "$TMP/nope/a.csv"
expect_status 1 "--json $TMP: is a directory" $M --json "$TMP"
touch "$TMP/file"
expect_status 1 "--dump $TMP/file/d: not a directory: $TMP/file" $M --dump "$TMP/file/d"
fast 2 $M --batch 1 --out "$TMP/nope/a.csv"
expect_status 1 "--plot $TMP/nope/t.png: no such directory $TMP/nope" theory --plot "$TMP/nope/t.png"
expect_status 1 "--csv $TMP/nope/t.csv: no such directory" theory --csv "$TMP/nope/t.csv"
expect_status 1 "--out $TMP/nope/s.csv: no such directory" spectrum --model lenet --init --out "$TMP/nope/s.csv"
expect_status 1 "--png $TMP/nope/d.png: no such directory" diffeo --png "$TMP/nope/d.png"
expect_status 1 "--out-npy $TMP/file: not a directory" diffeo --out-npy "$TMP/file"
# a directory to be created: its missing parents are fine
"$BIN" diffeo --index 0-299,400 --out-npy "$TMP/new/deep" >/dev/null || fail "diffeo into a new directory"
head -c 128 "$TMP/new/deep/index.npy" | grep -q "'shape': (301, 2)" || fail "diffeo --index 0-299,400: 301 images"
expect_status 2 "ranges A-B (A <= B), got '5-2'" diffeo --index 5-2
expect_status 2 "at most 1048576 values" diffeo --index 0-2000000

# forward: NaN images are refused with one line (and nothing leaks)
x="$TMP/nan.npy"
dict="{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 28, 28), }"
{ printf '\x93NUMPY\x01\x00\x76\x00%s' "$dict"; printf "%$((118 - ${#dict} - 1))s\n" ""
  head -c 1568 /dev/zero | tr '\0' 'Q' | sed 's/Q/\x00\x00\xc0\x7f/g'; } > "$x"
expect_status 2 "value 0 is not finite" forward --model lenet --init --input "$x" --out "$TMP/fw"
expect_status 1 "--out $TMP/file/fw: not a directory" forward --model lenet --init --input "$x" --out "$TMP/file/fw"
cli_done
