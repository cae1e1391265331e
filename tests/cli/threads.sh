#!/usr/bin/env bash
# End-to-end test of the thread defaults (issue 9 item 15): the default thread count is the number of cores the
# process may run on (its affinity mask, here narrowed with taskset), a larger --threads is capped with a one-line
# message, and the program runs with OpenMP's passive wait policy (idle threads sleep instead of spinning) unless
# the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT. `relstab --version` reports all three.
# Usage: bash threads.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init threads "$@"

out=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$BIN" --version) || fail "--version exited non-zero"
expect_in "$out" "OpenMP wait policy: passive" "default wait policy"
expect_in "$out" "fast path: " "--version names the fast path"
out=$(OMP_WAIT_POLICY=active "$BIN" --version)
expect_in "$out" "OpenMP wait policy: active" "a user's OMP_WAIT_POLICY is kept"
out=$(env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=1000 "$BIN" --version)
expect_in "$out" "OpenMP wait policy: GOMP_SPINCOUNT set" "a user's GOMP_SPINCOUNT is kept"

ncpu=$(nproc)
out=$("$BIN" --version)
expect_in "$out" "threads: $ncpu by default" "default = nproc ($ncpu)"
if command -v taskset >/dev/null 2>&1; then
    out=$(taskset -c 0 "$BIN" --version)
    expect_in "$out" "threads: 1 by default" "taskset -c 0: one core"
    err=$(taskset -c 0 "$BIN" data info twopoints:ptr=64,testsize=16 --threads 3 2>&1 >/dev/null)
    expect_in "$err" "--threads 3 capped at 1" "--threads above the affinity mask"
fi
big=$((ncpu + 1))
err=$("$BIN" data info twopoints:ptr=64,testsize=16 --threads "$big" 2>&1 >/dev/null) || fail "--threads $big failed"
expect_in "$err" "--threads $big capped at $ncpu, the number of cores this process may run on" "--threads capped"
[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "cap message: more than one line: $err"
err=$("$BIN" data info twopoints:ptr=64,testsize=16 --threads "$ncpu" 2>&1 >/dev/null)
[ -z "$err" ] || fail "--threads $ncpu: unexpected message: $err"

# small nets (under 2e7 FLOPs per image) train on one thread unless --threads is given; larger nets on every core
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
err=$("$BIN" train --model lenet --epochs 1 --ptr 128 --test-batch 500 --out "$T/a" 2>&1 >/dev/null) || fail "train lenet: $err"
expect_in "$err" "1 thread ->" "LeNet: one thread by default"
if [ "$ncpu" -ge 2 ]; then
    err=$("$BIN" train --model lenet --epochs 1 --ptr 128 --threads 2 --out "$T/b" 2>&1 >/dev/null) || fail "train: $err"
    expect_in "$err" "2 threads ->" "LeNet: --threads 2 is used"
    err=$("$BIN" train --model gapmf --width 256 --epochs 1 --ptr 64 --out "$T/c" 2>&1 >/dev/null) || fail "train: $err"
    expect_in "$err" "$ncpu threads ->" "a net above 2e7 FLOPs per image: every core by default"
fi

cli_done
