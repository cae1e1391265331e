#!/usr/bin/env bash
# End-to-end test of how every command writes an output file (one shared writer): `-` is standard output, a
# symbolic link is followed (target updated, link kept), a FIFO is written through, a character device is written
# through and not replaced, and a regular file is replaced. `spectrum --out` (a CSV) stands for every writer.
# Usage: bash outputs.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init outputs "$@"
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
cd "$TMP" || exit 1
spec() { "$BIN" spectrum --model lenet --init --quiet --out "$@"; }
header="layer,kh,kw,n_filters,j,lambda"

out=$(spec -) || fail "--out - failed"
expect_in "$out" "$header" "--out - writes the CSV on stdout"
[ -e "$TMP/-" ] && fail "--out - created a file named '-'"

spec ref.csv || fail "--out ref.csv failed"
echo old > target.csv
ln -s target.csv link.csv
spec link.csv || fail "--out through a symlink failed"
[ -L link.csv ] || fail "the symlink was replaced by a file"
cmp -s target.csv ref.csv || fail "the symlink's target was not updated"

mkfifo pipe
timeout 20 cat pipe > from-pipe &
reader=$!
timeout 20 "$BIN" spectrum --model lenet --init --quiet --out pipe || fail "--out FIFO failed"
wait "$reader"
[ -p pipe ] || fail "the FIFO was replaced"
cmp -s from-pipe ref.csv || fail "the FIFO's reader did not get the CSV"

# a null device of our own when we may create one (root), else /dev/null (then it cannot be replaced anyway)
dev=/dev/null
mknod "$TMP/null" c 1 3 2>/dev/null && dev="$TMP/null"
spec "$dev" || fail "--out $dev failed"
[ -c "$dev" ] || fail "$dev is no longer a character device"
ls "$(dirname "$dev")" | grep -q "null.tmp" && fail "a temporary file was left next to $dev"

out=$(spec /dev/stdout) || fail "--out /dev/stdout failed"
expect_in "$out" "$header" "--out /dev/stdout writes the CSV on stdout"
cli_done
