#!/usr/bin/env bash
# End-to-end test of the thread defaults (issue 9 item 15, issue 11): the default thread count is the number of
# cores the process may run on (its affinity mask, here narrowed with taskset) less those other processes keep busy
# (here: a busy loop on every core leaves one thread), a larger --threads is capped with a one-line
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
expect_in "$out" "(the $ncpu cores this process may run on, less " "--version names the cores ($ncpu)"
# the default is the cores less those other processes keep busy (other tests may run beside this one)
n=$(printf '%s\n' "$out" | sed -n 's/.*threads: \([0-9]*\) by default.*/\1/p')
b=$(printf '%s\n' "$out" | sed -n 's/.*, less \([0-9]*\) busy with other processes.*/\1/p')
[ -n "$n" ] && [ -n "$b" ] && [ "$n" -eq $((ncpu - b)) ] && [ "$n" -ge 1 ] || fail "default $n != $ncpu - $b busy: $out"
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
err=$("$BIN" train --model lenet --epochs 1 --ptr 128 --test-batch 500 --out "$T/a" 2>&1 >/dev/null) ||
        fail "train lenet: $err"
expect_in "$err" "1 thread ->" "LeNet: one thread by default"
if [ "$ncpu" -ge 2 ]; then
    err=$("$BIN" train --model lenet --epochs 1 --ptr 128 --threads 2 --out "$T/b" 2>&1 >/dev/null) ||
        fail "train: $err"
    expect_in "$err" "2 threads ->" "LeNet: --threads 2 is used"
    tiny=twopoints:ptr=64,testsize=16
    err=$("$BIN" train --model gapmf --width 256 --epochs 1 --data $tiny --out "$T/c" 2>&1 >/dev/null) ||
        fail "train: $err"
    case "$err" in # every core, unless another process (another test) holds some at that moment
    *"$ncpu threads ->"* | *"busy with other processes) ->"*) ;;
    *) fail "a net above 2e7 FLOPs per image: not every free core by default: $err" ;;
    esac
    grep -q '"threads":[[:space:]]*[1-9]' "$T/c/config.json" || fail "config.json does not record the count used"

    # with a busy loop on every core, the default leaves all but one out, says so, and a new run records it
    pids=()
    for _ in $(seq "$ncpu"); do
        (while :; do :; done) &
        pids+=($!)
    done
    sleep 0.2
    out=$("$BIN" --version)
    err=$("$BIN" train --model gapmf --width 256 --epochs 1 --data $tiny --out "$T/d" 2>&1 >/dev/null) ||
        fail "busy: $err"
    kill "${pids[@]}"
    wait "${pids[@]}" 2>/dev/null || true
    expect_in "$out" "threads: 1 by default" "busy loops on every core: one thread by default"
    expect_in "$err" "1 thread ($((ncpu - 1)) of $ncpu cores busy with other processes) ->" "busy: the train header"
    grep -q '"threads":[[:space:]]*1,' "$T/d/config.json" || fail "busy: config.json does not record 1 thread"
    # an explicit --threads is kept whatever the load, and the header adds no note
    err=$("$BIN" train --model lenet --epochs 1 --data $tiny --threads 2 --out "$T/e" 2>&1 >/dev/null) ||
        fail "train: $err"
    expect_in "$err" "2 threads ->" "--threads 2: no busy note"
fi

cli_done
