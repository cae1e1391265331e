#!/usr/bin/env bash
# train --onnx (docs/onnx.md): the exported LeNet (tests/fixtures/onnx/lenet_1ch, PyTorch's weights in the file)
# trained two epochs on a Fashion-MNIST subset. Its init checkpoint must hold the file's initializers (measure
# --model lenet with it = with PyTorch's state_dict), the loss must fall, the checkpoints hold the ONNX names (the
# zoo's LeNet loads them) and measure --run on the run (the net rebuilt from the ONNX file, the checkpoint loaded
# by those names) must give the D, G, R of the zoo LeNet with the same checkpoint; --resume continues it; bad
# combinations are refused. Usage: bash onnx_train.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init onnx_train "$@"
FX=$(cd "$(dirname "$0")/../fixtures/onnx" && pwd)
M=$FX/lenet_1ch/model.onnx

if "$BIN" onnx info "$M" 2>&1 | grep -q "without ONNX support"; then
  echo "onnx_train.sh: SKIP: this relstab was built without ONNX support (RELSTAB_ONNX off)"
  exit 0
fi

R=$TMP/run
"$BIN" train --onnx "$M" --data fashionmnist --ptr 256 --epochs 2 --batch 64 --threads 2 --quiet --out "$R" \
  >/dev/null || fail "train --onnx lenet_1ch"
expect_in "$(cat "$R/config.json")" "\"onnx\":	\"$M\"" "config.json names the ONNX file"
# the loss falls from epoch 1 to epoch 2
awk -F, 'NR == 2 { a = $3 } NR == 3 { b = $3 } END { exit !(b < a) }' "$R/log.csv" || fail "train loss did not fall: $(cat "$R/log.csv")"

# same_drg A.csv B.csv: columns D, G, R equal row by row (relative 1e-6)
same_drg() {
  paste -d, <(tail -n +2 "$1" | cut -d, -f4-6) <(tail -n +2 "$2" | cut -d, -f4-6) | awk -F, '
    { for (i = 1; i <= 3; i++) { d = $i - $(i + 3); d = d < 0 ? -d : d; s = $(i + 3) < 0 ? -$(i + 3) : $(i + 3);
        if (d > 1e-6 * s + 1e-12) { print "row " NR " column " i ": " $i " vs " $(i + 3); bad = 1 } } ; n++ }
    END { if (n == 0) { print "no rows"; exit 1 } exit bad }'
}
Z=conv1,relu,max_pool2d,relu_1,max_pool2d_1,view,fc1,relu_2,fc2,relu_3,fc3
O=/conv1/Conv_output_0,/Relu_output_0,/MaxPool_output_0,/Relu_1_output_0,/MaxPool_1_output_0,/Flatten_output_0
O=$O,/fc1/Gemm_output_0,/Relu_2_output_0,/fc2/Gemm_output_0,/Relu_3_output_0,logits
m() { "$BIN" measure --data fashionmnist --P 20 --threads 2 --quiet "$@"; }
# init.safetensors holds the file's initializers: the zoo LeNet measures the same with it as with PyTorch's weights
m --model lenet --weights "$R/init.safetensors" --nodes $Z --out "$TMP/i.csv" || fail "measure init checkpoint"
m --model lenet --weights "$FX/lenet_1ch/weights.safetensors" --nodes $Z --out "$TMP/p.csv" || fail "measure pytorch"
msg=$(same_drg "$TMP/i.csv" "$TMP/p.csv") || fail "init.safetensors is not the ONNX file's weights: $msg"
# the trained net, rebuilt from the ONNX file with its checkpoint, = the zoo LeNet with the same checkpoint
m --run "$R" --checkpoint last --nodes $O --out "$TMP/o.csv" || fail "measure --run (ONNX run)"
m --model lenet --weights "$R/last.safetensors" --nodes $Z --out "$TMP/z.csv" || fail "measure --model lenet --weights last"
msg=$(same_drg "$TMP/o.csv" "$TMP/z.csv") || fail "measure --run differs from the zoo LeNet with the checkpoint: $msg"
same_drg "$TMP/o.csv" "$TMP/i.csv" >/dev/null && fail "the trained weights measure as the initial ones"

# --resume continues the run from its config.json
"$BIN" train --resume --out "$R" --epochs 3 --threads 2 --quiet >/dev/null || fail "train --resume (ONNX run)"
[ "$(wc -l <"$R/log.csv")" -eq 4 ] || fail "resume: log.csv has $(wc -l <"$R/log.csv") lines"

expect_status 2 "--onnx takes its net from the file: --model cannot be given with it" train --onnx "$M" --model lenet \
  --data fashionmnist --out "$TMP/x1"
expect_status 2 "--onnx takes its net from the file: --channels cannot be given with it" train --onnx "$M" \
  --channels 1 --data fashionmnist --out "$TMP/x2"
expect_status 2 "--onnx $TMP/none.onnx: No such file" train --onnx "$TMP/none.onnx" --out "$TMP/x3"
expect_status 2 "model onnx has 10 outputs per image, the loss needs 2" train --onnx "$FX/lenet/model.onnx" \
  --data "twopoints:d=32,ch=3,ptr=32,testsize=16" --epochs 1 --out "$TMP/x4"
cli_done
