#!/usr/bin/env bash
# End-to-end test of `relstab info`: --help and --list, every model of the list described (nodes, the SPEC 3.1
# parameter counts, FLOPs), the model options (1-channel padding, the 1-D signal length, the released strides,
# --tensors), and the errors: exit code 2 and one line on stderr naming the problem (unknown model with the list of
# known ones, impossible input sizes, bad option values, options that do not apply). Usage: bash info.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init info "$@"
expect_error() { local code=$1 needle=$2; shift 2; expect_status "$code" "$needle" info "$@"; }

out=$("$BIN" info --help) || fail "--help exited non-zero"
expect_in "$out" "usage: relstab info MODEL" "--help"
expect_in "$out" "--strides LIST" "--help"
expect_in "$("$BIN" --help)" "info" "relstab --help lists info"

list=$("$BIN" info --list) || fail "--list exited non-zero"
models=$(printf '%s\n' "$list" | awk '{print $1}')
[ "$(printf '%s\n' "$models" | wc -l)" -eq 19 ] || fail "--list: expected 19 models, got: $models"
for m in vgg11 vgg13 vgg16 vgg19 vgg11bn vgg13bn vgg16bn vgg19bn alexnet lenet resnet18 resnet34 resnet50 \
    efficientnetb0 densenetl2 densenetl4 densenetl6 gapmf gapmf1d; do
    expect_in "$models" "$m" "--list"
done

# every model is described: a node table, the totals
for m in $models; do
    out=$("$BIN" info "$m") || { fail "info $m exited non-zero"; continue; }
    expect_in "$out" "total parameters: " "info $m"
    expect_in "$out" "FLOPs per image: " "info $m"
done

# SPEC 3.1 parameter counts (3 x 32 x 32, 10 classes), case-insensitive names
check_count() { # model count [options]
    local m=$1 n=$2; shift 2
    local out
    out=$("$BIN" info "$m" "$@") || { fail "info $m $*"; return; }
    expect_in "$out" "total parameters: $n" "info $m $*"
}
check_count vgg11 9,225,610
check_count VGG11bn 9,231,114
check_count vgg16bn 14,728,266
check_count alexnet 23,272,266
check_count lenet 62,006
check_count lenet 44,426 --channels 1 --size 28
check_count resnet18 11,173,962
check_count resnet50 23,520,842
check_count efficientnetb0 3,599,686
check_count densenetl4 205,642
check_count densenetl4 49,882 --width 16   # 3072*16+16 + 2*(16*16+16) + 16*10+10

out=$("$BIN" info lenet)
expect_in "$out" "FLOPs per image: 1,303,440" "lenet FLOPs"   # 2 x (117600 + 240000 + 48000 + 10080 + 840)
expect_in "$(printf '%s\n' "$out" | grep '^max_pool2d_1 ')" "16 x 5 x 5" "lenet max_pool2d_1 shape"
expect_in "$(printf '%s\n' "$out" | grep '^fc1 ')" "48,120" "lenet fc1 parameters"

out=$("$BIN" info vgg11 --channels 1 --size 28 --classes 1)
expect_in "$(printf '%s\n' "$out" | grep '^features.0 ')" "zeropad" "vgg11 1-channel features.0"
expect_in "$(printf '%s\n' "$out" | grep '^features.0 ')" "1 x 32 x 32" "vgg11 1-channel padding"
expect_in "$(printf '%s\n' "$out" | grep '^classifier ')" "1 x 1 x 1" "vgg11 1 output"

out=$("$BIN" info gapmf1d --size 64 --width 32 --depth 6)
expect_in "$out" "input 1 x 1 x 64" "gapmf1d --size"
expect_in "$(printf '%s\n' "$out" | grep '^conv.5.mul ')" "32 x 1 x 1" "gapmf1d all strided"
out=$("$BIN" info gapmf1d --width 32 --strides released)
expect_in "$(printf '%s\n' "$out" | grep '^conv.6.mul ')" "32 x 1 x 64" "gapmf1d released strides"
out=$("$BIN" info gapmf --strides 1,2 --classes 3 --last-bias 0 --tensors)
expect_in "$(printf '%s\n' "$out" | grep '^beta ')" "64x3" "gapmf beta shape"
out=$("$BIN" info efficientnetb0 --tensors)
expect_in "$(printf '%s\n' "$out" | grep '^layers.0.conv1.weight ')" "unused by forward" "efficientnet quirk"
expect_in "$out" "of which 1,088 in tensors that forward does not use" "efficientnet unused count"

expect_error 2 "unknown model 'vgg12' (known: vgg11, vgg13" vgg12
expect_error 2 "which model?"
expect_error 2 "expects one model name" vgg11 lenet
expect_error 2 "fc1 takes 16x4x4 inputs" lenet --channels 1 --size 32
expect_error 2 "32 to 63 pixels" vgg11 --size 64
expect_error 2 "25 to 56 pixels" resnet18 --size 16x16
expect_error 2 "25 to 56 pixels" resnet50 --size 32x57
expect_error 2 "32 to 63 pixels" vgg13 --size 16
expect_error 2 "31 to 46 pixels" alexnet --channels 1 --size 44
expect_error 2 "--size expects an integer" vgg11 --size abc
expect_error 2 "--channels must be between" vgg11 --channels 0
expect_error 2 "'depth' does not apply" vgg11 --depth 3
# several outputs with the one-number readout bias (the reference adds it to every output): beta 64 x 10, 1 bias
expect_in "$("$BIN" info gapmf --classes 10)" "total parameters: 113,217" "gapmf --classes 10"
expect_error 2 "unknown option" vgg11 --bogus
expect_error 2 "needs a value" vgg11 --size

cli_done
