#!/usr/bin/env bash
# `seer-lua kernel install --prefix` then Debian's jupyter_client (KernelManager on that kernelspec)
# drives the kernel: execute, stream, result, error, display, complete, inspect, is_complete,
# history, bad messages, interrupt of a loop, restart, shutdown (tests/integration/kernel_client.py).
# Run twice: interrupt_mode "signal" (the installed spec) and "message" (control channel).
set -euo pipefail
BIN=${SEER_LUA_BIN:-build/seer-lua}
SRC=${SEER_SOURCE_DIR:-$(pwd)}
PY=/usr/bin/python3
if ! $PY -c 'import jupyter_client, zmq' 2>/dev/null; then
  echo "FAIL: Debian's python3-jupyter-client is missing (tools/install-deps.sh installs it)" >&2
  exit 1
fi
TMP=$(mktemp -d)
# A kernel the client failed to stop (its connection file is in $TMP/runtime) would hold ctest's
# output pipe open until the suite's timeout: stop it with the test.
trap 'pkill -KILL -f -- "-f $TMP/runtime/" || true; rm -rf "$TMP"' EXIT
"$BIN" kernel install --prefix "$TMP" >/dev/null
SPEC=$TMP/share/jupyter/kernels/seer-lua
[ -s "$SPEC/kernel.json" ] && [ -s "$SPEC/logo-64x64.png" ] || { echo "FAIL: kernelspec not written" >&2; exit 1; }
export JUPYTER_PATH=$TMP/share/jupyter JUPYTER_RUNTIME_DIR=$TMP/runtime
mkdir -p -m 0700 "$TMP/runtime"
specs=$(jupyter kernelspec list 2>&1)
grep -q "seer-lua " <<<"$specs" || { echo "FAIL: jupyter kernelspec list misses seer-lua: $specs" >&2; exit 1; }
mkdir -p "$TMP/share/jupyter/kernels/seer-lua-message"
sed 's/"interrupt_mode": "signal"/"interrupt_mode": "message"/' "$SPEC/kernel.json" \
  >"$TMP/share/jupyter/kernels/seer-lua-message/kernel.json"
grep -q '"message"' "$TMP/share/jupyter/kernels/seer-lua-message/kernel.json"
$PY "$SRC/tests/integration/kernel_client.py" seer-lua
$PY "$SRC/tests/integration/kernel_client.py" seer-lua-message

# jupyter nbconvert --execute runs a Lua notebook through the kernel; nbformat validates the result.
jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=60 \
  --output-dir "$TMP" --output squares.out.ipynb "$SRC/tests/fixtures/notebooks/squares.ipynb" 2>"$TMP/nbconvert.log" ||
  { cat "$TMP/nbconvert.log" >&2; echo "FAIL: nbconvert --execute" >&2; exit 1; }
$PY - "$TMP/squares.out.ipynb" <<'PY'
import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(nb)
code = [c for c in nb.cells if c.cell_type == "code"]
assert code[0].outputs[0]["text"] == "1 4 9 16 25\n", code[0].outputs
assert code[1].outputs[0]["data"]["text/plain"] == "5", code[1].outputs
assert "<table" in code[2].outputs[0]["data"]["text/html"], code[2].outputs
assert [c.execution_count for c in code] == [1, 2, 3], [c.execution_count for c in code]
print("nbconvert: ok")
PY
