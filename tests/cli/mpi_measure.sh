# mpi_measure.sh: sharded measurement. `relstab measure` on 1, 2 and 3 ranks (mpirun) gives the same D, G, R,
# numerators and denominators to 1e-10 relative: each rank forwards whole batches of the probe set (the same
# batches as one rank forwards), and rank 0 merges the per-neuron Welford sums and the numerator accumulators in
# double (Chan's formula). Also: only rank 0 writes; a median run (not sharded: every rank runs it) on 2 ranks and
# a --resample run on 3 ranks agree as well.
# Usage: bash mpi_measure.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init mpi_measure "$@"
source "$(dirname "$0")/mpi_common.inc"
mpi_setup

if [ -d /usr/share/datasets/fashion-mnist ]; then DATA=fashionmnist; else DATA=twopoints:testsize=200; fi
KEYS=(D G R D_num G_num deno D_se G_se)
measure() { # measure RANKS NAME args...: JSON in $TMP/NAME.json
    local n=$1 name=$2
    shift 2
    local cmd=("$BIN" measure --model lenet --init --mode trained --data "$DATA" --batch 16 --json "$TMP/$name.json" --quiet "$@")
    if [ "$n" -eq 1 ]; then "${cmd[@]}" 2>"$TMP/$name.err"; else "${MPIRUN[@]}" -n "$n" "${cmd[@]}" 2>"$TMP/$name.err"; fi \
        || fail "$name: measure on $n ranks failed: $(tail -3 "$TMP/$name.err")"
    json_numbers "$TMP/$name.json" "${KEYS[@]}" >"$TMP/$name.num"
}

# variant:ranks:arguments (the mean estimator on 2 and 3 ranks, the others on one of them each, to keep it short)
for variant in "mean:2 3:--P 70 --seeds 2" "resample:3:--P 40 --seeds 3 --resample" "median:2:--P 32 --estimator median"; do
    v=${variant%%:*} rest=${variant#*:}
    ranks=${rest%%:*}
    read -r -a args <<<"${rest#*:}"
    measure 1 "${v}1" "${args[@]}"
    for n in $ranks; do
        measure "$n" "$v$n" "${args[@]}"
        r=$(max_rel "$TMP/${v}1.num" "$TMP/$v$n.num")
        echo "$v: 1 vs $n ranks: max relative difference $r over $(wc -l <"$TMP/${v}1.num") numbers"
        awk -v r="$r" 'BEGIN { exit !(r <= 1e-10) }' || fail "$v: $n ranks differ from 1 rank by $r (relative)"
    done
done
# the number of images forwarded is the whole probe set's, not a rank's share
f1=$(json_numbers "$TMP/mean1.json" images_forwarded) f3=$(json_numbers "$TMP/mean3.json" images_forwarded)
[ "$f1" = "$f3" ] && [ "$f1" = 350 ] || fail "images forwarded: $f1 (1 rank) vs $f3 (3 ranks), expected 350"
# only rank 0 writes: no temporary files of other ranks left, one table printed
out=$("${MPIRUN[@]}" -n 2 "$BIN" measure --model lenet --init --mode trained --data "$DATA" --P 20 --batch 8 \
      --out "$TMP/t.csv" 2>/dev/null) || fail "measure with a table on 2 ranks"
[ "$(printf '%s\n' "$out" | grep -c '^conv1 ')" -eq 1 ] || fail "the table was printed $(printf '%s\n' "$out" | grep -c '^conv1 ') times"
[ "$(ls "$TMP" | grep -c 'tmp')" -eq 0 ] || fail "temporary files left: $(ls "$TMP")"
cli_done
