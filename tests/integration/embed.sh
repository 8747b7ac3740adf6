#!/usr/bin/env bash
# examples/embed-c: a C host registers a function, runs Lua that calls it from concurrent tasks,
# and gets errors back as codes and messages without aborting.
set -euo pipefail
out=$("$SEER_EMBED_EXAMPLE" 2>&1)
echo "$out"
[[ "$out" == *"squares: 9 16 25"* ]] || { echo "missing squares line"; exit 1; }
[[ "$out" == *"error returned"*"deliberate failure"* ]] || { echo "error was not reported back"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'local x = = 1\n' > "$tmp/bad.lua"
if "$SEER_EMBED_EXAMPLE" "$tmp/bad.lua" > "$tmp/out" 2>&1; then
  echo "a syntax error in a file should fail"; exit 1
fi
grep -q "bad.lua:1:" "$tmp/out" || { cat "$tmp/out"; echo "syntax error not reported as file:line"; exit 1; }
echo "embed: ok"
