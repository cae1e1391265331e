#!/usr/bin/env bash
# reproduce.sh: `relstab reproduce` end to end on the tiny scale (seconds per experiment): every experiment writes
# its tables with the expected columns and rows, its figures (PNG and SVG), its verdicts and the report; a rerun
# trains nothing (finished runs are skipped); an experiment killed with SIGKILL in the middle of its grid finishes
# when run again, without redoing the runs that had finished; usage errors exit 2 with one line.
source "$(dirname "$0")/lib.sh"
cli_init reproduce "$@"
OUT=$TMP/out

# ---------------------------------------------------------------- usage errors
expect_status 2 "give an experiment" reproduce --out "$OUT"
expect_status 2 "unknown experiment 'figure9'" reproduce figure9 --out "$OUT"
expect_status 2 "--out DIR is required" reproduce layers
expect_status 2 "--data expects fashionmnist or cifar10:DIR" reproduce layers --out "$OUT" --data mnist
expect_status 2 "--scale expects quick, full or tiny" reproduce layers --out "$OUT" --scale huge
expect_status 2 "--seeds must be between 1 and 1000" reproduce layers --out "$OUT" --seeds 0

# ---------------------------------------------------------------- dry run: the grid, nothing written
dry=$("$BIN" reproduce all --scale quick --out "$OUT" --dry-run 2>&1) || fail "dry run failed: $dry"
expect_in "$dry" "runs/layers/vgg11bn-e2-p0-s0" "dry run lists the layers grid"
case "$dry" in *"runs/layers/vgg11-"*) fail "quick: VGG11 listed although --models does not name it" ;; esac
expect_in "$dry" "still to run" "dry run estimates the time"
[ ! -e "$OUT/runs" ] || fail "the dry run created run directories"
sub=$("$BIN" reproduce layers --scale quick --models lenet,vgg11 --out "$OUT" --dry-run 2>&1)
expect_in "$sub" "3 runs," "--models keeps LeNet (2 seeds) and VGG11 (1 seed)"
expect_status 2 "--models keeps none" reproduce layers --scale tiny --models resnet18 --quiet --out "$TMP/none"
full=$("$BIN" reproduce layers --scale full --seeds 1 --out "$OUT" --dry-run 2>&1)
expect_in "$full" "vgg11-e250-p0-s0" "full scale: 250 epochs on the whole training set"

# ---------------------------------------------------------------- every experiment on the tiny scale
log=$("$BIN" reproduce all --scale tiny --out "$OUT" --threads 2 2>&1) || fail "reproduce all failed: $log"
expect_in "$log" "report: $OUT/index.html" "prints the report's path"
[ -s "$OUT/index.html" ] || fail "no report"

header() { head -1 "$1"; }
rows() { tail -n +2 "$1" | wc -l; }
check_table() { # check_table FILE HEADER MIN_ROWS
    [ -s "$1" ] || { fail "missing table $1"; return; }
    [ "$(header "$1")" = "$2" ] || fail "$1: header '$(header "$1")', expected '$2'"
    [ "$(rows "$1")" -ge "$3" ] || fail "$1: $(rows "$1") rows, expected at least $3"
}
TIDY="experiment,model,condition,node,layer,quantity,mean,se,n,gmean"
WIDE="model,condition,node,layer,D_mean,D_se,G_mean,G_se,R_mean,R_se,n"
# LeNet has 12 nodes after the input: 4 conditions x 12 nodes x 3 quantities
check_table "$OUT/layers/layers.csv" "$TIDY" 144
check_table "$OUT/layers/layers_lenet.csv" "$WIDE" 48
[ "$(grep -c '^lenet,shuffle2,' "$OUT/layers/layers_lenet.csv")" = 12 ] || fail "layers: not 12 shuffle2 rows"
# two seeds aggregated: n = 2 on every row, a finite standard error
awk -F, 'NR > 1 && ($11 != 2 || $6 == "nan") { bad = 1 } END { exit bad }' "$OUT/layers/layers_lenet.csv" ||
    fail "layers: rows without 2 seeds or without a standard error"
check_table "$OUT/twopoints/twopoints.csv" "$TIDY" 99
check_table "$OUT/twopoints/twopoints_errors.csv" "model,seed,ptr,epochs,test_err" 2
check_table "$OUT/scale1d/scale1d.csv" "$TIDY" 42
check_table "$OUT/output-vs-error/output_vs_error_runs.csv" "model,noise,seed,test_err,D,G,R,sqrtR" 6
check_table "$OUT/output-vs-error/output_vs_error.csv" "experiment,model,condition,node,quantity,mean,se,n" 30
check_table "$OUT/spectra/spectra.csv" "experiment,model,condition,node,layer,quantity,mean,se,n" 8
check_table "$OUT/spectra/spectra_layers_figure.csv" "model,condition,conv_layer,frac0,frac0_se,n" 4
check_table "$OUT/theory/fits_1d-stride2.csv" "quantity,law,predicted,fitted,se,k_lo,k_hi" 3
for e in theory scale1d output-vs-error layers twopoints spectra; do
    check_table "$OUT/$e/verdicts.csv" "figure,claim,verdict,numbers" 1
    [ -s "$OUT/$e/timing.csv" ] || fail "$e: no timing.csv"
    [ -s "$OUT/$e/figures.txt" ] || fail "$e: no figures.txt"
    while IFS=$'\t' read -r fig title; do
        for x in png svg; do [ -s "$OUT/$e/$fig.$x" ] || fail "$e: missing figure $fig.$x"; done
    done < "$OUT/$e/figures.txt"
    # every verdict is one of the four words
    tail -n +2 "$OUT/$e/verdicts.csv" | grep -v -E '^"[^"]*","[^"]*","(holds|partly|does not hold|reported|not measured)",' &&
        fail "$e: a verdict outside holds/partly/does not hold/reported"
    grep -q "id=\"$e\"" "$OUT/index.html" || fail "report: no section for $e"
done
head -c 4 "$OUT/layers/layers_lenet.png" | grep -q PNG || fail "layers_lenet.png is not a PNG"
grep -q '<svg' "$OUT/layers/layers_lenet.svg" || fail "layers_lenet.svg is not an SVG"
grep -q 'fashionmnist' "$OUT/layers/settings.txt" || fail "settings do not name the data set"
grep -q -i 'script' "$OUT/index.html" && fail "the report has a script"

# ---------------------------------------------------------------- a rerun trains nothing
stamp=$(stat -c %Y.%s "$OUT"/runs/layers/lenet-e1-p256-s0/best.safetensors)
log2=$("$BIN" reproduce layers --scale tiny --out "$OUT" 2>&1) || fail "rerun failed: $log2"
case "$log2" in *"relstab reproduce: run "*) fail "the rerun ran a finished run again: $log2" ;; esac
[ "$(stat -c %Y.%s "$OUT"/runs/layers/lenet-e1-p256-s0/best.safetensors)" = "$stamp" ] || fail "rerun rewrote a run"

# ---------------------------------------------------------------- kill -9 in the middle of a grid, then resume
K=$TMP/kill
"$BIN" reproduce output-vs-error --scale tiny --seeds 2 --out "$K" --threads 1 > "$TMP/kill.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do # until the first run has finished
    [ -n "$(find "$K/runs" -name result.csv 2>/dev/null | head -1)" ] && break
    sleep 0.1
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
done_before=$(find "$K/runs" -name result.csv | sort)
[ -n "$done_before" ] || fail "kill test: no run had finished before the kill"
n_before=$(echo "$done_before" | wc -l)
[ "$n_before" -lt 12 ] || fail "kill test: the grid had finished before the kill ($n_before runs)"
first=$(echo "$done_before" | head -1)
stamp=$(stat -c %Y.%s "$first")
log3=$("$BIN" reproduce output-vs-error --scale tiny --seeds 2 --out "$K" --threads 1 2>&1) || fail "resume failed: $log3"
[ "$(find "$K/runs" -name result.csv | wc -l)" = 12 ] || fail "kill test: not every run finished after the rerun"
[ "$(stat -c %Y.%s "$first")" = "$stamp" ] || fail "kill test: a run finished before the kill was redone"
ran=$(printf '%s\n' "$log3" | grep -c 'relstab reproduce: run ')
[ "$ran" -eq $((12 - n_before)) ] || fail "kill test: the rerun ran $ran runs, expected $((12 - n_before))"
check_table "$K/output-vs-error/output_vs_error_runs.csv" "model,noise,seed,test_err,D,G,R,sqrtR" 12
grep -q ',nan,' "$K/output-vs-error/output_vs_error_runs.csv" && fail "kill test: a run without results"

# ---------------------------------------------------------------- --jobs 2 gives the same tables
J=$TMP/jobs
"$BIN" reproduce theory --scale tiny --out "$J" --jobs 2 > /dev/null 2>&1 || fail "theory with --jobs 2 failed"
cmp -s "$J/theory/fits_1d-stride2.csv" "$OUT/theory/fits_1d-stride2.csv" || fail "--jobs 2 changed the theory fits"

cli_done
