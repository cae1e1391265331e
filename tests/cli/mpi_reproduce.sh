# mpi_reproduce.sh: `mpirun relstab reproduce EXPERIMENT --scale tiny` hands the runs of the grid to the ranks.
# - 3 ranks write the same aggregated tables, verdicts and figure list as one process (training and measuring are
#   deterministic per run, one thread each), the same set of files outside the run directories (no rank's extra or
#   temporary file), and the report once.
# - One working rank killed (SIGKILL) in the middle of a run after at least one run finished: the job ends with an
#   error; the same command on 2 ranks finishes the grid; the runs finished before the kill are not run again (their
#   files are untouched, the rerun names only the others), every run's log.csv has each epoch once, and the tables
#   equal the one-process ones.
# - --jobs under mpirun is refused (exit 2), --dry-run lists the grid once.
# - A run that fails: every rank exits 1 together (no abort), the other runs finish, nothing is aggregated.
# Usage: bash mpi_reproduce.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init mpi_reproduce "$@"
source "$(dirname "$0")/mpi_common.inc"
mpi_setup

cd "$TMP" || exit 1
EXP=output-vs-error
ARGS=(reproduce "$EXP" --scale tiny)
TABLES="output_vs_error_runs.csv output_vs_error.csv output_vs_error_figure.csv verdicts.csv figures.txt"
outside() { (cd "$1" && find . -path ./runs -prune -o -type f -print | sed 's/\.tmp\.[0-9]*$/.tmp/' | sort); }
same_tables() { # same_tables DIR WHAT
    for f in $TABLES; do
        [ -s "$1/$EXP/$f" ] || fail "$2: $EXP/$f is missing"
        cmp -s "ref/$EXP/$f" "$1/$EXP/$f" || fail "$2: $EXP/$f differs from the one-process run: $(diff "ref/$EXP/$f" "$1/$EXP/$f" | head -4)"
    done
}

# the reference: one process, one thread
"$BIN" "${ARGS[@]}" --out ref --threads 1 --quiet >ref.out 2>ref.err || fail "one process: $(tail -3 ref.err)"

# usage under mpirun: --jobs refused before anything is written; a dry run lists the grid once
out=$("${MPIRUN[@]}" -n 2 "$BIN" "${ARGS[@]}" --out j --jobs 2 2>&1) && fail "--jobs 2 under mpirun ran"
expect_in "$out" "--jobs 2 under mpirun" "--jobs under mpirun"
[ -e j ] && fail "a refused --jobs created its output directory"
out=$("${MPIRUN[@]}" -n 3 "$BIN" "${ARGS[@]}" --out d --dry-run 2>&1) || fail "dry run under mpirun: $out"
[ "$(printf '%s\n' "$out" | grep -c '^== output-vs-error')" -eq 1 ] || fail "the dry run is not listed once: $out"
[ -e d/runs ] && fail "a dry run under mpirun created run directories"

# 3 ranks: the same tables, the same files, one report
"${MPIRUN[@]}" -n 3 "$BIN" "${ARGS[@]}" --out m3 --quiet >m3.out 2>m3.err || fail "3 ranks: $(tail -5 m3.err)"
[ "$(grep -c '^report: ' m3.out)" -eq 1 ] || fail "3 ranks: the report is not announced once: $(cat m3.out)"
same_tables m3 "3 ranks"
[ "$(outside ref)" = "$(outside m3)" ] || fail "3 ranks wrote other files than one process: $(diff <(outside ref) <(outside m3))"
[ "$(find m3 -name index.html | wc -l)" -eq 1 ] && [ -s m3/index.html ] || fail "3 ranks: not one report"
expect_in "$(cat m3/$EXP/settings.txt)" "MPI: 3 ranks" "settings name the ranks"
[ "$(cut -d, -f4 m3/$EXP/timing.csv | tail -1)" = 2 ] || fail "timing.csv: not 2 working ranks: $(cat m3/$EXP/timing.csv)"

# a working rank killed in the middle of a run, then the same command on 2 ranks
"${MPIRUN[@]}" -n 3 "$BIN" "${ARGS[@]}" --out k --quiet >k1.out 2>k1.err &
job=$!
victim="" vdir=""
for _ in $(seq 1 3000); do
    if ls k/runs/$EXP/*/result.csv >/dev/null 2>&1; then
        for d in k/runs/$EXP/*; do
            [ -e "$d/result.csv" ] && continue
            pid=$(head -1 "$d/lock" 2>/dev/null)
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then victim=$pid vdir=$d; break; fi
        done
    fi
    [ -n "$victim" ] && break
    kill -0 $job 2>/dev/null || break
    sleep 0.01
done
[ -n "$victim" ] || fail "no run was caught in the middle (the grid ran too fast or failed: $(tail -3 k1.err))"
[ -n "$victim" ] && kill -9 "$victim"
wait $job && fail "reproduce with a killed rank exited 0"
[ -n "$vdir" ] && [ -e "$vdir/result.csv" ] && fail "the killed run is marked finished"
[ -e k/index.html ] && fail "the killed job wrote the report"
declare -A before
for d in k/runs/$EXP/*; do
    [ -e "$d/result.csv" ] && before[$d]=$(cat "$d"/*.csv "$d"/*.safetensors | md5sum)
done
echo "killed pid $victim working on $vdir; ${#before[@]} runs had finished"
"${MPIRUN[@]}" -n 2 "$BIN" "${ARGS[@]}" --out k >k2.out 2>k2.err || fail "the rerun on 2 ranks: $(tail -5 k2.err)"
for d in "${!before[@]}"; do
    [ "${before[$d]}" = "$(cat "$d"/*.csv "$d"/*.safetensors | md5sum)" ] || fail "$d finished before the kill and was changed"
    grep -qxF "relstab reproduce: run $d" k2.err && fail "$d finished before the kill and was run again"
done
[ -n "$vdir" ] && ! grep -qxF "relstab reproduce: run $vdir" k2.err && fail "the killed run $vdir was not resumed: $(head k2.err)"
for d in k/runs/$EXP/*; do
    [ -e "$d/result.csv" ] || fail "$d is not finished"
    ep=$(sed 's/.*-e\([0-9]*\)-p.*/\1/' <<<"$d")
    got=$(tail -n +2 "$d/log.csv" | cut -d, -f1 | tr '\n' ' ')
    [ "$got" = "$(seq -s ' ' 1 "$ep") " ] || fail "$d/log.csv epochs: '$got', expected 1..$ep once each"
done
same_tables k "killed and rerun"
[ -s k/index.html ] || fail "the rerun wrote no report"

# a run that fails (its directory is a file): every rank ends with exit 1 together (no MPI_Abort), rank 0 names the
# failure, the other runs are finished, no table is written
mkdir -p f/runs/$EXP && touch f/runs/$EXP/lenet-e1-p256-s0
"${MPIRUN[@]}" -n 3 "$BIN" "${ARGS[@]}" --models lenet --out f --quiet >f.out 2>f.err && fail "a failed run exited 0"
expect_in "$(cat f.err)" "grid: 1 of 3 runs failed" "the failure is reported"
grep -q "MPI_ABORT" f.err && fail "a failed run aborted the job instead of ending it: $(head -5 f.err)"
[ "$(ls f/runs/$EXP/*/result.csv | wc -l)" -eq 2 ] || fail "the other 2 runs are not finished"
[ -e f/$EXP/output_vs_error_runs.csv ] && fail "a failed grid was aggregated"
cli_done
