#!/usr/bin/env bash
# End-to-end test of `relstab measure` on the 1-D scale-detection task: by default the 1-D paper's setting
# (rectified noise, channel mean), said in the header and recorded in the CSV; each flag overrides its part.
# Usage: bash measure_1d.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init measure_1d "$@"
csv_col() { # csv_col FILE NAME: the values of column NAME (the spec scale1d has no comma)
    awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } { print $c }' "$1"
}
M="measure --model gapmf1d --init --data scale1d --P 10 --nodes conv.0.mul"
out=$("$BIN" $M --out "$TMP/a.csv" 2>"$TMP/err") || fail "scale1d measure: $(cat "$TMP/err")"
expect_in "$out" "scale1d: the 1-D paper's setting by default (rectified noise, channel mean;" "header"
expect_in "$out" "noise rectified, estimator mean, channel mean" "settings line"
[ "$(csv_col "$TMP/a.csv" noise)" = rectified ] || fail "default noise: $(csv_col "$TMP/a.csv" noise)"
[ "$(csv_col "$TMP/a.csv" channel_mean)" = 1 ] || fail "default channel mean: $(csv_col "$TMP/a.csv" channel_mean)"
[ "$(csv_col "$TMP/a.csv" neurons)" = 64 ] || fail "channel mean: 64 values per image, got $(csv_col "$TMP/a.csv" neurons)"
out=$("$BIN" $M --noise matched --no-channel-mean --out "$TMP/b.csv" 2>"$TMP/err") || fail "overrides: $(cat "$TMP/err")"
case "$out" in *"1-D paper"*) fail "overridden defaults still announced: $out" ;; esac
[ "$(csv_col "$TMP/b.csv" noise),$(csv_col "$TMP/b.csv" channel_mean)" = matched,0 ] || fail "overrides not applied"
out=$("$BIN" $M --noise matched --out "$TMP/c.csv" 2>"$TMP/err") || fail "noise override: $(cat "$TMP/err")"
expect_in "$out" "by default (channel mean;" "header with the noise given"
[ "$(csv_col "$TMP/c.csv" noise),$(csv_col "$TMP/c.csv" channel_mean)" = matched,1 ] || fail "noise override"
# other tasks keep the 2-D defaults
"$BIN" measure --model lenet --init --data twopoints:testsize=40 --P 4 --nodes fc3 --quiet --out "$TMP/d.csv" ||
    fail "twopoints measure"
[ "$(csv_col "$TMP/d.csv" noise),$(csv_col "$TMP/d.csv" channel_mean)" = matched,0 ] || fail "twopoints defaults"
expect_status 2 "not both" $M --channel-mean --no-channel-mean
cli_done
