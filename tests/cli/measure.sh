#!/usr/bin/env bash
# End-to-end test of `relstab measure`, `relstab forward` and `relstab spectrum` on LeNet: a fresh initialisation
# and a one-epoch run on FashionMNIST (Debian's package; the twopoints task when it is not installed). Checks the
# CSV (header, one row per node, positive D, G, R), the JSON and the dumped inputs, that a second run gives the same
# CSV, the local translations of twopoints, the median estimator, forward's output shapes, the spectrum CSV, and
# the one-line errors (exit 2 for a bad argument, 1 for a file that does not fit).
# Usage: bash measure.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init measure "$@"
expect_error() { expect_status "$@"; } # expect_error CODE "needle" command args...
npy_shape() { # the shape tuple in an NPY header, e.g. "(40, 6, 24, 24)"
    head -c 128 "$1" | LC_ALL=C tr -d '\0' | LC_ALL=C sed -n "s/.*'shape': \(([^)]*)\).*/\1/p"
}
csv_col() { # csv_col FILE NAME: the values of column NAME (no quoted commas before it in these files)
    awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } { print $c }' "$1"
}

if [ -d /usr/share/datasets/fashion-mnist ]; then DATA=fashionmnist CLASSES=10; else DATA=twopoints:testsize=200 CLASSES=2; fi

for cmd in measure forward spectrum; do
    out=$("$BIN" $cmd --help) || fail "$cmd --help exited non-zero"
    expect_in "$out" "usage: relstab $cmd" "$cmd --help"
done

# ---------------------------------------------------------------- measure at init
out=$("$BIN" measure --model lenet --init --data "$DATA" --P 40 --threads 2 --out "$TMP/a.csv" --json "$TMP/a.json" \
      --dump "$TMP/dump" 2>"$TMP/err") || fail "measure lenet --init failed: $(cat "$TMP/err")"
expect_in "$out" "lenet (init-seed:0, init: batch statistics)" "measure header"
expect_in "$out" "max_pool2d_1" "measure table"
head -1 "$TMP/a.csv" | grep -q '^node,op,neurons,D,G,R,D_se,G_se,R_se,D_num,G_num,deno,P,seeds,perturbation,T,' ||
    fail "CSV header: $(head -1 "$TMP/a.csv")"
[ "$(wc -l < "$TMP/a.csv")" -eq 13 ] || fail "CSV: expected 12 node rows, got $(($(wc -l < "$TMP/a.csv") - 1))"
[ "$(csv_col "$TMP/a.csv" node | tr '\n' ' ')" = "conv1 relu max_pool2d conv2 relu_1 max_pool2d_1 view fc1 relu_2 fc2 relu_3 fc3 " ] ||
    fail "CSV node column: $(csv_col "$TMP/a.csv" node | tr '\n' ' ')"
for col in D G R D_se deno; do
    bad=$(csv_col "$TMP/a.csv" $col | awk '!($1 > 0) { n++ } END { print n + 0 }')
    [ "$bad" -eq 0 ] || fail "CSV column $col has $bad values that are not > 0"
done
[ "$(csv_col "$TMP/a.csv" mode | sort -u)" = "init" ] || fail "CSV mode column"
grep -q '"nodes"' "$TMP/a.json" || fail "JSON has no nodes"
for f in probe deformed noisy; do
    [ "$(npy_shape "$TMP/dump/$f.npy")" = "(40, 1, 28, 28)" ] || fail "dump $f.npy shape $(npy_shape "$TMP/dump/$f.npy")"
done
[ "$(npy_shape "$TMP/dump/index.npy")" = "(40,)" ] || fail "dump index.npy shape"
# the same command gives the same numbers (counter-based draws, fixed reduction order)
"$BIN" measure --model lenet --init --data "$DATA" --P 40 --threads 2 --out "$TMP/b.csv" --quiet || fail "second run"
cmp -s "$TMP/a.csv" "$TMP/b.csv" || fail "two identical runs gave different CSVs"

# ---------------------------------------------------------------- options
out=$("$BIN" measure --model lenet --init --data twopoints:testsize=200 --P 20 --nodes conv1,fc3 --quiet \
      --out "$TMP/t.csv") || fail "measure on twopoints"
[ "$(csv_col "$TMP/t.csv" perturbation | sort -u)" = "translate2d" ] || fail "twopoints: local translations by default"
"$BIN" measure --model lenet --init --data "$DATA" --P 12 --estimator median --nodes relu,fc3 --quiet \
    --out "$TMP/m.csv" || fail "median estimator"
[ "$(csv_col "$TMP/m.csv" D_se | sort -u)" = "nan" ] || fail "median: no standard error over images"
"$BIN" measure --model lenet --init --data "$DATA" --P 12 --seeds 3 --shuffle 2 --channel-mean --quiet \
    --out "$TMP/s.csv" --nodes conv2 || fail "seeds, shuffle, channel mean"
[ "$(csv_col "$TMP/s.csv" neurons)" = "64" ] || fail "channel mean of conv2: 8 x 8 values per image"
"$BIN" measure --model lenet --init --data "$DATA" --P 12 --noise diffeo --nodes fc3 --quiet --out "$TMP/r1.csv" ||
    fail "noise diffeo"
[ "$(csv_col "$TMP/r1.csv" R)" = "1" ] || fail "noise = diffeo: R = 1, got $(csv_col "$TMP/r1.csv" R)"

# ---------------------------------------------------------------- a trained run, forward, spectrum
"$BIN" train --model lenet --data "$DATA" --ptr 256 --epochs 1 --batch 64 --out "$TMP/run" --quiet >/dev/null ||
    fail "train a one-epoch run"
out=$("$BIN" measure --run "$TMP/run" --P 30 --out "$TMP/run.csv" 2>/dev/null) || fail "measure --run"
expect_in "$out" "(best, trained: eval mode)" "measure --run header"
[ "$(csv_col "$TMP/run.csv" checkpoint | sort -u)" = "best" ] || fail "checkpoint column"
"$BIN" measure --run "$TMP/run" --checkpoint init --P 30 --quiet --out "$TMP/run.csv" --append || fail "--append"
[ "$(wc -l < "$TMP/run.csv")" -eq 25 ] || fail "appended CSV: $(wc -l < "$TMP/run.csv") lines, expected 25"
"$BIN" forward --run "$TMP/run" --input "$TMP/dump/probe.npy" --nodes conv1,view,fc3 --out "$TMP/fw" >/dev/null ||
    fail "forward"
[ "$(npy_shape "$TMP/fw/conv1.npy")" = "(40, 6, 24, 24)" ] || fail "forward conv1 shape $(npy_shape "$TMP/fw/conv1.npy")"
[ "$(npy_shape "$TMP/fw/fc3.npy")" = "(40, $CLASSES)" ] || fail "forward fc3 shape $(npy_shape "$TMP/fw/fc3.npy")"
"$BIN" forward --model lenet --init --input "$TMP/dump/probe.npy" --out "$TMP/fw2" >/dev/null || fail "forward --init"
[ -f "$TMP/fw2/fc3.npy" ] || fail "forward writes the output node by default"
out=$("$BIN" spectrum --run "$TMP/run" --out "$TMP/spec.csv") || fail "spectrum"
expect_in "$out" "conv2 (5x5, 96 filters)" "spectrum table"
[ "$(wc -l < "$TMP/spec.csv")" -eq 51 ] || fail "spectrum CSV: 2 layers x 25 rows + header"

# ---------------------------------------------------------------- errors
expect_error 2 "'foo' is no node name" measure --model lenet --init --data "$DATA" --P 10 --nodes conv1,foo
expect_error 2 "is larger than the" measure --model lenet --init --data "$DATA" --P 100000
expect_error 2 "give --run DIR or --model NAME" measure --P 10
expect_error 2 "--model needs --data" measure --model lenet --init
expect_error 2 "give --delta or --T" measure --model lenet --init --data "$DATA" --delta 1 --T 0.001
expect_error 2 "--shuffle must be between 0 and 2" measure --model lenet --init --data "$DATA" --shuffle 3
expect_error 2 "estimator 'mode' is unknown" measure --model lenet --init --data "$DATA" --estimator mode
expect_error 1 "is not a parameter of the net" measure --model vgg11 --weights "$TMP/run/best.safetensors" --data "$DATA"
expect_error 2 "--checkpoint must be best, last or init" measure --run "$TMP/run" --checkpoint worst
expect_error 1 "config.json" measure --run "$TMP/nonexistent"
expect_error 2 "no --weights / --init" forward --run "$TMP/run" --init --input "$TMP/dump/probe.npy" --out "$TMP/x"
expect_error 2 "give --input" forward --model lenet --init --out "$TMP/x"

cli_done
