#!/usr/bin/env bash
# End-to-end test of the model options shared by every command that builds a net (one parser, src/cli/model_cli.c):
# the same flags (the authors' ConvGAP: gapmf, 1 x 28 x 28, depth 3, filter 5, zero padding, 10 classes with the
# scalar last_bias) given to `info`, `train`, `measure`, `forward` and `spectrum` are honoured (207,233 parameters;
# the run's config.json and checkpoint metadata record them; the trained weights load into the same net), and a
# net built with a conflicting option (--pbc 1, --depth 4) is refused by the checkpoint's recorded configuration,
# as are model options with --run or --resume and a --classes that disagrees with the data.
# Usage: bash model_opts.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init model_opts "$@"

if [ -d /usr/share/datasets/fashion-mnist ]; then DATA=fashionmnist CLS=10; else DATA=twopoints:testsize=200 CLS=1; fi
M=(--depth 3 --filter-size 5 --pbc 0 --last-bias 1)
IN=(--channels 1 --size 28 --classes "$CLS")

# info: the authors' ConvGAP
out=$("$BIN" info gapmf "${M[@]}" --channels 1 --size 28 --classes 10) || fail "info gapmf exited non-zero"
expect_in "$out" "total parameters: 207,233" "info: the authors' ConvGAP"
out=$("$BIN" info gapmf "${M[@]}" --pbc 1 --channels 1 --size 28 --classes 10) || fail "info --pbc 1"
expect_in "$out" "total parameters: 207,233" "info: circular padding, the same tensors"

# train: every model flag through the same parser, recorded in config.json and the checkpoints
"$BIN" train --model gapmf --data "$DATA" "${M[@]}" "${IN[@]}" --epochs 1 --ptr 64 --batch 32 --threads 1 --quiet \
    --out "$TMP/run" >/dev/null 2>"$TMP/err" || fail "train gapmf: $(cat "$TMP/err")"
cfg=$(tr -d ' \t\n' <"$TMP/run/config.json")
expect_in "$cfg" '"model_opts":{' "config.json"
expect_in "$cfg" '"depth":3,"filter_size":5' "config.json depth and filter"
expect_in "$cfg" '"pbc":0' "config.json pbc"
head -c 4096 "$TMP/run/best.safetensors" | tr -d '\0' >"$TMP/head"
expect_in "$(cat "$TMP/head")" '"model.pbc":"0"' "best.safetensors metadata"
expect_in "$(cat "$TMP/head")" '"model.strides":"2,1,2"' "best.safetensors metadata"
expect_status 2 "--pbc cannot be given with --resume" train --resume --out "$TMP/run" --pbc 1
expect_status 2 "--classes 7 does not match the data" train --model gapmf --data "$DATA" "${M[@]}" --classes 7 \
    --epochs 1 --ptr 64 --quiet --out "$TMP/run7"
[ -e "$TMP/run7/config.json" ] && fail "a refused train wrote config.json"

W="$TMP/run/best.safetensors"
# measure: the same flags load the run's weights; a conflicting one is refused naming it
"$BIN" measure --model gapmf "${M[@]}" --weights "$W" --data "$DATA" --P 6 --first --nodes add --quiet \
    --dump "$TMP/dump" --out "$TMP/m.csv" >/dev/null 2>"$TMP/err" || fail "measure with the run's flags: $(cat "$TMP/err")"
expect_status 1 "written by gapmf with pbc=0; this net has pbc=1" measure --model gapmf --depth 3 --filter-size 5 \
    --pbc 1 --weights "$W" --data "$DATA" --P 6 --quiet
expect_status 1 "written by gapmf with stride=2; this net has stride=1" measure --model gapmf --stride 1 \
    "${M[@]}" --weights "$W" --data "$DATA" --P 6 --quiet
expect_status nz "give no model options" measure --run "$TMP/run" --pbc 1 --P 6 --quiet
expect_status nz "--channels 3 does not match the data" measure --model gapmf "${M[@]}" --channels 3 --init \
    --data "$DATA" --P 6 --quiet

# forward: the same flags, the image size from --input
"$BIN" forward --model gapmf "${M[@]}" --classes "$CLS" --weights "$W" --input "$TMP/dump/probe.npy" --nodes add \
    --out "$TMP/fw" >/dev/null 2>"$TMP/err" || fail "forward with the run's flags: $(cat "$TMP/err")"
[ -f "$TMP/fw/add.npy" ] || fail "forward wrote no add.npy"
expect_status 1 "this net has pbc=1" forward --model gapmf --depth 3 --filter-size 5 --pbc 1 --classes "$CLS" \
    --weights "$W" --input "$TMP/dump/probe.npy" --out "$TMP/fw2"
expect_status nz "--size (height) 32 does not match the data" forward --model gapmf "${M[@]}" --size 32 \
    --classes "$CLS" --weights "$W" --input "$TMP/dump/probe.npy" --out "$TMP/fw3"

# spectrum: the same flags
"$BIN" spectrum --model gapmf "${M[@]}" --weights "$W" --data "$DATA" --out "$TMP/sp.csv" >/dev/null 2>"$TMP/err" ||
    fail "spectrum with the run's flags: $(cat "$TMP/err")"
expect_status 1 "this net has pbc=1" spectrum --model gapmf --depth 3 --filter-size 5 --pbc 1 --weights "$W" \
    --data "$DATA" --out "$TMP/sp2.csv"

cli_done
