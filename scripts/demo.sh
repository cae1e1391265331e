#!/usr/bin/env bash
# The main job on the default data: trains LeNet on FashionMNIST (Debian's dataset-fashion-mnist) for two epochs,
# measuring D, G, R at every node at initialisation and after training (train --track-every), then prints the test
# error and the two measurements side by side. Usage: scripts/demo.sh PATH/TO/relstab [EPOCHS]
set -euo pipefail
bin=${1:-build/relstab}
epochs=${2:-2}
out=runs/demo-$(date +%Y%m%d-%H%M%S)
echo "== relstab demo: LeNet on FashionMNIST, $epochs epochs, D/G/R on 500 test images; run directory $out"
"$bin" train --model lenet --data fashionmnist --epochs "$epochs" --track-every "$epochs" --out "$out"
echo
echo "== per-epoch log ($out/log.csv)"
column -s, -t < "$out/log.csv"
echo
echo "== D, G, R at every node: at initialisation and after $epochs epochs ($out/sens.csv; docs/measure.md)"
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
    }' "$out/sens.csv"
