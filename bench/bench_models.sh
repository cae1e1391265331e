#!/usr/bin/env bash
# bench_models.sh BUILD_DIR: whole-model benchmarks, relstab against PyTorch on the same work, at each thread count
# of THREADS (default "1 2"):
#   a. one epoch of LeNet on FashionMNIST: `relstab train` (train images/s from its log.csv; epoch and process wall)
#      against bench/torch_models.py train-lenet (same LeNet, data, normalisation, batch and SGD);
#   b. training steps of VGG11 and ResNet18 on random 3x32x32 inputs, batch 128: BUILD_DIR/bench_models (the
#      library called directly) against torch_models.py steps (channels-last and NCHW; the faster is compared);
#   d. a LeNet epoch and VGG11bn training steps at the default thread count and at 1 thread, alternately, REPEAT
#      times each (medians), while a busy loop holds a core (BUSY=0 skips it);
#   e. 10,000 max-entropy diffeomorphisms (c = 3, delta = 1, bilinear) of 1x28x28 and of 3x32x32 images:
#      BUILD_DIR/bench_diffeo (rs_diffeo_batch) against torch_models.py diffeo (batched gather or grid_sample remap,
#      the faster compared);
#   c. D, G, R at every node, P = 500: `relstab measure --model lenet|vgg11 --init --data fashionmnist` (process
#      wall and relstab's own timer) against torch_models.py measure (network passes + estimator only) on the very
#      inputs relstab used (--dump), with the same weights (LeNet: a short relstab training run, loaded into torch;
#      VGG11: PyTorch's initialisation, loaded into relstab with --weights); the largest relative difference of D,
#      G, R over the nodes is printed as well. VGG11bn and ResNet18: PyTorch's initial weights on both sides, batch
#      norm in eval mode (relstab measure --weights F, timed the same way);
# Ends with one table: job, relstab, torch, ratio (relstab time over torch time: below 1, relstab is faster).
# Not part of ctest. Called by bench/run.sh (`make bench`) after the op benchmarks, or on its own.
# Environment: THREADS (thread counts, default "1 2"), REPEAT (runs of the cheap jobs, the best kept, default 3),
# STEPS (timed training steps per model, default 2, after 1 warm-up), FASHION_DIR (default
# /usr/share/datasets/fashion-mnist), PYTHON (an interpreter that has torch), NO_TORCH=1 to time relstab alone,
# FULL=1 to also run the expensive PyTorch variants of the VGG11 measure (float64, and the reference's cdist
# denominator: a minute or more each here).
set -euo pipefail
if [ $# -ne 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    echo "usage: bash bench/bench_models.sh BUILD_DIR" \
        "(env: THREADS, REPEAT, STEPS, FASHION_DIR, PYTHON, NO_TORCH=1, FULL=1)" >&2
    exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
relstab="$build/relstab"
bm="$build/bench_models"
for f in "$relstab" "$bm"; do
    if [ ! -x "$f" ]; then
        echo "bench_models.sh: $f not found; build it with: cmake --build $build --target relstab benches" >&2
        exit 1
    fi
done
threads_list=${THREADS:-1 2}
repeat=${REPEAT:-3}
steps=${STEPS:-2}
fashion=${FASHION_DIR:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rows="$tmp/rows"   # job | relstab | torch | ratio | note
notes="$tmp/notes" # lines printed under the table
: >"$rows"
: >"$notes"

py=""
[ "${NO_TORCH:-0}" = 1 ] && cands="" || cands="${PYTHON:-} python3 /usr/bin/python3"
for cand in $cands; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import torch" >/dev/null 2>&1; then
        py=$cand
        break
    fi
done
[ -n "$py" ] || echo "# no python3 with torch found (set PYTHON), or NO_TORCH=1: the torch column is left empty"
have_data=1
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -f "$fashion/$f.gz" ] || [ -f "$fashion/$f" ] || have_data=0
done
data="fashionmnist:$fashion"
[ "$have_data" = 1 ] || echo "# FashionMNIST not found in $fashion (set FASHION_DIR): the LeNet training and the" \
    "measure jobs are skipped"

now() { date +%s.%N; }
# Smallest of the numbers given (the least disturbed run on a shared machine).
best() { printf '%s\n' "$@" | sort -g | head -n 1; }
# row JOB RELSTAB TORCH KIND [NOTE]: KIND time (ratio relstab / torch) or rate (ratio torch / relstab).
row() {
    local ratio=-
    if [ "$2" != - ] && [ "$3" != - ]; then
        ratio=$(awk -v a="$2" -v b="$3" -v k="$4" 'BEGIN { printf "%.2f", k == "rate" ? b / a : a / b }')
    fi
    printf '%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$ratio" "${5:-}" >>"$rows"
}
# torch_models.py with the thread count; stdout kept in $tmp/py.txt and shown.
torch_run() {
    local t=$1
    shift
    rss "$py" "$here/torch_models.py" --threads "$t" "$@" >"$tmp/py.txt"
    cat "$tmp/py.txt"
    py_rss=$rss_mb
}
# rss CMD...: runs CMD under GNU time (when installed) and sets rss_mb to its peak resident memory in MB and cpu_s
# to its CPU time (user + system, all threads) in seconds ("-" without).
rss() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%M %U %S" -o "$tmp/rss.txt" "$@"
        rss_mb=$(awk '{ v = $1 } END { printf "%.0f", v / 1024 }' "$tmp/rss.txt")
        cpu_s=$(awk '{ v = $2 + $3 } END { printf "%.3f", v }' "$tmp/rss.txt")
    else
        "$@"
        rss_mb=- cpu_s=-
    fi
}
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' "$2"; }

# --------------------------------------------------------------------------------------------- shared inputs (once)
# LeNet weights: a short relstab run; its D, G, R on P = 500 with the inputs dumped for torch. VGG11 weights: PyTorch's
# initialisation written as safetensors and measured by relstab. The probe set and perturbations depend only on the
# data, P and the seed, so these dumps are also the inputs of the timed `--init` runs below.
t1=$(echo "$threads_list" | awk '{ print $1 }')
if [ "$have_data" = 1 ]; then
    echo "# preparing the comparison runs (LeNet trained on 1280 images; VGG11 at PyTorch's initialisation)"
    "$relstab" train --model lenet --data "$data" --epochs 1 --ptr 1280 --threads "$t1" --quiet --out "$tmp/lenet_run" \
        >/dev/null
    "$relstab" measure --run "$tmp/lenet_run" --checkpoint last --P 500 --threads "$t1" --quiet \
        --dump "$tmp/lenet_dump" --out "$tmp/lenet_cmp.csv"
    if [ -n "$py" ]; then
        "$py" "$here/torch_models.py" save-weights --model vgg11 --channels 1 --out "$tmp/vgg11.safetensors" >/dev/null
        "$relstab" measure --model vgg11 --weights "$tmp/vgg11.safetensors" --data "$data" --P 500 --threads "$t1" \
            --quiet --dump "$tmp/vgg11_dump" --out "$tmp/vgg11_cmp.csv"
        # VGG11bn and ResNet18: measured (and timed) with PyTorch's initial weights in eval mode on both sides
        for model in vgg11bn resnet18; do
            "$py" "$here/torch_models.py" save-weights --model "$model" --channels 1 --out "$tmp/$model.safetensors" \
                >/dev/null
            "$relstab" measure --model "$model" --weights "$tmp/$model.safetensors" --data "$data" --P 500 \
                --threads "$t1" --quiet --dump "$tmp/${model}_dump" --out "$tmp/${model}_cmp.csv"
        done
    fi
fi

# relstab measure --init, REPEAT times: sets m_wall and m_in (best process wall, best of relstab's own timer).
# Further arguments replace --init (e.g. --weights FILE).
relstab_measure() {
    local model=$1 t=$2 walls=() ins=()
    shift 2
    local how=("$@")
    [ ${#how[@]} -gt 0 ] || how=(--init)
    for ((r = 0; r < repeat; r++)); do
        local a b
        a=$(now)
        rss "$relstab" measure --model "$model" "${how[@]}" --data "$data" --P 500 --threads "$t" --quiet \
            --json "$tmp/m.json" --out "$tmp/m.csv"
        b=$(now)
        walls+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')")
        ins+=("$(awk -F'[:,]' '/"seconds"/ { gsub(/[ \t]/, "", $2); printf "%.3f", $2 }' "$tmp/m.json")")
    done
    m_wall=$(best "${walls[@]}")
    m_in=$(best "${ins[@]}")
    m_rss=$rss_mb
    m_cpu=$cpu_s
    echo "relstab measure $model --init, $t thread(s): best of $repeat: process wall $m_wall s, measure $m_in s"
}

# torch_models.py measure on a dump: sets tm_s (passes + estimator) and tm_note; at the first thread count, appends
# the D/G/R comparison to the notes.
torch_measure() {
    local model=$1 t=$2 dtype=$3 deno=$4 rep=$5 weights=$6
    torch_run "$t" measure --model "$model" --dump "$tmp/${model}_dump" --weights "$weights" \
        --csv "$tmp/${model}_cmp.csv" --dtype "$dtype" --deno "$deno" --repeat "$rep"
    tm_s=$(field seconds "$tmp/py.txt")
    tm_cpu=$(field cpu_s "$tmp/py.txt")
    tm_note="torch $dtype, $deno: passes $(field forward_s "$tmp/py.txt") s"
    tm_note+=" + estimator $(field estimator_s "$tmp/py.txt") s"
    if [ "$t" = "$t1" ]; then
        awk -v m="$model" '/^diff_/ {
            printf "%-7s torch %s, denominator %-7s: nodes %s; max rel. diff D %s (%s), G %s (%s), R %s (%s)\n",
                   m, $2, $3, $5, $7, $8, $10, $11, $13, $14 }' "$tmp/py.txt" >>"$notes"
    fi
}

for t in $threads_list; do
    echo
    echo "# ===== $t thread(s)"
    # ---------------------------------------------------------------------------------------- a. LeNet epoch
    if [ "$have_data" = 1 ]; then
        rates=() epochs=() walls=()
        for ((r = 0; r < repeat; r++)); do
            a=$(now)
            rss "$relstab" train --model lenet --data "$data" --epochs 1 --threads "$t" --quiet --out "$tmp/train_run" \
                >/dev/null
            b=$(now)
            walls+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')")
            rates+=("$(awk -F, 'NR == 2 { print -$7 }' "$tmp/train_run/log.csv")") # negated: best() takes the smallest
            epochs+=("$(awk -F, 'NR == 2 { print $8 }' "$tmp/train_run/log.csv")")
            rm -rf "$tmp/train_run"
        done
        rs_rate=$(best "${rates[@]}" | awk '{ printf "%.0f", -$1 }')
        rs_epoch=$(best "${epochs[@]}")
        rs_wall=$(best "${walls[@]}")
        rs_rss=$rss_mb
        echo "relstab train lenet, 1 epoch, $t thread(s): best of $repeat: $rs_rate train images/s, epoch" \
            "(train + test) $rs_epoch s, process wall $rs_wall s"
        tc_rate=- tc_epoch=- tc_wall=- tc_rss=-
        if [ -n "$py" ]; then
            a=$(now)
            torch_run "$t" train-lenet --data "$fashion"
            b=$(now)
            tc_rss=$py_rss
            tc_rate=$(field images_per_s "$tmp/py.txt" | awk '{ printf "%.0f", $1 }')
            tc_epoch=$(field epoch_s "$tmp/py.txt")
            tc_wall=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')
        fi
        row "lenet epoch: train images/s, $t thr" "$rs_rate" "$tc_rate" rate \
            "relstab: best of $repeat${py:+; torch: 1 run}"
        row "lenet epoch: train + test s, $t thr" "$rs_epoch" "$tc_epoch" time
        row "lenet epoch: process wall s, $t thr" "$rs_wall" "$tc_wall" time "incl. start-up and data loading"
        row "lenet epoch: peak RSS MB, $t thr" "$rs_rss" "$tc_rss" time "maximum resident set (GNU time)"
    fi
    # ---------------------------------------------------------------------------------------- b. training steps
    rss "$bm" --threads "$t" --steps "$steps" --warmup 1 >"$tmp/bm.txt"
    cat "$tmp/bm.txt"
    bm_rss=$rss_mb
    : >"$tmp/py.txt"
    py_rss=-
    [ -n "$py" ] && torch_run "$t" steps --steps "$steps" --warmup 1
    for model in vgg11 vgg11bn resnet18; do
        rs=$(awk -v m="$model" '$1 == m && $3 == "relstab" { print $4 }' "$tmp/bm.txt")
        tc=$(awk -v m="$model" '$1 == m && $3 ~ /^torch/ && (b == "" || $4 + 0 < b + 0) { b = $4 }
                                END { print (b == "" ? "-" : b) }' "$tmp/py.txt")
        note=$(awk -v m="$model" '$1 == m && $3 == "torch" { cl = $4 } $1 == m && $3 == "torch_nchw" { nc = $4 }
            END { if (cl != "" && nc != "") printf "torch: %s is faster (channels-last %s ms, NCHW %s ms)",
                                                   cl + 0 <= nc + 0 ? "channels-last" : "NCHW", cl, nc }' "$tmp/py.txt")
        row "$model step b128 ms, $t thr" "$rs" "$tc" time "$note"
        if [ "$model" = vgg11bn ] && [ -n "$rs" ]; then # the idle machine's best, for the busy-machine job (d)
            idle_vgg=$(awk -v a="$rs" -v b="${idle_vgg:-}" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }')
        fi
        rs=$(awk -v m="$model" '$1 == m && $3 == "relstab" { print $8 }' "$tmp/bm.txt")
        tc=$(awk -v m="$model" '$1 == m && $3 ~ /^torch/ && (b == "" || $8 + 0 < b + 0) { b = $8 }
                                END { print (b == "" ? "-" : b) }' "$tmp/py.txt")
        row "$model step b128 CPU ms, $t thr" "$rs" "$tc" time "process CPU time, all threads (less load-sensitive)"
    done
    row "steps (3 models): peak RSS MB, $t thr" "$bm_rss" "$py_rss" time "one process each side"
    # ---------------------------------------------------------------------------------------- e. diffeomorphisms
    if [ -x "$build/bench_diffeo" ]; then
        rss "$build/bench_diffeo" --threads "$t" --repeat "$repeat" >"$tmp/bd.txt"
        cat "$tmp/bd.txt"
        bd_rss=$rss_mb
        : >"$tmp/py.txt"
        py_rss=-
        [ -n "$py" ] && torch_run "$t" diffeo --repeat "$repeat"
        for shape in 1x28x28 3x32x32; do
            for col in 2 3; do
                rs=$(awk -v s="diffeo_$shape" -v c="$col" '$1 == s { print $c }' "$tmp/bd.txt")
                tc=$(awk -v s="diffeo_$shape" -v c="$col" '$1 == s && (b == "" || $c + 0 < b + 0) { b = $c; p = $5 }
                                  END { print (b == "" ? "-" : b) }' "$tmp/py.txt")
                tp=$(awk -v s="diffeo_$shape" -v c="$col" '$1 == s && (b == "" || $c + 0 < b + 0) { b = $c; p = $5 }
                                  END { print p }' "$tmp/py.txt")
                what=$([ "$col" = 2 ] && echo "ms" || echo "CPU ms")
                row "diffeo 10k $shape $what, $t thr" "${rs:--}" "$tc" time "${tp:+torch: $tp (the faster), }best of $repeat"
            done
        done
        row "diffeo: peak RSS MB, $t thr" "$bd_rss" "$py_rss" time "one process each side"
    fi
    # ---------------------------------------------------------------------------------------- c. D, G, R
    [ "$have_data" = 1 ] || continue
    relstab_measure lenet "$t"
    tc=- nc="" t64=- n64="" tmo=- nmo="" tc_mrss=- tmo_cpu=-
    if [ -n "$py" ]; then
        torch_measure lenet "$t" float32 cdist "$repeat" "$tmp/lenet_run/last.safetensors"
        tc=$tm_s nc=$tm_note tc_mrss=$py_rss
        torch_measure lenet "$t" float64 cdist "$repeat" "$tmp/lenet_run/last.safetensors"
        t64=$tm_s n64=$tm_note
        torch_measure lenet "$t" float32 moments "$repeat" "$tmp/lenet_run/last.safetensors"
        tmo=$tm_s nmo=$tm_note tmo_cpu=$tm_cpu
    fi
    row "measure lenet P500: wall s, $t thr" "$m_wall" "$tc" time "$nc"
    row "measure lenet P500: peak RSS MB, $t thr" "$m_rss" "${tc_mrss:--}" time "torch: the float32 cdist job"
    row "measure lenet P500: timed s, $t thr" "$m_in" "$tc" time "relstab's own timer${nc:+; $nc}"
    if [ -n "$py" ]; then
        row "measure lenet P500: vs f64, $t thr" "$m_in" "$t64" time "$n64"
        row "measure lenet P500: vs moments, $t thr" "$m_in" "$tmo" time "$nmo"
        row "measure lenet P500: CPU s, $t thr" "$m_cpu" "$tmo_cpu" time \
            "CPU time, all threads: relstab's whole process (last run), torch moments' passes + estimator"
    fi
    relstab_measure vgg11 "$t"
    tmo=- nmo="" tc_mrss=- tmo_cpu=-
    if [ -n "$py" ]; then
        torch_measure vgg11 "$t" float32 moments 1 "$tmp/vgg11.safetensors"
        tmo=$tm_s nmo=$tm_note tc_mrss=$py_rss tmo_cpu=$tm_cpu
    fi
    row "measure vgg11 P500: wall s, $t thr" "$m_wall" "$tmo" time "$nmo"
    row "measure vgg11 P500: peak RSS MB, $t thr" "$m_rss" "${tc_mrss:--}" time "torch: the float32 moments job"
    row "measure vgg11 P500: timed s, $t thr" "$m_in" "$tmo" time "relstab's own timer${nmo:+; $nmo}"
    row "measure vgg11 P500: CPU s, $t thr" "$m_cpu" "${tmo_cpu:--}" time \
        "CPU time, all threads: relstab's whole process (last run), torch's passes + estimator"
    if [ -n "$py" ]; then
        for model in vgg11bn resnet18; do
            relstab_measure "$model" "$t" --weights "$tmp/$model.safetensors"
            torch_measure "$model" "$t" float32 moments 1 "$tmp/$model.safetensors"
            row "measure $model P500: wall s, $t thr" "$m_wall" "$tm_s" time "PyTorch's init weights, eval; $tm_note"
            row "measure $model P500: peak RSS MB, $t thr" "$m_rss" "${py_rss:--}" time "torch: the float32 moments job"
            row "measure $model P500: timed s, $t thr" "$m_in" "$tm_s" time "relstab's own timer"
            row "measure $model P500: CPU s, $t thr" "$m_cpu" "${tm_cpu:--}" time \
                "CPU time, all threads: relstab's whole process (last run), torch's passes + estimator"
        done
    fi
    if [ -n "$py" ] && [ "${FULL:-0}" = 1 ] && [ "$t" = "$t1" ]; then
        torch_measure vgg11 "$t" float32 cdist 1 "$tmp/vgg11.safetensors"
        row "measure vgg11 P500: vs cdist, $t thr" "$m_in" "$tm_s" time "$tm_note"
        torch_measure vgg11 "$t" float64 moments 1 "$tmp/vgg11.safetensors"
        row "measure vgg11 P500: vs f64, $t thr" "$m_in" "$tm_s" time "$tm_note"
    fi
done

# --------------------------------------------------------------------------- d. a busy machine (issue 11)
# One other CPU-bound process (a shell busy loop) runs while relstab trains a LeNet epoch and VGG11bn training steps
# at its default thread count and at --threads 1, alternately, $REPEAT times each (medians: single timings on a
# busy machine move by 5-10 %): the default must not be slower, and no more than 2x the idle machine's best.
# The default counts the busy core and takes the free one (docs/train.md, "Threads"); the rows say what it chose.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
if [ "$have_data" = 1 ] && [ "${BUSY:-1}" = 1 ]; then
    echo
    echo "# ===== busy machine: one CPU-bound process started"
    (while :; do :; done) &
    busy_pid=$!
    sleep 0.2
    busy_epoch() { # prints the epoch's seconds; the default's thread count to $tmp/busy_threads
        local tf=()
        [ "$1" = default ] || tf=(--threads "$1")
        "$relstab" train --model lenet --data "$data" --epochs 1 "${tf[@]}" --out "$tmp/busy_run" 2>"$tmp/busy_err" \
            >/dev/null
        [ "$1" = default ] && sed -n 's/.*batch [0-9]*, \(.*\) -> .*/\1/p' "$tmp/busy_err" >"$tmp/busy_threads"
        awk -F, 'NR == 2 { print $8 }' "$tmp/busy_run/log.csv"
        rm -rf "$tmp/busy_run"
    }
    # a big net too: VGG11bn training steps (batch 128) at the default thread count and at one thread
    busy_step() {
        local tf=()
        [ "$1" = default ] || tf=(--threads "$1")
        "$bm" "${tf[@]}" --only vgg11bn --steps "$steps" --warmup 1 >"$tmp/busy_bm"
        [ "$1" = default ] && sed -n 's/^# bench_models: batch [0-9]*, \(.*\), [0-9]* warm-up.*/\1/p' \
            "$tmp/busy_bm" >"$tmp/busy_vthreads"
        awk '$1 == "vgg11bn" && $3 == "relstab" { print $4 }' "$tmp/busy_bm"
    }
    : >"$tmp/b_def"; : >"$tmp/b_one"; : >"$tmp/v_def"; : >"$tmp/v_one"
    for _ in $(seq "$repeat"); do
        busy_epoch default >>"$tmp/b_def"
        busy_epoch 1 >>"$tmp/b_one"
        busy_step default >>"$tmp/v_def"
        busy_step 1 >>"$tmp/v_one"
    done
    kill "$busy_pid"
    wait "$busy_pid" 2>/dev/null || true
    b_def=$(median <"$tmp/b_def"); b_one=$(median <"$tmp/b_one")
    v_def=$(median <"$tmp/v_def"); v_one=$(median <"$tmp/v_one")
    echo "relstab train lenet, 1 epoch, busy machine, s: default ($(cat "$tmp/busy_threads")):" \
        $(cat "$tmp/b_def") "; --threads 1:" $(cat "$tmp/b_one")
    echo "relstab vgg11bn step, busy machine, ms: default ($(cat "$tmp/busy_vthreads")):" $(cat "$tmp/v_def") \
        "; --threads 1:" $(cat "$tmp/v_one") "; idle best ${idle_vgg:--}"
    row "busy: lenet epoch s, default thr" "$b_def" - time \
        "median of $repeat; default: $(cat "$tmp/busy_threads"); --threads 1: $b_one s; default / 1 = $(awk \
        -v a="$b_def" -v b="$b_one" 'BEGIN { printf "%.2f", a / b }')"
    v_r1=$(awk -v a="$v_def" -v b="$v_one" 'BEGIN { printf "%.2f", a / b }')
    v_ri=$(awk -v a="$v_def" -v b="${idle_vgg:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    row "busy: vgg11bn step ms, default thr" "$v_def" - time \
        "median of $repeat; default: $(cat "$tmp/busy_vthreads"); --threads 1: $v_one ms; default / 1 = $v_r1; \
default / idle best (${idle_vgg:--} ms) = $v_ri"
fi

echo
if [ -n "$py" ]; then
    echo "# whole-model jobs: relstab against PyTorch $("$py" -c 'import torch; print(torch.__version__)')" \
        "(ratio: relstab time / torch time; below 1, relstab is faster)"
else
    echo "# whole-model jobs: relstab alone (no PyTorch)"
fi
awk -F'|' '
    BEGIN { printf "%-38s %12s %12s %7s  %s\n", "job", "relstab", "torch", "ratio", "note" }
    { printf "%-38s %12s %12s %7s  %s\n", $1, $2, $3, $4, $5 }' "$rows"
if [ -s "$notes" ]; then
    echo "# D, G, R of relstab (float32, double accumulation) against torch on the same inputs and weights,"
    echo "# |relstab - torch| / |torch| over the nodes, largest (and its node):"
    sed 's/^/  /' "$notes"
fi
