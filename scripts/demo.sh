#!/usr/bin/env bash
# The short path through relstab (about half a minute once built; `make demo` with the Debian packages and the build about 10 minutes on 2 cores): LeNet trained on FashionMNIST (Debian's
# dataset-fashion-mnist) with D, G, R tracked at every node at initialisation and after training; the same net with
# its channels shuffled; then `relstab reproduce` runs the constant-filter theory and the 1-D pooling CNN against
# it, and writes the HTML report, whose path is printed last.
# Usage: scripts/demo.sh PATH/TO/relstab [EPOCHS]
set -euo pipefail
bin=${1:-build/relstab}
epochs=${2:-3}
out=runs/demo-$(date +%Y%m%d-%H%M%S)
run=$out/lenet
echo "== 1. LeNet on FashionMNIST, $epochs epochs, D/G/R at every node on 500 test images (run directory $run)"
"$bin" train --model lenet --data fashionmnist --epochs "$epochs" --track-every "$epochs" --threads 1 --out "$run"
echo
echo "== per-epoch log ($run/log.csv)"
column -s, -t < "$run/log.csv"
echo
echo "== 2. D, G, R at every node: at initialisation and after $epochs epochs ($run/sens.csv; docs/measure.md)"
awk -F, -v last="$epochs" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    {
        node = $col["node"]; e = $col["epoch"]
        if (!(node in seen)) { seen[node] = 1; order[++n] = node }
        D[node, e] = $col["D"]; G[node, e] = $col["G"]; R[node, e] = $col["R"]
    }
    END {
        printf "%-14s %11s %11s   %11s %11s   %11s %11s\n", "node", "D init", "D trained", "G init", "G trained", "R init", "R trained"
        for (k = 1; k <= n; k++) {
            m = order[k]
            printf "%-14s %11.4g %11.4g   %11.4g %11.4g   %11.4g %11.4g\n", m, D[m, 0], D[m, last], G[m, 0], G[m, last], R[m, 0], R[m, last]
        }
    }' "$run/sens.csv"
"$bin" plot depth "$run/sens.csv" -o "$out/lenet_depth.png" --title "LeNet on FashionMNIST: init (epoch 0) and trained"
echo "figure: $out/lenet_depth.png"
echo
echo "== 3. the trained LeNet with the input channels of every conv weight shuffled (spatial vs channel pooling)"
"$bin" measure --run "$run" --shuffle 1 --P 500 --threads 1 --out "$out/lenet_shuffled.csv"
echo
echo "== 4. relstab reproduce: the constant-filter theory, and the 1-D pooling CNN on 1-D scale detection against it"
"$bin" reproduce theory --scale quick --out "$out/report" --quiet > /dev/null
"$bin" reproduce scale1d --scale quick --seeds 1 --out "$out/report" --quiet > /dev/null
for e in theory scale1d; do # verdicts.csv: "figure","claim","verdict","numbers"
    awk -F'","' 'FNR > 1 { sub(/"$/, "", $4); printf "  %-13s %s\n  %13s (%s)\n", $3, $2, "", $4 }' \
        "$out/report/$e/verdicts.csv"
done
echo
echo "The whole paper, figure by figure (about half an hour on 2 cores): $bin reproduce all --scale quick --jobs 2 --out DIR (docs/experiments.md)"
echo "report: $out/report/index.html"
