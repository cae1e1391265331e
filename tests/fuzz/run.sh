#!/usr/bin/env bash
# run.sh BUILD_DIR SECONDS: runs every libFuzzer target BUILD_DIR/fuzz_* for SECONDS seconds each and reports,
# per target, the executions and whether a crash (or leak, timeout, out-of-memory, undefined behaviour) was found.
# Exits 1 if any target found one, 2 on bad usage or when BUILD_DIR holds no fuzz_* binary.
#
# Per target NAME (the binary's file name, e.g. fuzz_safetensors):
#   corpus     BUILD_DIR/corpus/NAME/            kept between runs, grows as libFuzzer finds new coverage
#   seeds      tests/fuzz/seeds/NAME/            read as a second corpus directory if it exists
#   dictionary tests/fuzz/NAME.dict              passed with -dict= if it exists
#   findings   BUILD_DIR/fuzz-artifacts/NAME/    crash-*, leak-*, timeout-*, oom-* inputs; NAME.log beside it
# A new target needs nothing here: build tests/fuzz/fuzz_NAME.c (CMake does) and, optionally, add seeds.
#
# Build first: CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DRELSTAB_FUZZ=ON -DRELSTAB_TESTS=OFF
#              cmake --build build-fuzz      (or simply: make fuzz)
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$1
secs=$2
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
  echo "run.sh: SECONDS must be a positive integer, got '$secs'" >&2
  exit 2
fi
if [ ! -d "$build" ]; then
  echo "run.sh: no build directory $build" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t targets < <(find "$build" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x | sort)
if [ ${#targets[@]} -eq 0 ]; then
  echo "run.sh: no fuzz_* binaries in $build (configure it with CC=clang -DRELSTAB_FUZZ=ON and build)" >&2
  exit 2
fi

# Undefined behaviour must stop the run like a crash; leaks are reported by ASan's leak checker.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

failed=0
for t in "${targets[@]}"; do
  name=$(basename "$t")
  corpus="$build/corpus/$name"
  findings="$build/fuzz-artifacts/$name"
  log="$build/fuzz-artifacts/$name.log"
  mkdir -p "$corpus" "$findings"
  dict=()
  seeds=()
  [ -f "$here/$name.dict" ] && dict=("-dict=$here/$name.dict")
  [ -d "$here/seeds/$name" ] && seeds=("$here/seeds/$name") # read only: new inputs go to the first dir, $corpus
  before=$(find "$findings" -type f | wc -l)
  "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$findings/" "${dict[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  files=$(find "$corpus" -type f | wc -l)
  after=$(find "$findings" -type f | wc -l)
  if [ $rc -ne 0 ] || [ "$after" -gt "$before" ]; then
    failed=1
    echo "$name: ${execs:-?} executions in ${secs} s, corpus $files inputs: CRASH (exit $rc); log $log, inputs in $findings/"
    grep -m 3 -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" | sed 's/^/    /'
  else
    echo "$name: ${execs:-?} executions in ${secs} s, corpus $files inputs: no crash"
  fi
done
exit $failed
