#!/usr/bin/env bash
# End-to-end test of node selection, the one syntax of `measure --nodes`, `forward --nodes` and `theory --compare
# --nodes`: names, glob patterns on names, node types (and aliases), type:/name: prefixes, all, reference; every
# error names the word at fault; theory --compare keeps the nodes the pooling model describes by default and
# refuses a model run larger than --max-mem before starting.
# Usage: bash nodes.sh /path/to/relstab
source "$(dirname "$0")/lib.sh"
cli_init nodes "$@"
nodes_of() { tail -n +2 "$1" | cut -d, -f1 | tr '\n' ' '; }
M="measure --model lenet --init --data twopoints:testsize=40 --P 4 --quiet"

check() { # check SELECTION "expected nodes "
    "$BIN" $M --nodes "$1" --out "$TMP/n.csv" 2>"$TMP/err" || { fail "--nodes $1: $(cat "$TMP/err")"; return; }
    [ "$(nodes_of "$TMP/n.csv")" = "$2" ] || fail "--nodes $1: got '$(nodes_of "$TMP/n.csv")', expected '$2'"
}
check 'type:relu' "relu relu_1 relu_2 relu_3 "
check 'max*' "max_pool2d max_pool2d_1 "
check 'type:conv,relu' "conv1 conv2 relu relu_1 relu_2 relu_3 "
check 'pool,fc3' "max_pool2d max_pool2d_1 fc3 "
check 'fc' "fc1 fc2 fc3 "
check 'conv2,conv' "conv2 conv1 "
check 'relu' "relu "
check 'relu_?' "relu_1 relu_2 relu_3 "
check 'type:relu,name:fc3' "relu relu_1 relu_2 relu_3 fc3 "
check 'reference' "conv1 relu max_pool2d conv2 relu_1 max_pool2d_1 fc1 relu_2 fc2 relu_3 fc3 "
check 'all' "conv1 relu max_pool2d conv2 relu_1 max_pool2d_1 view fc1 relu_2 fc2 relu_3 fc3 "
expect_status 2 "pattern 'features.*' matches no node" $M --nodes 'features.*'
expect_status 2 "no node of type 'bn' here" $M --nodes bn
expect_status 2 "unknown node type 'convolution'" $M --nodes type:convolution
expect_status 2 "'nope' is no node name, node type or pattern" $M --nodes conv1,nope
expect_status 2 "node 'relu' is selected twice" $M --nodes relu,relu

# forward: the same selection
printf '\x93NUMPY\x01\x00\x76\x00' > "$TMP/x.npy"
dict="{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 28, 28), }"
{ printf '%s' "$dict"; printf "%$((118 - ${#dict} - 1))s\n" ""; head -c 6272 /dev/urandom | tr '\200-\377' '\000-\177'; } >> "$TMP/x.npy"
"$BIN" forward --model lenet --init --input "$TMP/x.npy" --nodes 'type:relu,max*' --out "$TMP/fw" >/dev/null 2>"$TMP/err" ||
    fail "forward --nodes: $(cat "$TMP/err")"
[ "$(ls "$TMP/fw" | tr '\n' ' ')" = "max_pool2d.npy max_pool2d_1.npy relu.npy relu_1.npy relu_2.npy relu_3.npy " ] ||
    fail "forward --nodes: wrote $(ls "$TMP/fw" | tr '\n' ' ')"
expect_status 2 "pattern 'features.*' matches no node" forward --model lenet --init --input "$TMP/x.npy" \
    --nodes 'features.*' --out "$TMP/fw2"

# theory --compare: the pooling model's nodes by default, or a selection
FIX="$(dirname "$0")/../fixtures/theory/pool1d_run"
out=$("$BIN" theory --compare "$FIX" --padding circular 2>&1) || fail "theory --compare (default nodes): $out"
expect_in "$out" "7 of 14 nodes (the conv.{l}.mul nodes)" "theory --compare default nodes"
expect_in "$out" "D -1.000 +- 0.000 (law -1)" "theory --compare default nodes: the .mul curves"
out=$("$BIN" theory --compare "$FIX" --nodes 'conv.*.mul' --padding circular 2>&1) || fail "theory --nodes glob: $out"
expect_in "$out" "7 of 14 nodes (conv.*.mul)" "theory --compare --nodes glob"
expect_status 2 "pattern 'features.*' matches no node" theory --compare "$FIX" --nodes 'features.*'
expect_status 2 "--nodes needs --compare" theory --nodes relu
# a measure CSV with an op column: the ReLU outputs before the first linear node
"$BIN" measure --model lenet --init --mode trained --data twopoints:testsize=40 --P 4 --quiet --out "$TMP/l.csv" 2>/dev/null
out=$("$BIN" theory --compare "$TMP/l.csv" --dim 2 2>&1) || fail "theory --compare on a measure CSV: $out"
expect_in "$out" "2 of 12 nodes (the ReLU outputs of the convolutional part)" "theory --compare: ReLUs of the conv part"
expect_status 2 "more than the 10 MB of --max-mem" theory --dim 2 --size 1024 --max-mem 10
cli_done
