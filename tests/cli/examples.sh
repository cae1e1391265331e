#!/usr/bin/env bash
# Every example command of the documentation runs as written: the `relstab ...` lines of the ```sh (or ```bash)
# code blocks of README.md and docs/*.md, in document order, each file in its own fresh directory (so a command
# may use the files an earlier command of the same page wrote), with `relstab` meaning the binary under test.
# A command that exits non-zero, or runs longer than EXAMPLE_TIMEOUT seconds (default 300), fails the test.
#
# Not run:
#   - a code block preceded (on the line before its fence, blank lines allowed) by the HTML comment
#         <!-- examples: skip REASON -->
#     (for pages whose commands need data or hours this machine does not have; the reason is printed);
#   - blocks without the sh / bash tag (synopses, outputs, formulas);
#   - the commands matched by the short SKIPS list below, each with its reason.
# Before the pages, a prelude writes the inputs the examples name: images.npy (six FashionMNIST test images, or
# twopoints images without the dataset).
# Usage: bash examples.sh /path/to/relstab [DOC_ROOT]   (DOC_ROOT: the source tree, default this script's ../..)
source "$(dirname "$0")/lib.sh"
cli_init examples "$1"
case "$BIN" in /*) ;; *) BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")" ;; esac
ROOT=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
LIMIT=${EXAMPLE_TIMEOUT:-300}
HAVE_FM=0
[ -d /usr/share/datasets/fashion-mnist ] && HAVE_FM=1

# The explicit skip list: "glob pattern|reason". Keep it short; prefer fast examples in the docs.
SKIPS=(
    "*cifar10:*|needs the CIFAR-10 files, not on this machine"
    "*cifar100:*|needs the CIFAR-100 files, not on this machine"
    "*--recipe twopoints*|the full 2-D task recipe trains 300 epochs (many minutes)"
    "*--recipe scale1d*|the 1-D recipe trains until the loss is exactly 0 (up to 600,000 epochs)"
    "*train --resume --out runs/vgg11-s0*|resumes the CIFAR-10 run of the line above, which is skipped"
)
if [ $HAVE_FM = 0 ]; then SKIPS+=("*fashionmnist*|needs Debian's dataset-fashion-mnist package"); fi

skip_reason() { # skip_reason CMD: prints the reason if CMD is on the skip list
    local s
    for s in "${SKIPS[@]}"; do
        # shellcheck disable=SC2254
        case "$1" in ${s%%|*}) echo "${s#*|}"; return 0 ;; esac
    done
    return 1
}

# extract FILE: one line per example, "LINE<TAB>COMMAND" or "LINE<TAB>#SKIP REASON<TAB>COMMAND"; continuation
# lines (ending in a backslash) are joined.
extract() {
    awk '
        function flush() { if (cmd != "") { print start "\t" (skip != "" ? "#SKIP " skip "\t" : "") cmd }; cmd = "" }
        /^[ \t]*<!--[ \t]*examples:[ \t]*skip/ {
            pending = $0; sub(/^[ \t]*<!--[ \t]*examples:[ \t]*skip[ \t]*/, "", pending); sub(/[ \t]*-->.*$/, "", pending)
            if (pending == "") pending = "(no reason given)"; next }
        /^[ \t]*```/ {
            if (inb) { flush(); inb = 0; skip = ""; next }
            tag = $0; sub(/^[ \t]*```[ \t]*/, "", tag)
            inb = 1; run = (tag == "sh" || tag == "bash"); skip = pending; pending = ""; cont = 0; next }
        !inb && NF { pending = "" }
        inb && run {
            line = $0
            if (cont) { sub(/^[ \t]+/, " ", line); cmd = cmd line }
            else if (line ~ /^[ \t]*relstab[ \t]/) { flush(); start = NR; cmd = line; sub(/^[ \t]+/, "", cmd) }
            else next
            cont = (cmd ~ /\\$/); if (cont) sub(/\\$/, "", cmd)
        }' "$1"
}

# The extraction itself, on a page made for it: tagged blocks only, the skip marker, joined continuation lines.
cat >"$TMP/selfcheck.md" <<'MD'
```sh
make demo
relstab info lenet   # a comment
relstab measure --model lenet \
    --init
```
<!-- examples: skip needs a GPU -->

```bash
relstab train --model vgg11
```
```
relstab plot depth|epochs FILE
```
<!-- examples: skip stale -->
text between the marker and the block cancels it
```sh
relstab theory
```
MD
got=$(extract "$TMP/selfcheck.md")
want=$(printf '3\trelstab info lenet   # a comment\n4\trelstab measure --model lenet  --init\n10\t#SKIP needs a GPU\trelstab train --model vgg11\n18\trelstab theory')
[ "$got" = "$want" ] || fail "extraction: got
$got
expected
$want"

# The prelude: inputs the examples name.
PRE="$TMP/prelude"
mkdir -p "$PRE"
if [ $HAVE_FM = 1 ]; then PDATA=fashionmnist; else PDATA=twopoints:testsize=200; fi
"$BIN" measure --model lenet --init --data "$PDATA" --P 6 --first --nodes fc3 --quiet --dump "$PRE/d" >/dev/null ||
    fail "prelude: measure --dump failed"
cp "$PRE/d/probe.npy" "$PRE/images.npy" 2>/dev/null || fail "prelude: no probe.npy"

relstab_fn="relstab() { \"\$RELSTAB_EXAMPLE_BIN\" \"\$@\"; }"
export RELSTAB_EXAMPLE_BIN="$BIN"
n_run=0 n_skip=0
for doc in "$ROOT/README.md" "$ROOT"/docs/*.md; do
    [ -f "$doc" ] || continue
    rel=${doc#"$ROOT"/}
    dir="$TMP/$(echo "$rel" | tr '/.' '__')"
    mkdir -p "$dir"
    cp "$PRE/images.npy" "$dir/"
    while IFS=$'\t' read -r line a b; do
        if [ "${a#\#SKIP }" != "$a" ]; then
            echo "skip  $rel:$line: ${a#\#SKIP } :: $b"
            n_skip=$((n_skip + 1))
            continue
        fi
        cmd=$a
        if reason=$(skip_reason "$cmd"); then
            echo "skip  $rel:$line: $reason :: $cmd"
            n_skip=$((n_skip + 1))
            continue
        fi
        t0=$(date +%s)
        out=$(cd "$dir" && timeout "$LIMIT" bash -c "$relstab_fn; $cmd" 2>&1 </dev/null)
        rc=$?
        t1=$(date +%s)
        n_run=$((n_run + 1))
        if [ $rc -eq 124 ]; then
            fail "$rel:$line: ran longer than $LIMIT s (make the example faster or mark its block skipped): $cmd"
        elif [ $rc -ne 0 ]; then
            fail "$rel:$line: exit $rc: $cmd
$(printf '%s\n' "$out" | tail -5)"
        else
            echo "ok    $rel:$line ($((t1 - t0)) s): $cmd"
        fi
    done < <(extract "$doc")
done
echo "$n_run example commands run, $n_skip skipped"
[ $n_run -gt 0 ] || fail "no example command found under $ROOT"
cli_done
