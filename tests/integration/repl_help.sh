#!/usr/bin/env bash
# The REPL's introspection through a real pseudo-terminal: Tab completes Lua names, fields, methods
# and module names (not file names), `?name` and help(f) show doc comments and signatures of
# stdlib, C-binding and interface functions, and each entered line is stored in the history once.
set -euo pipefail
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
steps="$home/steps"
cat > "$steps" <<'STEPS'
expect seer-lua
expect >
send seer = require "seer"
type seer.ten
tab
type .zer
tab
send {2}
expect Tensor{2} f32 [0, 0]
type requ
tab
type ("seer.ta
tab
send ").call_later ~= nil
expect true
send t = seer.tensor.zeros({3})
type t:tot
tab
send ()[3] == 0
expect true
type t.sha
tab
send [1] * 11
expect 33
send ?seer.sleep
expect seer.task.sleep(s)
expect Sleep for s seconds
expect Defined at
send help(t.topk)
expect seer.Tensor:topk(k, dim?) -> seer.Tensor, seer.Tensor
expect The k largest values
send iface = require("seer.interface").load("tests/lua/fixtures/interfaces/basic.lua", {models = {}})
send ?iface.by_name.greet.fn
expect expose.greet(name, loud?) -> string
expect Greet someone, optionally loudly.
send help "seer.fs"
expect seer.fs.read(path)
send ?no_such_name
expect no documentation for no_such_name
send "alive"
expect alive
ctrl-d
exit 0
STEPS
HOME="$home" "$SEER_pty_helper" "$steps" "$SEER_LUA_BIN"
# Every line once, in order (libedit's append_history(1) used to write the last two lines).
dups=$(tail -n +2 "$home/.seer_history" | sort | uniq -d)
[ -z "$dups" ] || { echo "history stores lines twice:"; cat "$home/.seer_history"; exit 1; }
[ "$(tail -n +2 "$home/.seer_history" | wc -l)" = 13 ] || { echo "expected 13 history lines:"; cat "$home/.seer_history"; exit 1; }
grep -qx 'seer.tensor.zeros{2}' "$home/.seer_history" || { echo "the completed line is not in the history"; exit 1; }
echo "repl_help: ok"
