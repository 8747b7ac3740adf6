# Sourced by the keyless-agent integration tests (local_agent.sh, notebook_intro.sh): writes the
# tutorial's random-weight model into a fresh HF cache under $tmp/hf and starts the local
# OpenAI-compatible server (examples/local-openai-server), which plays the agent with no API key.
# Sets: tmp (removed on exit, with the server stopped), port; run_keyless_agent runs seer-lua with
# the environment the README gives (no Anthropic key, OPENAI_BASE_URL at the server).
tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
"$SEER_LUA_BIN" "$SEER_SOURCE_DIR/examples/scoped-sandbox-intro/demo_model.lua" \
  "$SEER_SOURCE_DIR/examples/scoped-sandbox-intro/tokenizer" "$tmp/hf"
node "$SEER_SOURCE_DIR/examples/local-openai-server/server.js" > "$tmp/port" &
server_pid=$!
for _ in $(seq 100); do [[ -s "$tmp/port" ]] && break; sleep 0.1; done
port=$(sed -n 's/^{"port":\([0-9]*\)}$/\1/p' "$tmp/port")
[[ -n "$port" ]] || { echo "the server did not print its port"; exit 1; }

# run_keyless_agent ARGS...: seer-lua ARGS in the keyless environment, plus the VAR=value settings
# in the array KEYLESS_ENV (set it, possibly empty, before calling).
run_keyless_agent() {
  env -u ANTHROPIC_API_KEY OPENAI_API_KEY=none OPENAI_BASE_URL="http://127.0.0.1:$port/v1" \
    HF_HUB_CACHE="$tmp/hf" "${KEYLESS_ENV[@]}" "$SEER_LUA_BIN" "$@"
}
