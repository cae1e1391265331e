#!/usr/bin/env bash
# The large zoo's ONNX round trip without Python (docs/onnx.md, "Checks"): each tests/fixtures/onnx/zoo_init/NAME
# is PyTorch's export of the twin of `--model NAME --classes 2` (BatchNormalization kept), its parameters as
# external data in NAME.data, which is not committed, and the logits PyTorch computed at relstab's initial weights
# on 2 images. Here relstab writes those initial weights again (`train` with the arguments of NAME/init.args:
# init.safetensors is drawn from --seed before any step), `onnx fill-data` writes them into NAME.data by name, and
# `onnx test` must find PyTorch's logits within 1e-5 of the largest one. Other weights (--seed 1) must fail.
# Usage: bash onnx_zoo.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init onnx_zoo "$@"
FX=$(cd "$(dirname "$0")/../fixtures/onnx/zoo_init" && pwd)

if "$BIN" onnx info "$FX/../lenet/model.onnx" 2>&1 | grep -q "without ONNX support"; then
  echo "onnx_zoo.sh: SKIP: this relstab was built without ONNX support (RELSTAB_ONNX off)"
  exit 0
fi

# fill NAME SEED: $TMP/NAME holds the fixture's graph and test data, NAME.data relstab's init from SEED
fill() {
  local n=$1 seed=$2 d=$TMP/$1
  rm -rf "$d" && mkdir -p "$d" && cp -r "$FX/$n/model.onnx" "$FX/$n/test_data_set_0" "$d/" || return 1
  # shellcheck disable=SC2046 # init.args is one line of words
  "$BIN" train $(cat "$FX/$n/init.args") --seed "$seed" --out "$d/run" >/dev/null || { echo "train $n"; return 1; }
  out=$("$BIN" onnx fill-data "$d/model.onnx" --weights "$d/run/init.safetensors") || { echo "fill-data $n: $out"; return 1; }
}

n=0
for dir in "$FX"/*/; do
  name=$(basename "$dir")
  msg=$(fill "$name" 0) || { fail "$msg"; continue; }
  out=$("$BIN" onnx test --rtol 0 --atol -1e-5 "$TMP/$name") || fail "$name: $out"
  echo "$out" | grep -v "passed,"
  expect_in "$out" "1 passed, 0 failed" "$name"
  n=$((n + 1))
  rm -rf "${TMP:?}/$name"
done
[ "$n" -eq 19 ] || fail "$n zoo_init fixtures, expected 19"

# the check can fail: relstab's initial weights from another seed do not give PyTorch's logits
for name in vgg11bn resnet18; do
  msg=$(fill "$name" 1) || { fail "$msg"; continue; }
  out=$("$BIN" onnx test --rtol 0 --atol -1e-5 "$TMP/$name")
  [ $? -eq 1 ] || fail "$name with the seed-1 weights should fail: $out"
  expect_in "$out" "0 passed, 1 failed" "$name with the seed-1 weights"
  expect_in "$out" "expected" "$name with the seed-1 weights (a wrong logit, not a load error)"
  rm -rf "${TMP:?}/$name"
done
cli_done
