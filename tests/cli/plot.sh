#!/usr/bin/env bash
# End-to-end test of `relstab plot`, `measure --plot` and the figures of `train --track-every`, on hand-made CSV
# files: a measure CSV with two groups (PNG and SVG), repeated rows averaged, NaN and flagged rows left out with a
# note, a single node, an aggregated CSV (D_mean, D_se), a sens.csv against epoch, a scatter with its least-squares
# line; and the errors: missing column, empty file, header only, no row left, bad extension, unknown figure. Every
# figure is decoded by figcheck.py (valid PNG with the curves' colours drawn, or well-formed SVG).
# Usage: bash plot.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init plot "$@"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
expect_error() { local code=$1 needle=$2; shift 2; expect_status "$code" "$needle" plot "$@"; }
# png_ok FILE W H COLOUR...: a decodable PNG of W x H with more than 8 pixels of each colour (the curves)
png_ok() {
    local f=$1 w=$2 h=$3 out
    shift 3
    out=$("$PY" "$HERE/figcheck.py" "$f" "$@" 2>&1) || { fail "$f: $out"; return; }
    set -- $out
    [ "$1 $2" = "$w $h" ] || fail "$f: size $1 x $2, expected $w x $h"
    shift 2
    for n in "$@"; do [ "$n" -gt 8 ] || fail "$f: a curve colour has only $n pixels ($out)"; done
}
svg_ok() { # svg_ok FILE RGB: a well-formed SVG drawing in that colour (gnuplot writes rgb(r, g, b))
    local out
    out=$("$PY" "$HERE/figcheck.py" "$1" 2>&1) || { fail "$1: $out"; return; }
    grep -q "$2" "$1" || fail "$1: no element of colour $2"
}
BLUE=1f77b4 RED=d62728

H=node,op,D,G,R,D_se,G_se,R_se,checkpoint,shuffle,seed
cat >"$TMP/m.csv" <<CSV
$H
conv1,conv2d,0.5,0.4,1.25,0.01,0.01,0.02,init,0,0
relu,relu,0.4,0.5,0.8,0.01,0.01,0.02,init,0,0
fc,linear,0.3,0.6,0.5,0.01,0.01,0.02,init,0,0
conv1,conv2d,0.2,0.4,0.5,0.01,0.01,0.02,best,0,0
relu,relu,0.1,0.5,0.2,0.01,0.01,0.02,best,0,0
fc,linear,0.01,0.6,0.0166,0.001,0.01,0.002,best,0,0
CSV
out=$("$BIN" plot --help) || fail "--help exited non-zero"
expect_in "$out" "usage: relstab plot depth|epochs|scatter" "--help"
out=$("$BIN" plot depth "$TMP/m.csv" -o "$TMP/m.png" 2>&1) || fail "depth: $out"
expect_in "$out" "wrote $TMP/m.png (6 rows, 2 curves)" "depth"
png_ok "$TMP/m.png" 1200 450 $BLUE $RED
"$BIN" plot depth "$TMP/m.csv" -o "$TMP/m.svg" --size 900x400 >/dev/null || fail "depth svg"
svg_ok "$TMP/m.svg" "rgb(214,  39,  40)"
out=$("$BIN" plot depth "$TMP/m.csv" -o "$TMP/one.png" --group "" 2>&1) || fail "--group ''"
expect_in "$out" "1 curve)" "--group '' gives one curve"
out=$("$BIN" plot depth "$TMP/m.csv" -o "$TMP/w.png" --where checkpoint=best 2>&1) || fail "--where"
expect_in "$out" "3 of 6 rows left out (--where)" "--where note"
expect_in "$out" "(3 rows, 1 curve)" "--where"

# Seeds appended to one CSV: three rows per node are averaged (the figure exists; the numbers: test_plot.c)
{ echo "$H"; for s in 0 1 2; do echo "conv1,conv2d,0.$((s + 1)),0.4,1,0.01,0.01,0.02,init,0,$s"
  echo "fc,linear,0.0$((s + 1)),0.4,1,0.01,0.01,0.02,init,0,$s"; done; } >"$TMP/seeds.csv"
out=$("$BIN" plot depth "$TMP/seeds.csv" -o "$TMP/seeds.png" 2>&1) || fail "seeds: $out"
expect_in "$out" "(6 rows, 1 curve)" "seeds averaged into one curve"

# NaN and flagged rows: left out with a note, the rest drawn
cat >"$TMP/nan.csv" <<CSV
node,D,G,R,flag
a,0.5,0.4,1.25,
b,nan,0.5,nan,
c,0.3,0.6,0.5,degenerate
d,0.2,0,inf,
e,0.1,0.2,0.5,ok
CSV
out=$("$BIN" plot depth "$TMP/nan.csv" -o "$TMP/nan.png" 2>&1) || fail "NaN rows: $out"
expect_in "$out" "1 of 5 rows left out: flagged" "flag note"
expect_in "$out" "2 of 5 rows have a value left out" "NaN note"
png_ok "$TMP/nan.png" 1200 450 $BLUE

# A single node
printf 'node,D,G,R\nfc3,0.3,0.2,1.5\n' >"$TMP/single.csv"
out=$("$BIN" plot depth "$TMP/single.csv" -o "$TMP/single.png" 2>&1) || fail "single node: $out"
png_ok "$TMP/single.png" 1200 450 $BLUE

# An aggregated CSV (mean and standard-error columns, a group column)
cat >"$TMP/agg.csv" <<CSV
group,node,D_mean,D_se,G_mean,G_se,R_mean,R_se
init,conv1,0.5,0.05,0.4,0.04,1.25,0.1
init,fc,0.4,0.05,0.4,0.04,1,0.1
trained,conv1,0.1,0.02,0.4,0.04,0.25,0.05
trained,fc,0.01,0.002,0.5,0.04,0.02,0.005
CSV
out=$("$BIN" plot depth "$TMP/agg.csv" -o "$TMP/agg.svg" 2>&1) || fail "aggregated: $out"
expect_in "$out" "2 curves" "aggregated CSV grouped by its group column"
svg_ok "$TMP/agg.svg" "rgb( 31, 119, 180)"

# D, G, R against epoch: a sens.csv, the run directory or the file
mkdir "$TMP/run"
{ echo "node,op,epoch,D,G,R,D_se,G_se,R_se"
  for e in 0 1 2 3; do for n in conv1 relu fc; do echo "$n,x,$e,0.$((5 - e)),0.4,$((5 - e)),0.01,0.01,0.1"; done; done
} >"$TMP/run/sens.csv"
out=$("$BIN" plot epochs "$TMP/run" -o "$TMP/e.png" 2>&1) || fail "epochs: $out"
expect_in "$out" "(12 rows, 3 curves)" "epochs: a curve per node"
png_ok "$TMP/e.png" 1200 450 $BLUE $RED
out=$("$BIN" plot epochs "$TMP/run/sens.csv" -o "$TMP/e2.png" --nodes fc 2>&1) || fail "epochs --nodes"
expect_in "$out" "(4 rows, 1 curve)" "epochs --nodes"

# Scatter: test error against R with the least-squares line: y = 0.1 x^0.5 exactly, so slope 0.5 and r = 1
cat >"$TMP/s.csv" <<CSV
model,R,test_err
a,1,0.1
a,4,0.2
b,16,0.4
b,100,1
c,nan,0.3
CSV
out=$("$BIN" plot scatter "$TMP/s.csv" --x R --y test_err --group model --fit -o "$TMP/s.png" 2>&1) || fail "scatter: $out"
expect_in "$out" "slope 0.5, intercept -1, correlation r = 1.0000" "scatter fit"
expect_in "$out" "1 of 5 rows left out" "scatter NaN note"
png_ok "$TMP/s.png" 800 600
out=$("$BIN" plot scatter "$TMP/s.csv" --x R --y test_err --linear xy --fit -o "$TMP/s.svg" 2>&1) || fail "scatter linear"
svg_ok "$TMP/s.svg" "svg"

# Errors: a clear line and the exit code (1: the file; 2: usage); nothing written
printf 'node,D,G\na,1,2\n' >"$TMP/nocol.csv"
expect_error 1 "has no column 'R' (or 'R_mean')" depth "$TMP/nocol.csv" -o "$TMP/x.png"
: >"$TMP/empty.csv"
expect_error 1 "is empty (no header line)" depth "$TMP/empty.csv" -o "$TMP/x.png"
printf 'node,D,G,R\n' >"$TMP/header.csv"
expect_error 1 "has a header but no rows" depth "$TMP/header.csv" -o "$TMP/x.png"
printf 'node,D,G,R\na,nan,nan,nan\n' >"$TMP/allnan.csv"
expect_error 1 "no row left to plot" depth "$TMP/allnan.csv" -o "$TMP/x.png"
printf 'node,D,G,R\na,1,2\n' >"$TMP/ragged.csv"
expect_error 1 "ragged.csv:2: 3 fields where the header has 4" depth "$TMP/ragged.csv" -o "$TMP/x.png"
expect_error 1 "cannot open" depth "$TMP/missing.csv" -o "$TMP/x.png"
expect_error 1 "has no column 'epoch'" epochs "$TMP/m.csv" -o "$TMP/x.png"
expect_error 1 "has no column 'nope' (--y)" scatter "$TMP/s.csv" --x R --y nope -o "$TMP/x.png"
expect_error 1 "has no column 'nope' (--group)" depth "$TMP/m.csv" --group nope -o "$TMP/x.png"
expect_error 2 "must end in .png or .svg" depth "$TMP/m.csv" -o "$TMP/x.pdf"
expect_error 2 "unknown figure 'bars'" bars "$TMP/m.csv" -o "$TMP/x.png"
expect_error 2 "scatter needs --x COL and --y COL" scatter "$TMP/s.csv" -o "$TMP/x.png"
expect_error 2 "-o OUT.png or OUT.svg is required" depth "$TMP/m.csv"
expect_error 2 "belong to scatter" depth "$TMP/m.csv" --fit -o "$TMP/x.png"
expect_error 2 "--where expects COL=V1,V2" depth "$TMP/m.csv" --where epoch -o "$TMP/x.png"
expect_error 1 "directory $TMP/nodir does not exist" depth "$TMP/m.csv" -o "$TMP/nodir/x.png"
expect_status 1 "directory $TMP/nodir does not exist" theory --depth 3 --plot "$TMP/nodir/t.png"
[ ! -e "$TMP/x.png" ] || fail "a failed plot left $TMP/x.png"
# A failed plot leaves an existing figure alone
cp "$TMP/m.png" "$TMP/keep.png"
"$BIN" plot depth "$TMP/allnan.csv" -o "$TMP/keep.png" 2>/dev/null && fail "all-NaN plot succeeded"
cmp -s "$TMP/m.png" "$TMP/keep.png" || fail "a failed plot changed the existing figure"
ls "$TMP"/*.tmp.* >/dev/null 2>&1 && fail "temporary files left: $(ls "$TMP"/*.tmp.*)"

# measure --plot and train --track-every draw their figures without a second command
if [ -d /usr/share/datasets/fashion-mnist ]; then DATA=fashionmnist; else DATA=twopoints:testsize=200; fi
out=$("$BIN" measure --model lenet --init --data "$DATA" --P 12 --quiet --plot "$TMP/meas.png" 2>&1) || fail "measure --plot: $out"
png_ok "$TMP/meas.png" 1200 450 $BLUE
t0=$(date +%s)
expect_status 1 "directory $TMP/nodir does not exist" measure --model lenet --init --data "$DATA" --plot "$TMP/nodir/m.png"
[ $(( $(date +%s) - t0 )) -lt 5 ] || fail "measure --plot into a missing directory: refused only after the work"
expect_status 2 "not .png or .svg" measure --model lenet --init --data "$DATA" --P 12 --plot "$TMP/meas.jpg"
out=$("$BIN" train --model lenet --data "$DATA" --ptr 128 --epochs 1 --batch 64 --track-every 1 --track-P 8 \
      --out "$TMP/trun" --quiet 2>&1) || fail "train --track-every: $out"
expect_in "$out" "wrote $TMP/trun/sens.png and $TMP/trun/depth.png" "train figures"
png_ok "$TMP/trun/sens.png" 1200 450 $BLUE
png_ok "$TMP/trun/depth.png" 1200 450 $BLUE $RED
cli_done
