#!/usr/bin/env bash
# Runs tests/security/session_attacks.lua (an agent attacking its own sandboxed session) with an HF
# cache holding a fixture model (HF_HUB_CACHE), a secret in the host environment and a canary in
# HOME; as root, then again as an unprivileged user (created once, like
# tests/integration/sandbox_unprivileged.sh), from a copy of the binaries that user can read.
set -euo pipefail
src="$SEER_SOURCE_DIR"
bindir="$(dirname "$SEER_LUA_BIN")"
work=$(mktemp -d /tmp/seer-session-sec-XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/tests/lua" "$work/tests/security" "$work/hf/models--seer-test--tiny-llama/refs" \
  "$work/hf/models--seer-test--tiny-llama/snapshots/local"
cp "$SEER_LUA_BIN" "$work/"
[[ -x "$bindir/seer-sandbox" ]] && cp "$bindir/seer-sandbox" "$work/"
cp "$src/tests/lua/run_busted.lua" "$work/tests/lua/"
cp "$src/tests/security/session_attacks.lua" "$work/tests/security/"
cp "$src/examples/scoped-sandbox-intro/interface.lua" "$work/interface.lua"
cp "$src/tests/fixtures/models/llama/config.json" "$src/tests/fixtures/models/llama/model.safetensors" \
  "$work/hf/models--seer-test--tiny-llama/snapshots/local/"
printf local > "$work/hf/models--seer-test--tiny-llama/refs/main"

run_spec() { # [runuser args...]: run the spec from $work with the attack's environment
  (cd "$work" && "$@" env HF_HUB_CACHE="$work/hf" SEER_SESSION_SECRET="secret-$RANDOM$RANDOM" \
    SEER_SESSION_INTERFACE="$work/interface.lua" PATH="$PATH" HOME="${HOME_FOR_RUN:-${HOME:-/tmp}}" \
    ./seer-lua tests/lua/run_busted.lua --pattern=session_attacks tests/security/session_attacks.lua)
}

echo "== as $(id -un)"
run_spec
if [[ $(id -u) -eq 0 ]]; then
  user=seer-sandbox-test
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
  chown -R "$user" "$work"
  chmod 755 "$work"
  echo "== as $user"
  HOME_FOR_RUN="/home/$user" run_spec runuser -u "$user" --
fi
echo "session: ok"
