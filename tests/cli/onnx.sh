#!/usr/bin/env bash
# End-to-end test of ONNX import (docs/onnx.md): `relstab onnx info` and `onnx test` on the committed zoo
# fixtures (tests/fixtures/onnx: LeNet, GAP mean-field without circular padding, the small dense net), whose logits
# must be within 1e-5 of PyTorch's relative to the largest logit; `measure --onnx` against `measure --model
# --weights` with the same weights and probe set (LeNet; VGG11bn when the large zoo is available); the hostile
# files (each refused with one clear line); and, when /usr/bin/python3 has torch and onnx, the large zoo nets
# exported here (cached in $TMPDIR, keyed by the export scripts' hash) and checked the same way. Without torch,
# VGG11bn is still round-tripped: its committed graph (external data) is filled with relstab's own weights
# (and tests/cli/onnx_zoo.sh checks the whole large zoo's logits at relstab's initial weights).
# Usage: bash onnx.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init onnx "$@"
FX=$(cd "$(dirname "$0")/../fixtures/onnx" && pwd)

if "$BIN" onnx info "$FX/lenet/model.onnx" 2>&1 | grep -q "without ONNX support"; then
  echo "onnx.sh: SKIP: this relstab was built without ONNX support (RELSTAB_ONNX off)"
  exit 0
fi

# ---------------------------------------------------------------- info
out=$("$BIN" onnx info "$FX/lenet/model.onnx" --tensors) || fail "onnx info lenet"
expect_in "$out" "opset 13" "info versions"
expect_in "$out" "/conv1/Conv_output_0                         conv2d           6x28x28" "info conv node"
expect_in "$out" "conv1.weight conv1.bias" "info parameter names (ONNX initializer names)"
expect_in "$out" "<- output" "info output"
expect_in "$out" "62006 values" "info parameter count"
out2=$("$BIN" info --tensors --onnx "$FX/lenet/model.onnx") || fail "info --onnx"
[ "$out" = "$out2" ] || fail "relstab info --onnx differs from relstab onnx info"

# ---------------------------------------------------------------- committed zoo fixtures: logits within 1e-5
out=$("$BIN" onnx test --rtol 0 --atol -1e-5 "$FX/lenet" "$FX/gapmf_nopbc" "$FX/densenetl4_w32_1ch") ||
  fail "zoo fixtures: $out"
echo "$out"
expect_in "$out" "3 passed, 0 failed, 0 skipped" "zoo fixtures"
# the same check fails when the tolerance is tighter than the float32 error (the check can fail)
out=$("$BIN" onnx test --rtol 0 --atol -1e-9 "$FX/lenet")
[ $? -eq 1 ] || fail "a 1e-9 tolerance should fail on lenet: $out"

# ---------------------------------------------------------------- measure --onnx = measure --model --weights
# same_drg A.csv B.csv: columns D, G, R equal row by row (relative 1e-6)
same_drg() {
  paste -d, <(tail -n +2 "$1" | cut -d, -f4-6) <(tail -n +2 "$2" | cut -d, -f4-6) | awk -F, '
    { for (i = 1; i <= 3; i++) { d = $i - $(i + 3); d = d < 0 ? -d : d; s = $(i + 3) < 0 ? -$(i + 3) : $(i + 3);
        if (d > 1e-6 * s + 1e-12) { print "row " NR " column " i ": " $i " vs " $(i + 3); bad = 1 } } ; n++ }
    END { if (n == 0) { print "no rows"; exit 1 } exit bad }'
}
D3="twopoints:d=32,ch=3,testsize=100"
"$BIN" measure --onnx "$FX/lenet/model.onnx" --data "$D3" --P 20 --threads 2 --quiet --out "$TMP/o.csv" \
  --nodes /conv1/Conv_output_0,/Relu_Output_0,/MaxPool_output_0,/Relu_1_output_0,/MaxPool_1_output_0,/fc1/Gemm_output_0,logits \
  2>"$TMP/err" && fail "a wrong node name should be refused"
"$BIN" measure --onnx "$FX/lenet/model.onnx" --data "$D3" --P 20 --threads 2 --quiet --out "$TMP/o.csv" \
  --nodes /conv1/Conv_output_0,/Relu_output_0,/MaxPool_output_0,/Relu_1_output_0,/MaxPool_1_output_0,/fc1/Gemm_output_0,/Relu_3_output_0,logits \
  || fail "measure --onnx lenet"
"$BIN" measure --model lenet --classes 10 --weights "$FX/lenet/weights.safetensors" --data "$D3" --P 20 --threads 2 \
  --quiet --out "$TMP/m.csv" --nodes conv1,relu,max_pool2d,relu_1,max_pool2d_1,fc1,relu_3,fc3 || fail "measure --model lenet"
msg=$(same_drg "$TMP/o.csv" "$TMP/m.csv") || fail "lenet: measure --onnx differs from --model: $msg"

# ---------------------------------------------------------------- VGG11bn without torch: external data
# vgg11bn_extdata/model.onnx is PyTorch's export of VGG11bn (2 classes, BatchNormalization kept) whose initializers
# are ONNX external data in vgg11bn.data, which is not committed. relstab trains its own vgg11bn one epoch on the
# two-point task (so that the BN running statistics are not the initial 0 / 1), `onnx fill-data` writes that
# checkpoint into the data file by parameter names, and measure --onnx must give the D, G, R of measure --model
# --weights at every zoo node (names mapped as in docs/onnx.md).
V=$TMP/vgg_ext
mkdir -p "$V"
cp "$FX/vgg11bn_extdata/model.onnx" "$V/"
expect_status 1 "vgg11bn.data: No such file" onnx info "$V/model.onnx"
"$BIN" train --model vgg11bn --data "twopoints:d=32,ch=3,ptr=32,testsize=16" --epochs 1 --batch 16 --threads 2 \
  --quiet --out "$V/run" >/dev/null || fail "train vgg11bn (two points)"
out=$("$BIN" onnx fill-data "$V/model.onnx" --weights "$V/run/last.safetensors") || fail "onnx fill-data: $out"
expect_in "$out" "50 external tensors written into 1 file" "fill-data"
D2="twopoints:d=32,ch=3,testsize=100"
"$BIN" measure --onnx "$V/model.onnx" --data "$D2" --P 12 --threads 2 --quiet --out "$TMP/vo.csv" || fail "measure --onnx vgg11bn_extdata"
"$BIN" measure --model vgg11bn --classes 2 --weights "$V/run/last.safetensors" --data "$D2" --P 12 --threads 2 \
  --quiet --out "$TMP/vm.csv" || fail "measure --model vgg11bn"
"$BIN" measure --model vgg11bn --classes 2 --weights "$V/run/init.safetensors" --data "$D2" --P 12 --threads 2 \
  --quiet --out "$TMP/vi.csv" || fail "measure --model vgg11bn (init weights)"
# same_drg_mapped ONNX.csv ZOO.csv: every zoo node's D, G, R equal (relative 1e-6) to its ONNX twin's
same_drg_mapped() {
  awk -F, '
    function zoo(n) {
      if (n ~ /^\/features\/features\.[0-9]+\/(Conv|BatchNormalization|Relu|MaxPool|AveragePool)_output_0$/) {
        split(n, p, "/"); return p[3] }
      if (n == "/Flatten_output_0") return "view"
      if (n == "logits") return "classifier"
      return "" }
    FNR == 1 { next }
    NR == FNR { k = zoo($1); if (k != "") { d[k] = $4; g[k] = $5; r[k] = $6 } next }
    { n++; if (!($1 in d)) { print "zoo node " $1 " has no ONNX twin"; bad = 1; next }
      split(d[$1] "," g[$1] "," r[$1], o, ",")
      for (i = 1; i <= 3; i++) { x = o[i] - $(i + 3); x = x < 0 ? -x : x; s = $(i + 3) < 0 ? -$(i + 3) : $(i + 3)
        if (x > 1e-6 * s + 1e-12) { print $1 " column " i ": " o[i] " vs " $(i + 3); bad = 1 } } }
    END { if (n < 32) { print n " zoo nodes"; bad = 1 } exit bad }' "$1" "$2"
}
msg=$(same_drg_mapped "$TMP/vo.csv" "$TMP/vm.csv") || fail "vgg11bn_extdata: measure --onnx differs from --model: $msg"
# the comparison can fail: the initial weights give other values
same_drg_mapped "$TMP/vo.csv" "$TMP/vi.csv" >/dev/null && fail "vgg11bn_extdata: init weights compare equal"

# ---------------------------------------------------------------- hostile files
H=$FX/hostile
"$BIN" onnx info "$H/good.onnx" >/dev/null || fail "the well-formed control file is refused"
expect_status 1 "protobuf decoding failed" onnx info "$H/truncated.onnx"
expect_status 1 "protobuf decoding failed" onnx info "$H/garbage.onnx"
expect_status 1 "is not defined before this node (the graph is cyclic" onnx info "$H/cyclic.onnx"
expect_status 1 "op Conv (node 'y'): input 'W' is not defined" onnx info "$H/missing_initializer.onnx"
expect_status 1 "tensor 'W': data type int32 (6) is not supported" onnx info "$H/int32_weight.onnx"
expect_status 1 "graph input 'x' has data type 7, not float" onnx info "$H/int64_input.onnx"
expect_status 1 "tensor 'W': dimension 0 is 1099511627776" onnx info "$H/absurd_dims.onnx"
expect_status 1 "tensor 'W': 7 bytes of data for 54 float values" onnx info "$H/short_data.onnx"
expect_status 1 "op LRN (node 'y'): operator not supported" onnx info "$H/unsupported_op.onnx"
expect_status 1 "op MaxPool (node 'y'): storage_order 1 is not supported" onnx info "$H/unsupported_attr.onnx"
expect_status 1 "opset 18 is not supported (6 to 17)" onnx info "$H/opset_18.onnx"
expect_status 1 "IR version 9 is not supported (3 to 8)" onnx info "$H/ir_9.onnx"
expect_status 1 "input 'z' is not defined" onnx info "$H/two_inputs.onnx"
expect_status 1 "reshaping the batch dimension is not supported" onnx info "$H/batch_reshape.onnx"
expect_status 1 "No such file" onnx info "$TMP/none.onnx"
"$BIN" onnx info "$H/ext_good.onnx" >/dev/null || fail "the external-data control file is refused"
expect_status 1 "external data location '/etc/passwd' is not relative to the model" onnx info "$H/ext_absolute.onnx"
expect_status 1 "external data location '../hostile/ext_good.data' leaves the model's directory" onnx info "$H/ext_escape.onnx"
expect_status 1 "no_such.data: No such file" onnx info "$H/ext_missing.onnx"
expect_status 1 "external data bytes 16..232 are outside" onnx info "$H/ext_range.onnx"
expect_status 1 "external data length 200 for 216 bytes" onnx info "$H/ext_length.onnx"
expect_status 1 "external data offset '-8' is not a non-negative integer" onnx info "$H/ext_offset.onnx"
expect_status 2 "fill-data needs MODEL.onnx and --weights" onnx fill-data "$H/ext_good.onnx"
expect_status 2 "--onnx needs --data" measure --onnx "$FX/lenet/model.onnx"
expect_status nz "the data has 1" measure --onnx "$FX/lenet/model.onnx" --data fashionmnist --P 10 --quiet

# ---------------------------------------------------------------- the large zoo (exported here with PyTorch)
if /usr/bin/python3 -c "import torch, onnx" 2>/dev/null; then
  key=$(cat "$FX/../make_fixtures.py" "$FX/make_onnx_fixtures.py" | md5sum | cut -c1-12)
  Z=${TMPDIR:-/tmp}/relstab-onnx-zoo-$key
  mkdir -p "$Z"
  # one model at a time, within a time budget: a first run on a busy machine may leave some for the next run
  budget=${RELSTAB_ONNX_EXPORT_SECONDS:-300}
  start=$SECONDS
  (
    flock 9
    for n in $(/usr/bin/python3 -c "import sys; sys.path.insert(0, '$FX'); import make_onnx_fixtures as m; print(' '.join(m.LARGE))" 2>/dev/null); do
      [ -f "$Z/$n/weights.safetensors" ] && continue
      [ $((SECONDS - start)) -lt "$budget" ] || break
      /usr/bin/python3 "$FX/make_onnx_fixtures.py" "$Z" "$n" >>"$Z/export.log" 2>&1 || echo "export of $n failed"
    done
  ) 9>"$Z.lock"
  [ -f "$Z/vgg11bn_preserve/weights.safetensors" ] || fail "exporting the large zoo failed: $(tail -3 "$Z/export.log")"
  dirs=()
  for d in "$Z"/*/; do [ -f "$d/weights.safetensors" ] && dirs+=("${d%/}"); done
  [ ${#dirs[@]} -eq 17 ] || echo "onnx.sh: SKIP $((17 - ${#dirs[@]})) large zoo nets not exported yet (time budget ${budget} s)"
  out=$("$BIN" onnx test --rtol 0 --atol -1e-5 "${dirs[@]}") || fail "large zoo: $out"
  echo "$out"
  expect_in "$out" "${#dirs[@]} passed, 0 failed, 0 skipped" "large zoo"
  # VGG11bn with BatchNormalization kept as nodes: measure --onnx = measure --model --weights
  "$BIN" measure --onnx "$Z/vgg11bn_preserve/model.onnx" --data "$D3" --P 12 --threads 2 --quiet --out "$TMP/vo.csv" \
    --nodes /features/features.0/Conv_output_0,/features/features.1/BatchNormalization_output_0,/features/features.3/MaxPool_output_0,/features/features.27/Relu_output_0,/features/features.28/MaxPool_output_0,logits \
    || fail "measure --onnx vgg11bn"
  "$BIN" measure --model vgg11bn --classes 10 --weights "$Z/vgg11bn_preserve/weights.safetensors" --data "$D3" --P 12 \
    --threads 2 --quiet --out "$TMP/vm.csv" --nodes features.0,features.1,features.3,features.27,features.28,classifier \
    || fail "measure --model vgg11bn"
  msg=$(same_drg "$TMP/vo.csv" "$TMP/vm.csv") || fail "vgg11bn: measure --onnx differs from --model: $msg"
else
  echo "onnx.sh: SKIP the large zoo round trip: /usr/bin/python3 has no torch and onnx to export it"
fi
cli_done
