# mpi_sweep.sh: `mpirun -n 3 relstab sweep GRID.json` over 6 tiny runs (train + measure), with one worker rank
# killed (SIGKILL) in the middle of a run after at least one run finished. Open MPI then ends the whole job; the
# same command run again finishes the grid: every run ends with sweep.done, its log.csv has each epoch once, in
# order, its measurement; the runs finished before the kill are not run again (their files are untouched); the
# killed run, resumed, ends bit-identical to the same run trained alone without interruption (one thread in
# both). Also: the grid format's errors, and --list.
# Usage: bash mpi_sweep.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init mpi_sweep "$@"
source "$(dirname "$0")/mpi_common.inc"
mpi_setup

cd "$TMP" || exit 1
DATA="scale1d:L=256,xi=64,ntrain=896,nval=32" # runs of 2-4 s: a kill lands inside one (the poll is 20 ms)
TRAIN="--model gapmf1d --data $DATA --recipe scale1d --stop epochs --width 64 --depth 4"
{
    echo '{"runs": ['
    for i in 1 2 3 4 5 6; do
        sep=$([ $i -lt 6 ] && echo ,)
        echo "  {\"dir\": \"runs/r$i\", \"train\": \"$TRAIN --epochs $((3 + i % 3)) --seed $i\", \"measure\": [\"--P 20 --json {dir}/sens.json\"]}$sep"
    done
    echo ']}'
} >grid.json

# the format's errors: one line, exit 2, nothing run
echo '{"runs": [{"dir": "x", "train": "--model lenet --out y"}]}' >bad1.json
expect_status 2 "must not contain --out" sweep bad1.json
echo '{"runs": [{"train": "--model lenet"}]}' >bad2.json
expect_status 2 "\"dir\" and \"train\"" sweep bad2.json
echo '[{"dir": "a", "train": "--model lenet"}, {"dir": "a", "train": "--model lenet"}]' >bad3.json
expect_status 2 "two runs have the directory a" sweep bad3.json
[ -e x ] || [ -e a ] && fail "a refused grid created a run directory"

list=$("$BIN" sweep grid.json --list) || fail "--list"
[ "$(printf '%s\n' "$list" | grep -c '^new ')" -eq 6 ] || fail "--list before running: $list"

# first attempt: kill one worker in the middle of a run once a run has finished
"${MPIRUN[@]}" -n 3 "$BIN" sweep grid.json >first.out 2>first.err &
job=$!
victim="" vdir=""
for _ in $(seq 1 1200); do
    done_n=$(ls runs/*/sweep.done 2>/dev/null | wc -l)
    if [ "$done_n" -ge 1 ]; then
        for d in runs/*; do
            [ -e "$d/sweep.done" ] && continue
            pid=$(head -1 "$d/lock" 2>/dev/null)
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then victim=$pid vdir=$d; break; fi
        done
    fi
    [ -n "$victim" ] && break
    kill -0 $job 2>/dev/null || { echo "poll: the job ended ($done_n done)"; break; }
    sleep 0.02
done
[ -n "$victim" ] || fail "no run was caught in the middle (the grid ran too fast or failed: $(tail -3 first.err))"
[ -n "$victim" ] && kill -9 "$victim"
wait $job && fail "the sweep with a killed rank exited 0"
echo "killed pid $victim working on $vdir; first attempt finished $(ls runs/*/sweep.done 2>/dev/null | wc -l) runs"
[ -n "$vdir" ] && [ -e "$vdir/sweep.done" ] && fail "the killed run is marked done"
declare -A before
for d in runs/*; do
    [ -e "$d/sweep.done" ] && before[$d]=$(md5sum "$d/last.safetensors" "$d/sweep.done" "$d/sens.json" | md5sum)
done

# second attempt: finishes the grid
"${MPIRUN[@]}" -n 3 "$BIN" sweep grid.json >second.out 2>second.err || fail "rerun failed: $(tail -5 second.err)"
expect_in "$(cat second.out)" "6 of 6 runs finished" "rerun summary"
for d in "${!before[@]}"; do
    expect_in "$(cat second.err)" "$d: already done" "a finished run is skipped"
    [ "${before[$d]}" = "$(md5sum "$d/last.safetensors" "$d/sweep.done" "$d/sens.json" | md5sum)" ] \
        || fail "$d was finished before the kill and was changed by the rerun"
done
for i in 1 2 3 4 5 6; do
    d=runs/r$i epochs=$((3 + i % 3))
    [ -e "$d/sweep.done" ] && [ -s "$d/sens.json" ] || fail "$d is not finished"
    got=$(tail -n +2 "$d/log.csv" | cut -d, -f1 | tr '\n' ' ')
    [ "$got" = "$(seq -s ' ' 1 $epochs) " ] || fail "$d/log.csv epochs: '$got', expected 1..$epochs once each"
done
list=$("$BIN" sweep grid.json --list)
[ "$(printf '%s\n' "$list" | grep -c '^done ')" -eq 6 ] || fail "--list after the rerun: $list"

# the killed run, resumed, is the run trained alone in one go
if [ -n "$vdir" ]; then
    i=${vdir#runs/r}
    "$BIN" train $TRAIN --epochs $((3 + i % 3)) --seed "$i" --threads 1 --out alone --quiet >/dev/null || fail "the run alone"
    cmp -s alone/last.safetensors "$vdir/last.safetensors" || fail "$vdir resumed differs from the run alone"
fi
cli_done
