#!/usr/bin/env bash
# End-to-end test of `relstab theory`: the issue's two commands (stride 2 filter 2 depth 8; stride 1 filter 3
# depth 64) print exponents within 0.1 of the laws, with their uncertainties, in well under a minute; the CSV has a
# row per layer; the PNG is written by gnuplot; --compare reads the hand-written sens.csv fixture; --bias-study
# prints the table and the onsets; bad flags exit 2 (usage) with one line on stderr.
# Usage: bash theory.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init theory "$@"
expect_error() { local code=$1 needle=$2; shift 2; expect_status "$code" "$needle" theory "$@"; }
HERE=$(cd "$(dirname "$0")" && pwd)
FIX="$HERE/../fixtures/theory/pool1d_run"
slope() { # slope "output" Q: the fitted exponent of D, G or R
    printf '%s\n' "$1" | awk -v q="$2" '$1 == q && $3 == "+-" { print $2; exit }'
}
within() { # within value target tol
    awk -v v="$1" -v t="$2" -v e="$3" 'BEGIN { d = v - t; if (d < 0) d = -d; exit !(v != "" && d < e) }'
}
png_size() {
    local b
    b=($(od -An -tu1 -j16 -N8 "$1"))
    echo $(( (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] )) $(( (b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7] ))
}

out=$("$BIN" theory --help) || fail "--help exited non-zero"
expect_in "$out" "usage: relstab theory" "--help"
expect_in "$out" "--bias-study" "--help lists the bias study"

# The issue's first command: stride = filter = 2, depth 8, D ~ 2^-k and G ~ 2^k (log2 units per layer)
t0=$(date +%s.%N)
out=$("$BIN" theory --stride 2 --filter 2 --depth 8 --csv "$TMP/s2.csv" --plot "$TMP/s2.png") || fail "stride 2 run failed"
t1=$(date +%s.%N)
echo "stride 2 filter 2 depth 8: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
printf '%s\n' "$out" | grep -E '^  [DGR] |^fit range|probe size'
expect_in "$out" "probe size N = 4096 (16.0 x RF(L))" "automatic probe size"
expect_in "$out" "fit range k = 4..8" "fit range"
within "$(slope "$out" D)" -1 0.1 || fail "stride 2: D exponent $(slope "$out" D) not within 0.1 of -1"
within "$(slope "$out" G)" 1 0.1 || fail "stride 2: G exponent $(slope "$out" G) not within 0.1 of +1"
within "$(slope "$out" R)" -2 0.2 || fail "stride 2: R exponent $(slope "$out" R) not within 0.2 of -2"
[ "$(wc -l < "$TMP/s2.csv")" -eq 9 ] || fail "CSV: expected a header and 8 rows"
expect_in "$(head -1 "$TMP/s2.csv")" "k,width,rf,d_num,d_num_se,g_num,g_num_se,deno,D,D_se,G,G_se,R" "CSV header"
[ "$(awk -F, 'NR == 9 { print $29 }' "$TMP/s2.csv")" = exact ] || fail "CSV: stride 2 rows carry exact values"
[ "$(png_size "$TMP/s2.png")" = "1000 650" ] || fail "PNG: size $(png_size "$TMP/s2.png")"

# The issue's second command: stride 1, filter 3, depth 64, N above the receptive field; D ~ 1/k, G ~ k^(1/2)
t0=$(date +%s.%N)
out=$("$BIN" theory --stride 1 --filter 3 --depth 64) || fail "stride 1 run failed"
t1=$(date +%s.%N)
echo "stride 1 filter 3 depth 64: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
printf '%s\n' "$out" | grep -E '^  [DGR] |^fit range|probe size|curves'
expect_in "$out" "RF(64) = 129; probe size N = 2064" "probe size above the receptive field"
expect_in "$out" "fit range k = 32..64" "fit range"
within "$(slope "$out" D)" -1 0.1 || fail "stride 1: D exponent $(slope "$out" D) not within 0.1 of -1"
within "$(slope "$out" G)" 0.5 0.1 || fail "stride 1: G exponent $(slope "$out" G) not within 0.1 of 1/2"
within "$(slope "$out" R)" -1.5 0.2 || fail "stride 1: R exponent $(slope "$out" R) not within 0.2 of -3/2"

# Same numbers for any thread count (the CSV holds every digit)
"$BIN" theory --depth 5 --threads 1 --csv "$TMP/t1.csv" > /dev/null || fail "1-thread run failed"
"$BIN" theory --depth 5 --threads 2 --csv "$TMP/t2.csv" > /dev/null || fail "2-thread run failed"
cmp -s "$TMP/t1.csv" "$TMP/t2.csv" || fail "1 and 2 threads differ"

# 2D, and the comparison with a trained net's curves
out=$("$BIN" theory --dim 2 --depth 3 --size 32) || fail "2D run failed"
expect_in "$out" "shifted by one site along the width" "2D diffeo axis"
out=$("$BIN" theory --compare "$FIX" --compare-nodes .mul --padding circular --plot "$TMP/cmp.png") || fail "--compare failed"
expect_in "$out" "trained net next to the model" "--compare table"
expect_in "$out" "conv.6.mul" "--compare reads every layer"
expect_in "$out" "D -1.000 +- 0.000 (law -1)" "--compare fits the net's exponents"
[ -s "$TMP/cmp.png" ] || fail "--compare --plot wrote no PNG"
expect_error 1 "both map to layer 1" --compare "$FIX" --nodes all
expect_error 1 "cannot open $TMP/nowhere" --compare "$TMP/nowhere"

# The bias study
out=$("$BIN" theory --bias-study --biases 0,0.01 --etas 0.001,1,100 --repeats 1 --csv "$TMP/b.csv") || fail "bias study failed"
expect_in "$out" "G_4 / eta^2 at the last layer" "bias table"
expect_in "$out" "eta_c = 0.1131" "bias onset for b = 0.01, N = 256"
[ "$(wc -l < "$TMP/b.csv")" -eq 25 ] || fail "bias CSV: 2 biases x 3 etas x 4 layers + header"

# Bad flags: one line, exit 2
expect_error 2 "--stride must be 1, 2 or the filter size 2, got 3" --stride 3
expect_error 2 "--filter must be between 2 and 64, got 1" --filter 1
expect_error 2 "too large for --size 100" --depth 8 --size 100
expect_error 2 "--dim must be between 1 and 2" --dim 3
expect_error 2 "unknown option" --frobnicate
expect_error 2 "--depth needs a value" --depth
expect_error 2 "--padding expects zero or circular" --padding reflect
expect_error 2 "belong to --bias-study" --etas 1,2
expect_error 2 "--probes is for --dim 2" --probes 10
expect_error 1 "above the 2048 MB limit" --dim 2 --stride 1 --filter 3 --size 1000000
expect_error 2 "may not contain quotes" --depth 3 --plot "$TMP/it's.png"

cli_done
