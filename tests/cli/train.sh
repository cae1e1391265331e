#!/usr/bin/env bash
# End-to-end test of `relstab train`: --help, one-line errors with a non-zero exit for bad flags, unknown models,
# datasets a model cannot take and a hinge loss on a multi-class dataset; a short run on the 1-D task writes the
# whole run directory, and a finished run is never overwritten. Usage: bash train.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init train "$@"
expect_error() { local needle=$1; shift; expect_status nz "$needle" train "$@"; }

out=$("$BIN" train --help) || fail "--help exited non-zero"
expect_in "$out" "--recipe" "--help lists --recipe"
expect_in "$out" "paper-cnn" "--help lists the recipes"

expect_error "unknown model 'nope'" --model nope --out "$TMP/a"
expect_error "unknown or incomplete option '--bogus'" --model lenet --bogus --out "$TMP/a"
expect_error "--epochs must be between" --model lenet --epochs 0 --out "$TMP/a"
expect_error "--lr expects a number" --model lenet --lr fast --out "$TMP/a"
expect_error "unknown recipe 'fast'" --model lenet --recipe fast --out "$TMP/a"
expect_error "height 1" --model gapmf1d --data fashionmnist --out "$TMP/a"
expect_error "hinge loss needs a two-class dataset" --model lenet --loss hinge --out "$TMP/a"
expect_error "--resume needs --out" --resume
expect_error "config.json" --resume --out "$TMP/nothing-here"
expect_error "--model is required" --epochs 1
[ -e "$TMP/a/config.json" ] && fail "a refused run left a config.json"

DATA="scale1d:L=64,xi=16,ntrain=256,nval=32"
out=$("$BIN" train --model gapmf1d --data "$DATA" --recipe scale1d --stop epochs --width 16 --depth 6 --epochs 3 \
      --threads 1 --out "$TMP/run" 2>"$TMP/err") || fail "short scale1d run failed: $(cat "$TMP/err")"
expect_in "$out" "after 3 epochs" "summary line"
for f in config.json log.csv init.safetensors best.safetensors last.safetensors resume.safetensors; do
    [ -s "$TMP/run/$f" ] || fail "run directory lacks $f"
done
[ "$(wc -l < "$TMP/run/log.csv")" -eq 4 ] || fail "log.csv should have a header and 3 rows"
expect_in "$(head -1 "$TMP/run/log.csv")" "epoch,lr,train_loss,train_err,test_loss,test_err,images_per_s,wall_s" "log header"
expect_in "$(cat "$TMP/run/config.json")" '"lr_times_width":	1' "config records the resolved settings"
expect_in "$(cat "$TMP/err")" "epoch 3/3" "a line per epoch when stderr is not a terminal"
before=$(md5sum "$TMP/run/last.safetensors")
expect_error "already holds a run" --model gapmf1d --data "$DATA" --recipe scale1d --width 16 --depth 6 \
    --epochs 3 --out "$TMP/run"
[ "$before" = "$(md5sum "$TMP/run/last.safetensors")" ] || fail "a refused run changed last.safetensors"
# resuming a finished run does nothing and succeeds
"$BIN" train --resume --out "$TMP/run" --quiet >/dev/null || fail "resume of a finished run failed"
[ "$before" = "$(md5sum "$TMP/run/last.safetensors")" ] || fail "resuming a finished run changed its weights"

# stale temporary files of a dead process are removed when the run directory is next locked
( exit 0 ) & dead=$!; wait $dead
echo x > "$TMP/run/log.csv.tmp.$dead"
echo x > "$TMP/run/last.safetensors.tmp.$$"
"$BIN" train --resume --out "$TMP/run" --quiet >/dev/null 2>&1
[ -e "$TMP/run/log.csv.tmp.$dead" ] && fail "a dead process's log.csv.tmp.$dead was not removed"
[ -e "$TMP/run/last.safetensors.tmp.$$" ] || fail "a live process's temporary file was removed"

# two trains on one run directory: the second is refused with the first one's pid, --resume included
"$BIN" train --model gapmf1d --data "$DATA" --recipe scale1d --stop epochs --width 16 --depth 6 --epochs 100000 \
    --threads 1 --quiet --out "$TMP/busy" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 200); do [ -s "$TMP/busy/config.json" ] && [ -s "$TMP/busy/lock" ] && break; sleep 0.05; done
expect_status 2 "in use by process $holder" train --model gapmf1d --data "$DATA" --recipe scale1d --width 16 \
    --depth 6 --epochs 3 --threads 1 --out "$TMP/busy"
expect_status 2 "in use by process $holder" train --resume --out "$TMP/busy"
kill "$holder"; wait "$holder" 2>/dev/null
expect_status 2 "already holds a run" train --model gapmf1d --data "$DATA" --recipe scale1d --width 16 \
    --depth 6 --epochs 3 --threads 1 --out "$TMP/busy"

cli_done
