#!/usr/bin/env bash
# Runs tests/security/sbx_entry_attacks.lua (attacks on what a sandbox closes on entry) under a
# pseudo-terminal that is the run's controlling terminal, with a canary and a declared secret in
# the host environment; as root, then again as an unprivileged user (created once, like
# tests/integration/sandbox_unprivileged.sh), from a copy of the binaries that user can read.
set -euo pipefail
src="$SEER_SOURCE_DIR"
pty="$SEER_pty_helper"
probe="$SEER_sbx_entry_probe"
helper="$(dirname "$SEER_LUA_BIN")/seer-sandbox"
steps=$(mktemp /tmp/seer-sbx-entry-steps-XXXXXX)
work=$(mktemp -d /tmp/seer-sbx-entry-XXXXXX)
trap 'rm -rf "$work" "$steps"' EXIT
printf 'exit 0 300\n' > "$steps"
chmod 644 "$steps"

run_spec() { # DIR [runuser args...]: run the spec from DIR (holding seer-lua and the tests)
  local dir=$1
  shift
  (cd "$dir" && "$@" env SEER_SBX_CANARY="canary-$RANDOM$RANDOM" SEER_SBX_SECRET="secret-$RANDOM$RANDOM" \
    SEER_sbx_entry_probe="$dir/sbx_entry_probe" PATH="$PATH" HOME="${HOME:-/tmp}" \
    "$pty" "$steps" ./seer-lua tests/lua/run_busted.lua --pattern=sbx_entry_attacks \
    tests/security/sbx_entry_attacks.lua)
}

mkdir -p "$work/tests/lua" "$work/tests/security"
cp "$SEER_LUA_BIN" "$helper" "$probe" "$work/"
cp "$src/tests/lua/run_busted.lua" "$work/tests/lua/"
cp "$src/tests/security/sbx_entry_attacks.lua" "$work/tests/security/"
echo "== as $(id -un)"
run_spec "$work"
if [[ $(id -u) -eq 0 ]]; then
  user=seer-sandbox-test
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
  chown -R "$user" "$work"
  chmod 755 "$work"
  echo "== as $user"
  run_spec "$work" runuser -u "$user" -- env HOME="/home/$user"
fi
echo "sbx_entry: ok"
