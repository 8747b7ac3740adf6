#!/usr/bin/env bash
# examples/notebook-intro end to end with no key: the keyless local OpenAI-compatible server
# (examples/local-openai-server) plays the agent; it starts the notebook session and runs a cell
# that looks at the tutorial's random-weight model in the sandbox's kernel and plots. The notebook
# the session wrote must pass Debian's nbformat validator and hold that cell with its outputs.
set -euo pipefail
source "$SEER_SOURCE_DIR/tests/integration/lib/keyless_agent.sh"
KEYLESS_ENV=(SEER_EXAMPLE_OUT="$tmp/out")
out=$(run_keyless_agent "$SEER_SOURCE_DIR/examples/notebook-intro/main.lua" seer-demo/tiny-llama 2>&1) ||
  { echo "$out"; exit 1; }
echo "$out"
grep -q "is loaded in the notebook as \`model\`" <<<"$out"
grep -q "agent calls mcp__notebook__start_new_session" <<<"$out"
grep -q "agent calls mcp__notebook__execute_code" <<<"$out"
grep -q "The notebook answered: .*2 layers; after [0-9]* tokens it predicts" <<<"$out"
grep -q "agent finished: end_turn\|agent finished: stop" <<<"$out" || { echo "no finished line"; exit 1; }
grep -q "notebook-intro done" <<<"$out"
/usr/bin/python3 - "$tmp/out/notebook.ipynb" <<'PY'
import sys
import nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(nb)
code = [c for c in nb.cells if c.cell_type == "code"]
assert len(code) == 1, f"expected the agent's one cell, got {len(code)}"
cell = code[0]
assert "model:forward(ids" in cell.source and cell.execution_count == 1, cell
mimes = {m for o in cell.outputs for m in o.get("data", {})}
assert {"image/png", "image/svg+xml"} <= mimes, mimes
assert any(o.output_type == "stream" and "2 layers" in o.text for o in cell.outputs), cell.outputs
assert nb.metadata.kernelspec.name == "seer-lua"
print("notebook valid:", sys.argv[1])
PY
echo "notebook intro: ok"
