#!/usr/bin/env bash
# Installs the kernelspec of a seer-lua build into a temporary prefix and runs roundtrip.py there.
#   usage: bench/kernel/run.sh [build/seer-lua] [N] [STARTS]
set -euo pipefail
BIN=${1:-build/seer-lua}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$BIN" kernel install --prefix "$TMP" >/dev/null
grep -m1 "model name" /proc/cpuinfo
JUPYTER_PATH=$TMP/share/jupyter:/usr/share/jupyter JUPYTER_RUNTIME_DIR=$TMP/runtime \
  /usr/bin/python3 "$(dirname "$0")/roundtrip.py" "${2:-300}" "${3:-10}"
