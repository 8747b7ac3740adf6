#!/usr/bin/env bash
# The README's "an agent with no key" path: examples/local-openai-server/server.js (an
# OpenAI-compatible server on 127.0.0.1) and examples/scoped-sandbox-intro/main.lua pointed at it
# with OPENAI_BASE_URL and a placeholder key, on the tutorial's random-weight model. The agent's
# run_lua call runs in the session sandbox and its result goes back to the server.
set -euo pipefail
KEYLESS_ENV=()
source "$SEER_SOURCE_DIR/tests/integration/lib/keyless_agent.sh"
out=$(run_keyless_agent "$SEER_SOURCE_DIR/examples/scoped-sandbox-intro/main.lua" seer-demo/tiny-llama 2>&1) ||
  { echo "$out"; exit 1; }
echo "$out"
grep -q "agent calls run_lua" <<<"$out"
grep -q "The tool answered: .*in the session sandbox: 6 \* 7 = 42" <<<"$out"
grep -q "agent finished: end_turn\|agent finished: stop" <<<"$out" || { echo "no finished line"; exit 1; }
grep -q "scoped-sandbox-intro done" <<<"$out"
echo "local agent: ok"
