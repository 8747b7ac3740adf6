#!/usr/bin/env bash
# The resource-limit red-team spec (sbx_limits_spec.lua) again, as an ordinary user: every limit
# must hold without root. As root, this runs it as the user seer-sandbox-test (created once) from a
# copy that user can read; as an ordinary user it just runs the spec.
set -euo pipefail
src="$SEER_SOURCE_DIR"
if [[ $(id -u) -ne 0 ]]; then
  cd "$src"
  exec "$SEER_LUA_BIN" tests/lua/run_busted.lua tests/security/sbx_limits_spec.lua
fi
user=seer-sandbox-test
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
work=$(mktemp -d /tmp/seer-unpriv-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tests/lua" "$work/tests/security"
cp "$SEER_LUA_BIN" "$work/seer-lua"
cp "$(dirname "$SEER_LUA_BIN")/seer-sandbox" "$work/seer-sandbox" # found beside seer-lua
cp "$src/tests/lua/run_busted.lua" "$work/tests/lua/"
cp "$src/tests/security/sbx_limits_spec.lua" "$work/tests/security/"
cp "$SEER_sbx_limits_probe" "$work/sbx_limits_probe"
chown -R "$user" "$work"
chmod 755 "$work"
cd "$work"
runuser -u "$user" -- env HOME="/home/$user" PATH="$PATH" SEER_LUA_BIN="$work/seer-lua" \
  SEER_sbx_limits_probe="$work/sbx_limits_probe" ./seer-lua tests/lua/run_busted.lua tests/security/sbx_limits_spec.lua
