#!/usr/bin/env bash
# run.sh BUILD_DIR: runs the op benchmarks (BUILD_DIR/bench_ops, built by `make bench`) and, when a python3 that
# can import torch is found, bench/bench_torch.py on the same shapes and thread count; prints a side-by-side
# table (ms per call, the fastest of the calls made in the time budget; rate in GFLOP/s or GB/s). Not part of
# ctest.
# Environment: THREADS (default: all cores), SECONDS_PER (time budget per measurement, default 1),
# NO_REF=1 to skip the slow reference path, ONLY=SUBSTRING to run only the ops whose name contains it, PYTHON to
# name the interpreter that has torch. Then bench/bench_models.sh runs the whole-model jobs (training epochs and
# steps, D, G, R measurement) against PyTorch, at THREADS if it is set, else at 1 and 2 threads; MODELS=0 skips them.
set -euo pipefail
if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    echo "usage: bash bench/run.sh BUILD_DIR   (env: THREADS, SECONDS_PER, NO_REF=1, ONLY, PYTHON)" >&2
    exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/bench_ops"
if [ ! -x "$bin" ]; then
    echo "run.sh: $bin not found; build it with: cmake --build $build --target benches" >&2
    exit 1
fi
threads=${THREADS:-$(nproc)}
secs=${SECONDS_PER:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The context every number below depends on: versions, oneDNN's ISA, thread counts, the machine's load.
header() {
    echo "# ---- $(date -u '+%Y-%m-%d %H:%M UTC'); $(uname -m), $(nproc) cores available to this process," \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
    [ -x "$build/relstab" ] && "$build/relstab" --version | sed 's/^/# /'
    echo "# bench threads: $threads (ops, FMA probe); models: ${THREADS:-1 2}; load average:" \
        "$(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min; above $(nproc), other work shares the cores)"
}
header
if [ -x "$build/bench_fma" ]; then
    echo
    "$build/bench_fma" --threads 1 --batch 128 # the training batch of the VGG / ResNet steps below
fi
echo

ref_flag=()
[ "${NO_REF:-0}" = "1" ] && ref_flag=(--no-ref)
"$bin" --threads "$threads" --seconds "$secs" --only "${ONLY:-}" "${ref_flag[@]}" | tee "$tmp/c.txt"

py=""
for cand in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import torch" >/dev/null 2>&1; then
        py=$cand
        break
    fi
done
if [ -n "$py" ]; then
    "$py" "$here/bench_torch.py" --threads "$threads" --seconds "$secs" --only "${ONLY:-}" | tee "$tmp/t.txt"
else
    echo "# no python3 with torch found: PyTorch column left empty"
    : >"$tmp/t.txt"
fi

echo
echo "# side by side: ms per call (rate), $threads threads"
awk '
    /^#/ { next }
    { key = $1 " " $2; ms[key, $3] = $4; rate[key, $3] = $5; unit[key] = $6
      if (!(key in seen)) { seen[key] = 1; order[n++] = key } }
    function cell(k, p) {
        return (k SUBSEP p) in ms ? sprintf("%9.2f (%6.1f)", ms[k, p], rate[k, p]) : sprintf("%18s", "-")
    }
    END {
        printf "%-24s %-4s %18s %18s %18s %18s %8s %s\n", "op", "dir", "relstab fast", "relstab ref", "torch (NHWC)",
               "torch (NCHW)", "fast/tch", "rate unit"
        for (i = 0; i < n; i++) {
            k = order[i]; split(k, f, " ")
            best = ""
            if ((k SUBSEP "torch") in ms) best = ms[k, "torch"]
            if ((k SUBSEP "torch_nchw") in ms && (best == "" || ms[k, "torch_nchw"] < best)) best = ms[k, "torch_nchw"]
            ratio = sprintf("%8s", "-")
            if (best != "" && (k SUBSEP "fast") in ms) ratio = sprintf("%8.2f", ms[k, "fast"] / best)
            printf "%-24s %-4s %s %s %s %s %s %s\n", f[1], f[2], cell(k, "fast"), cell(k, "ref"), cell(k, "torch"),
                   cell(k, "torch_nchw"), ratio, unit[k]
        }
        print "# fast/tch: relstab fast time over the faster PyTorch layout (below 1: relstab is faster)"
    }' "$tmp/c.txt" "$tmp/t.txt"

if [ "${MODELS:-1}" != "0" ]; then
    echo
    bash "$here/bench_models.sh" "$build"
fi
echo
header
