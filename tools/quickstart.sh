#!/usr/bin/env bash
# One command from a fresh clone to the running demo: install dependencies, build, run the
# quickstart (tasks, JSON, processes), then the scoped-sandbox tutorial on a small random-weight
# model with a real tokenizer (Llama 2's, shipped in the example's tokenizer/ folder), installed into a
# Hugging Face cache under build/. Needs no registry but Debian's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target seer-lua
bin="$root/build/seer-lua"
"$bin" "$root/examples/quickstart/main.lua"
echo
tok_dir="$root/examples/scoped-sandbox-intro/tokenizer"
(cd "$tok_dir" && sha256sum --quiet -c - <<'EOF2'
fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc  tokenizer.json
747ec99bae3fd9d7bf9c3b9172e5ca0d82ca0d23d64a58ef1752b612f196817b  tokenizer_config.json
EOF2
) || { echo "quickstart: $tok_dir does not match its sha256 sums (see its README.md)"; exit 1; }
hf="$root/build/demo-hf"
[[ -d "$hf/models--seer-demo--tiny-llama" ]] ||
  "$bin" "$root/examples/scoped-sandbox-intro/demo_model.lua" "$tok_dir" "$hf" >/dev/null
HF_HUB_CACHE="$hf" exec "$bin" "$root/examples/scoped-sandbox-intro/main.lua" seer-demo/tiny-llama
