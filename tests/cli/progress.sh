#!/usr/bin/env bash
# End-to-end test of the progress display (relstab/progress.h): on a terminal (a pseudo-terminal from script(1)) a
# bar with the rate and the ETA for every measure pass, the test pass and the tracking measurements of train, and
# the theory model; without a terminal, plain lines only (no carriage return), one per step; --quiet: nothing.
# Usage: bash progress.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init progress "$@"
command -v script >/dev/null || { echo "progress.sh: script(1) is missing (util-linux)"; exit 1; }
on_tty() { script -qec "$*" /dev/null; } # runs the command with stdin, stdout and stderr on a pseudo-terminal
CR=$(printf '\r')

out=$(on_tty "$BIN" measure --model lenet --init --data twopoints:testsize=200 --P 200 --batch 10 --nodes fc3)
expect_in "$out" "measure pass 1/1 [" "measure: a bar on a terminal"
expect_in "$out" "img/s ETA " "measure: rate and ETA"
expect_in "$out" "measure: pass 1/1: 200 probe images" "measure: the line of the pass"
out=$("$BIN" measure --model lenet --init --data twopoints:testsize=200 --P 200 --batch 10 --nodes fc3 2>&1 >/dev/null)
case "$out" in *"$CR"*|*"ETA"*) fail "measure without a terminal draws a bar: $out" ;; esac
expect_in "$out" "measure: pass 1/1: 200 probe images" "measure: the line without a terminal"
out=$(on_tty "$BIN" measure --model lenet --init --data twopoints:testsize=200 --P 200 --nodes fc3 --quiet)
case "$out" in *"measure pass"*|*"measure: pass"*) fail "--quiet shows progress: $out" ;; esac

out=$(on_tty "$BIN" train --model gapmf1d --data "scale1d:L=64,xi=16,ntrain=256,nval=32" --recipe scale1d \
      --stop epochs --width 16 --depth 6 --epochs 1 --track-every 1 --track-P 20 --out "$TMP/run")
expect_in "$out" "epoch 1/1 [" "train: the epoch bar"
expect_in "$out" "test pass [" "train: the test pass bar"
expect_in "$out" "measure pass 1/1 [" "train: the tracking bar"
expect_in "$out" "measure: pass 1/1: 20 probe images" "train: the tracking line"

out=$(on_tty "$BIN" theory --dim 2 --depth 4)
expect_in "$out" "theory model [" "theory: a bar on a terminal"
expect_in "$out" "theory: the model ran 1024 probes x 2 passes" "theory: the line of the run"
cli_done
