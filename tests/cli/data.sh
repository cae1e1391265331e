#!/usr/bin/env bash
# End-to-end test of `relstab data`: the numbers `data info` prints for the two scale-detection tasks (SPEC.md 5.1,
# 5.2) and for FashionMNIST (when Debian's package is installed), `data show` writing a PNG grid of the right size,
# and the errors: exit code 2 for a usage or argument problem, 1 for a bad or missing file, one line on stderr
# naming the problem. Usage: bash data.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init data "$@"
expect_error() { local code=$1 needle=$2; shift 2; expect_status "$code" "$needle" data "$@"; }
png_size() { # width height of a PNG from its IHDR
    local b
    b=($(od -An -tu1 -j16 -N8 "$1"))
    echo $(( (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] )) $(( (b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7] ))
}

out=$("$BIN" data --help) || fail "--help exited non-zero"
expect_in "$out" "usage: relstab data info SPEC" "--help"
expect_in "$out" "twopoints[:d=28" "--help lists the task keys"

# 2D task, the reference configuration: 285,390 pairs, 135,397 far, 120,767 close, 29,226 dropped
out=$("$BIN" data info twopoints) || fail "info twopoints failed"
expect_in "$out" "pairs      285390: class 0 (far) 135397, class 1 (close) 120767, dropped 29226" "twopoints counts"
expect_in "$out" "images     236534 x 1 x 28 x 28" "twopoints train size 2 x (120767 - 2500)"
expect_in "$out" "images     5000 x 1 x 28 x 28" "twopoints test size"
expect_in "$out" "labels     0:118267 1:118267" "twopoints train balance"
expect_in "$out" "labels     0:2500 1:2500" "twopoints test balance"
expect_in "$out" "raw        mean 1.000000  std 19.773720" "twopoints pixel statistics (mean 1, std sqrt(391))"
expect_in "$out" "+-1 targets" "twopoints hinge labels"

out=$("$BIN" data info twopoints:ptr=1024 --split test) || fail "info twopoints:ptr=1024 failed"
expect_in "$out" "images     4096 x 1 x 28 x 28" "testsize = 4 ptr"
out=$("$BIN" data info twopoints --ptr 1024 --split train) || fail "info twopoints --ptr failed"
expect_in "$out" "images     1024 x 1 x 28 x 28" "ptr subset"

# 1D task: L = 128, xi = 32, Task 2: 1,984 same-block pairs against 6,144
out=$("$BIN" data info scale1d --split all) || fail "info scale1d failed"
expect_in "$out" "pairs      8128: class 1 (same block) 1984, class 0 (other) 6144, dropped 0" "scale1d counts"
expect_in "$out" "images     1024 x 1 x 1 x 128" "scale1d train"
expect_in "$out" "images     2816 x 1 x 1 x 128" "scale1d test"
expect_in "$out" "active value 8 = sqrt(magn 64)" "scale1d value"
out=$("$BIN" data info scale1d --split val) || fail "info scale1d --split val failed"
expect_in "$out" "images     128 x 1 x 1 x 128" "scale1d validation"

if [ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    out=$("$BIN" data info fashionmnist) || fail "info fashionmnist failed"
    expect_in "$out" "images     60000 x 1 x 28 x 28 (uint8)" "FashionMNIST train"
    expect_in "$out" "images     10000 x 1 x 28 x 28 (uint8)" "FashionMNIST test"
    expect_in "$out" "classes    10" "FashionMNIST classes"
    expect_in "$out" "raw        mean 0.286041  std 0.353024" "FashionMNIST raw mean/std"
    expect_in "$out" "with mean 0.5, std 0.5" "FashionMNIST reference normalisation"
    expect_in "$out" "0:6000 1:6000 2:6000" "FashionMNIST train histogram"
    "$BIN" data show fashionmnist --index 0,1,2,3,4,5,6,7,8,9 --cols 5 --zoom 2 --png "$TMP/f.png" >/dev/null ||
        fail "show fashionmnist failed"
    [ "$(png_size "$TMP/f.png")" = "284 113" ] || fail "fashionmnist grid size $(png_size "$TMP/f.png"), expected 284 113"
else
    echo "dataset-fashion-mnist not installed: FashionMNIST checks skipped"
fi

# show: a 1 x 3 grid of 28 x 28 images zoomed 4 times, one-pixel separators
out=$("$BIN" data show twopoints --index 0,1,2 --png "$TMP/t.png") || fail "show twopoints failed"
expect_in "$out" "wrote $TMP/t.png: 3 image(s) of twopoints test, 1 x 3 grid" "show message"
[ "$(png_size "$TMP/t.png")" = "338 112" ] || fail "twopoints grid size $(png_size "$TMP/t.png"), expected 338 112"
"$BIN" data show scale1d --index 5 --zoom 2 --png "$TMP/s.png" >/dev/null || fail "show scale1d failed"
[ "$(png_size "$TMP/s.png")" = "256 2" ] || fail "scale1d strip size $(png_size "$TMP/s.png"), expected 256 2"

# errors
expect_error 2 "expected a verb (info or show) and a dataset SPEC" info
expect_error 2 "unknown verb 'frob'" frob twopoints
expect_error 2 "unknown dataset 'nosuch'" info nosuch
expect_error 2 "mnist needs a directory: mnist:DIR" info mnist
expect_error 1 "no train-images-idx3-ubyte[.gz] in $TMP/none" info mnist:"$TMP/none"
expect_error 2 "d must be an integer in 2..64, got '99'" info twopoints:d=99
expect_error 2 "unknown option 'foo'" info scale1d:foo=1
expect_error 2 "--norm must be reference, none or computed" info twopoints --norm bogus
expect_error 2 "show needs --index LIST and --png FILE" show twopoints --png "$TMP/x.png"
expect_error 2 "image index 5000 is outside 0..4999" show twopoints --index 5000 --png "$TMP/x.png"
expect_error 2 "--index expects up to 1024 comma-separated non-negative integers" show twopoints --index 1,-2 --png x
expect_error 2 "not defined for the scale-detection tasks" show twopoints --split train --flip --index 0 --png x

# a truncated IDX file: refused, naming the file
mkdir -p "$TMP/bad"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02abcdef' > "$TMP/bad/train-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02' > "$TMP/bad/train-labels-idx1-ubyte"
expect_error 1 "$TMP/bad/train-images-idx3-ubyte: truncated: 6 of the 8 data bytes" info idx:"$TMP/bad" --split train
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02abcdefgh' > "$TMP/bad/train-images-idx3-ubyte"
out=$("$BIN" data info idx:"$TMP/bad" --split train --norm none) || fail "info on a valid tiny IDX failed"
expect_in "$out" "images     2 x 1 x 2 x 2 (uint8)" "tiny IDX"
expect_in "$out" "classes    3" "tiny IDX classes = 1 + largest label"
expect_in "$out" "labels     0:0 1:1 2:1" "tiny IDX histogram"

# an IDX dataset whose test images (1x6x6) are larger than its training images (1x4x4): refused by `data info`
# (whatever the split asked for), naming both shapes
byte() { printf "\\x$(printf %02x "$1")"; }
idx_file() { # idx_file PATH N H W: N uint8 images of H x W (H = 0: N labels, all 0)
    local nd=3 k; [ "$3" = 0 ] && nd=1
    { printf '\0\0\10'; byte "$nd"
      for k in "$2" "$3" "$4"; do [ "$k" = 0 ] && break; printf '\0\0\0'; byte "$k"; done
      head -c $(( $2 * ( nd == 3 ? $3 * $4 : 1 ) )) /dev/zero; } > "$1"
}
mkdir -p "$TMP/idx"
idx_file "$TMP/idx/train-images-idx3-ubyte" 4 4 4; idx_file "$TMP/idx/train-labels-idx1-ubyte" 4 0 0
idx_file "$TMP/idx/t10k-images-idx3-ubyte" 2 6 6; idx_file "$TMP/idx/t10k-labels-idx1-ubyte" 2 0 0
expect_error 1 "the training images are 1x4x4" info "idx:$TMP/idx"
expect_error 1 "but the test images are 1x6x6" info "idx:$TMP/idx" --split test
expect_error 1 "both splits must have one image shape" info "idx:$TMP/idx" --split train
idx_file "$TMP/idx/t10k-images-idx3-ubyte" 2 4 4
"$BIN" data info "idx:$TMP/idx" >/dev/null || fail "data info on agreeing splits failed"

cli_done
