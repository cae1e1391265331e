#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages relstab's build, tests and demo need, and only those missing.
# Idempotent: a second run installs nothing. Optional extras: RELSTAB_DEPS_EXTRA=1 also installs
# python3-torch (for regenerating test fixtures, bench/ and the torch tests of the Python binding, which skip
# themselves without it).
set -euo pipefail
pkgs=(cmake make gcc pkg-config libdnnl-dev libcjson-dev libcmocka-dev zlib1g-dev libstb-dev
      gnuplot-nox dataset-fashion-mnist clang libclang-rt-14-dev)
# headless Chromium: tests/cli/report.sh opens the `reproduce` HTML report the way a user sees it
pkgs+=(chromium)
# ONNX import: protobuf-c (reader generated from onnx.proto) and the ONNX conformance test data
pkgs+=(libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata)
pkgs+=(libopenmpi-dev openmpi-bin) # MPI: mpirun -n N relstab ... (docs/cluster.md) and its tests
[ "${RELSTAB_DEPS_EXTRA:-0}" = 1 ] && pkgs+=(python3-torch python3-numpy)
# the Python binding (python/relstab) and its tests: numpy over ctypes; python3-torch stays optional
pkgs+=(python3 python3-numpy)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
