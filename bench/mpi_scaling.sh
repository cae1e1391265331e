#!/usr/bin/env bash
# mpi_scaling.sh BUILD_DIR: the scaling of relstab under mpirun on this machine, ranks x threads = CORES (default
# 2): data-parallel training of VGG11bn (one epoch of PTR 32x32 two-points images, batch 64, recipe twopoints; the
# rate is the training pass's images/s from log.csv, without the evaluation of the 200 test images) and sharded measurement of VGG11bn (P probe images,
# batch 50), each alone with CORES threads and under mpirun with CORES ranks of 1 thread. Prints a table with the
# load average before each timing (the machine may be shared: compare only numbers taken at a similar load).
# Not a test (not in ctest). Environment: CORES (2), PTR (512), P (200), REPEAT (2: the best of REPEAT runs).
set -euo pipefail
if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    echo "usage: bash bench/mpi_scaling.sh BUILD_DIR   (env: CORES, PTR, P, REPEAT)" >&2
    exit 2
fi
bin=$(cd "$1" && pwd)/relstab
cores=${CORES:-2} ptr=${PTR:-512} P=${P:-200} repeat=${REPEAT:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpirun=(mpirun --oversubscribe -x OMP_NUM_THREADS)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
load() { cut -d' ' -f1-3 /proc/loadavg; }

# train RANKS: the best training rate (images/s) of REPEAT one-epoch runs
train() {
    local n=$1 best=0 rate
    for r in $(seq 1 "$repeat"); do
        local out="$tmp/t$n-$r" args=(train --model vgg11bn --data "twopoints:d=32,testsize=200,ptr=$ptr"
              --recipe twopoints --batch 64 --epochs 1 --test-batch 200 --quiet --out "$tmp/t$n-$r")
        if [ "$n" -eq 1 ]; then OMP_NUM_THREADS=$cores "$bin" "${args[@]}" --threads "$cores" >/dev/null
        else OMP_NUM_THREADS=$((cores / n)) "${mpirun[@]}" -n "$n" "$bin" "${args[@]}" >/dev/null; fi
        rate=$(tail -1 "$out/log.csv" | cut -d, -f7)
        best=$(awk -v a="$best" -v b="$rate" 'BEGIN { print (b > a ? b : a) }')
    done
    echo "$best"
}

# measure RANKS: the best wall time (s) of REPEAT measurements
measure() {
    local n=$1 best=1e30 t0 t
    for r in $(seq 1 "$repeat"); do
        local args=(measure --model vgg11bn --init --mode trained --data fashionmnist --P "$P" --batch 50 --quiet
              --json "$tmp/m$n.json")
        t0=$(date +%s.%N)
        if [ "$n" -eq 1 ]; then OMP_NUM_THREADS=$cores "$bin" "${args[@]}" --threads "$cores" >/dev/null
        else OMP_NUM_THREADS=$((cores / n)) "${mpirun[@]}" -n "$n" "$bin" "${args[@]}" >/dev/null; fi
        t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
        best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (b < a ? b : a) }')
    done
    echo "$best"
}

printf '%-36s %6s %8s %14s %12s %s\n' job ranks threads result efficiency "load before"
l=$(load); t1=$(train 1)
printf '%-36s %6d %8d %10s im/s %12s %s\n' "train vgg11bn (twopoints 32x32)" 1 "$cores" "$t1" 1.00 "$l"
l=$(load); t2=$(train "$cores")
printf '%-36s %6d %8d %10s im/s %12s %s\n' "train vgg11bn (twopoints 32x32)" "$cores" 1 "$t2" \
    "$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b / a }')" "$l"
l=$(load); m1=$(measure 1)
printf '%-36s %6d %8d %12s s %12s %s\n' "measure vgg11bn P=$P (incl. start)" 1 "$cores" "$m1" 1.00 "$l"
l=$(load); m2=$(measure "$cores")
printf '%-36s %6d %8d %12s s %12s %s\n' "measure vgg11bn P=$P (incl. start)" "$cores" 1 "$m2" \
    "$(awk -v a="$m1" -v b="$m2" 'BEGIN { printf "%.2f", a / b }')" "$l"
echo "efficiency: rate with $cores ranks x 1 thread / rate with 1 rank x $cores threads (1.00 = as fast)"
