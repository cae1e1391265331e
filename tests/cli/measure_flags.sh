#!/usr/bin/env bash
# End-to-end test of the flags of degenerate measurements (`relstab measure`): constant images (every node's
# denominator is the guard alone) and --delta 0 (no perturbation, G = 0) give a `flag` column, a warning naming the
# nodes on stderr and exit 1 (every node degenerate), with the CSV and JSON still written; no "-nan" anywhere; P
# below the estimator's minimum (2 for the mean, 3 for the median) is a usage error.
# Usage: bash measure_flags.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init measure_flags "$@"
write_npy() { # write_npy FILE DESCR SHAPE: an NPY v1.0 file of zeros
    local file=$1 descr=$2 shape=$3 n=1 size
    for d in $(echo "$shape" | tr -d '()' | tr ',' ' '); do n=$((n * d)); done
    case $descr in '<f4') size=$((n * 4)) ;; *) size=$((n * 8)) ;; esac
    local dict="{'descr': '$descr', 'fortran_order': False, 'shape': $shape, }"
    local hlen=$(( (10 + ${#dict} + 1 + 63) / 64 * 64 - 10 ))
    { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((hlen % 256)))\\x$(printf %02x $((hlen / 256)))"
      printf '%s' "$dict"; printf "%$((hlen - ${#dict} - 1))s\n" ""; head -c $size /dev/zero; } > "$file"
}
mkdir -p "$TMP/zero"
for s in train test; do
    write_npy "$TMP/zero/${s}_images.npy" '<f4' '(20, 1, 28, 28)'
    write_npy "$TMP/zero/${s}_labels.npy" '<i8' '(20,)'
done
ZERO="npy:$TMP/zero,layout=nchw"

# constant images: every node degenerate
out=$("$BIN" measure --model lenet --init --data "$ZERO" --P 10 --nodes conv1,relu,fc3 --out "$TMP/z.csv" \
      --json "$TMP/z.json" 2>"$TMP/err")
rc=$?
err=$(cat "$TMP/err")
[ $rc -eq 1 ] || fail "constant images: exit $rc, expected 1"
expect_in "$err" "warning: 3 of 3 nodes flagged zero_denominator" "constant images: warning"
expect_in "$err" ": conv1, relu, fc3" "constant images: the warning names the nodes"
expect_in "$err" "every node is degenerate" "constant images: the exit reason"
expect_in "$out" "zero_denominator" "constant images: the table shows the flag"
case "$out$(cat "$TMP/z.csv")" in *-nan*) fail "-nan printed: $out" ;; esac
head -1 "$TMP/z.csv" | grep -q ',seed,aliased,flag$' || fail "CSV header has no flag column: $(head -1 "$TMP/z.csv")"
[ "$(tail -n +2 "$TMP/z.csv" | awk -F, '{ print $NF }' | sort -u)" = zero_denominator ] || fail "CSV flags"
grep -q '"flag":.*"zero_denominator"' "$TMP/z.json" || fail "JSON has no flag"

# no perturbation: G = 0, R undefined, at every node
"$BIN" measure --model lenet --init --data twopoints:testsize=50 --perturb diffeo --delta 0 --P 10 \
    --nodes conv1,fc3 --quiet --out "$TMP/d.csv" 2>"$TMP/err"
rc=$?
[ $rc -eq 1 ] || fail "--delta 0: exit $rc, expected 1"
expect_in "$(cat "$TMP/err")" "2 of 2 nodes flagged zero_denominator" "--delta 0: warning"

# a healthy measurement: flag ok, exit 0, no warning
"$BIN" measure --model lenet --init --data twopoints:testsize=50 --P 10 --nodes conv1,fc3 --quiet \
    --out "$TMP/ok.csv" 2>"$TMP/err" || fail "healthy measurement failed: $(cat "$TMP/err")"
[ "$(tail -n +2 "$TMP/ok.csv" | awk -F, '{ print $NF }' | sort -u)" = ok ] || fail "healthy CSV flags"
case "$(cat "$TMP/err")" in *warning*) fail "healthy measurement warned: $(cat "$TMP/err")" ;; esac

# P below the estimator's minimum
expect_status 2 "the mean estimator needs P >= 2" measure --model lenet --init --data twopoints:testsize=50 --P 1
expect_status 2 "the median estimator needs P >= 3" measure --model lenet --init --data twopoints:testsize=50 --P 2 \
    --estimator median
cli_done
