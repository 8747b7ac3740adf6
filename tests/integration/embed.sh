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
# A sandbox from the embedding program: exactly one, through the helper found beside libseer (not
# $SEER_HELPER, not a re-run of this program), gone after terminate.
mkdir "$tmp/t"
chmod 711 "$tmp" "$tmp/t" # as root, the sandbox's own uid walks to its root mount point
out=$(env -u SEER_HELPER TMPDIR="$tmp/t" "$SEER_EMBED_EXAMPLE" --sandbox 2>&1) || { echo "$out"; exit 1; }
echo "$out"
[[ "$out" == *"sandbox says: hi"* ]] || { echo "echo hi did not run in the sandbox"; exit 1; }
[[ "$out" == *"while running: 1 sandbox, 1 copies of this program, 1 state dir"* ]] \
  || { echo "expected exactly one sandbox and no copy of the host program"; exit 1; }
[[ "$out" == *"after terminate: 0 sandbox, 1 copies of this program, 0 state dir"* ]] \
  || { echo "the sandbox outlived terminate"; exit 1; }
# A bad SEER_HELPER is named in the error, and nothing starts.
if out=$(SEER_HELPER=not/absolute TMPDIR="$tmp/t" "$SEER_EMBED_EXAMPLE" --sandbox 2>&1); then
  echo "a relative SEER_HELPER should be refused"; exit 1
fi
[[ "$out" == *"SEER_HELPER='not/absolute' is not an absolute path"* ]] || { echo "$out"; exit 1; }
[[ -z "$(ls "$tmp/t")" ]] || { echo "a state dir was left behind"; exit 1; }
echo "embed: ok"
