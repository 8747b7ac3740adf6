#!/usr/bin/env bash
# The sandbox spec again, as an ordinary user: sandboxes must work without root. As root, this
# creates the user seer-sandbox-test (once) and runs the spec under it from a copy that user can
# read; as an ordinary user it just runs the spec.
set -euo pipefail
src="$SEER_SOURCE_DIR"
if [[ $(id -u) -ne 0 ]]; then
  cd "$src"
  exec "$SEER_LUA_BIN" tests/lua/run_busted.lua tests/lua/sandbox_spec.lua
fi
user=seer-sandbox-test
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
work=$(mktemp -d /tmp/seer-unpriv-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tests/lua"
cp "$SEER_LUA_BIN" "$work/seer-lua"
cp "$(dirname "$SEER_LUA_BIN")/seer-sandbox" "$work/seer-sandbox" # found beside seer-lua
cp "$src/tests/lua/run_busted.lua" "$src/tests/lua/sandbox_spec.lua" "$work/tests/lua/"
chown -R "$user" "$work"
chmod 755 "$work"
cd "$work"
runuser -u "$user" -- env HOME="/home/$user" SEER_FIXTURES="$work" PATH="$PATH" \
  ./seer-lua tests/lua/run_busted.lua tests/lua/sandbox_spec.lua
