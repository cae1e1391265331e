#!/usr/bin/env bash
# The main job on the default data: trains LeNet on FashionMNIST (Debian's dataset-fashion-mnist) for two epochs
# and prints its test error. Usage: scripts/demo.sh PATH/TO/relstab [EPOCHS]
set -euo pipefail
bin=${1:-build/relstab}
epochs=${2:-2}
out=runs/demo-$(date +%Y%m%d-%H%M%S)
echo "== relstab demo: LeNet on FashionMNIST, $epochs epochs, run directory $out"
"$bin" train --model lenet --data fashionmnist --epochs "$epochs" --out "$out"
echo "== per-epoch log ($out/log.csv):"
column -s, -t < "$out/log.csv"
