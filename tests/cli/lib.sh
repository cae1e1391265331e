# lib.sh: what every end-to-end CLI test script shares. A script starts with
#     source "$(dirname "$0")/lib.sh"; cli_init NAME "$@"
# which sets BIN (the relstab binary, the script's first argument), TMP (a fresh directory removed at exit) and
# FAILS, and ends with cli_done (a summary line; exit 1 if any check failed).
set -u

cli_init() {
    NAME=$1
    BIN=${2:?usage: $1.sh /path/to/relstab}
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/relstab-cli-$NAME-XXXXXX")
    trap 'rm -rf "$TMP"' EXIT
    FAILS=0
}

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

expect_in() { # expect_in "text" "needle" "what"
    case "$1" in *"$2"*) ;; *) fail "$3: '$2' not in output: $1" ;; esac
}

# expect_status CODE "needle" args...: `relstab args...` exits with CODE (nz: any non-zero code) and writes exactly
# one line on stderr, containing needle.
expect_status() {
    local code=$1 needle=$2
    shift 2
    local err rc
    err=$("$BIN" "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$code" = nz ]; then
        [ $rc -ne 0 ] || fail "$*: exited 0 ($err)"
    else
        [ $rc -eq "$code" ] || fail "$*: exit $rc, expected $code ($err)"
    fi
    expect_in "$err" "$needle" "$*"
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "$*: more than one line on stderr: $err"
}

cli_done() {
    if [ "$FAILS" -eq 0 ]; then
        echo "$NAME.sh: all checks passed"
    else
        echo "$NAME.sh: $FAILS failure(s)"
        exit 1
    fi
}
