#!/usr/bin/env bash
# examples/scoped-sandbox-intro end to end, as tools/quickstart.sh runs it: a random-weight model
# with the real Llama 2 tokenizer (shipped beside the example) in a temporary HF cache, served from
# a sandbox into a session.
set -euo pipefail
tok_dir="$SEER_SOURCE_DIR/examples/scoped-sandbox-intro/tokenizer"
hf=$(mktemp -d)
trap 'rm -rf "$hf"' EXIT
"$SEER_LUA_BIN" "$SEER_SOURCE_DIR/examples/scoped-sandbox-intro/demo_model.lua" "$tok_dir" "$hf"
out=$(env -u ANTHROPIC_API_KEY -u OPENAI_API_KEY HF_HUB_CACHE="$hf" \
  "$SEER_LUA_BIN" "$SEER_SOURCE_DIR/examples/scoped-sandbox-intro/main.lua" seer-demo/tiny-llama 2>&1)
echo "$out"
grep -q '"architecture":"LlamaForCausalLM"' <<<"$out"
grep -q "embedding: 64 dims" <<<"$out"
grep -q "scoped-sandbox-intro done" <<<"$out"
# The default model is not in this cache: a clear error, not a hang.
if env HF_HUB_CACHE="$hf" "$SEER_LUA_BIN" "$SEER_SOURCE_DIR/examples/scoped-sandbox-intro/main.lua" > "$hf/err" 2>&1; then
  echo "expected the missing default model to fail"; exit 1
fi
grep -q "'google/gemma-2-9b' is not in the Hugging Face cache" "$hf/err"
echo "scoped example: ok"
