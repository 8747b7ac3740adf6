#!/usr/bin/env bash
# The interactive REPL through a real pseudo-terminal: evaluation, multi-line input, pretty
# printing, errors that don't end it, Ctrl-C at the prompt and during running code, history, Ctrl-D.
set -euo pipefail
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
steps="$home/steps"
cat > "$steps" <<'STEPS'
expect seer-lua
expect >
send x = 40
send x + 2
expect 42
send function double(a)
expect >>
send   return a * 2
send end
send double(21) + 0.5
expect 42.5
send {b = 1, a = {1, 2}, s = "str"}
expect { a = { 1, 2 }, b = 1, s = "str" }
send t = {}; t.self = t
send t
expect <cycle>
send error("oops from repl")
expect oops from repl
expect stack traceback
send 1 + 1
expect 2
send if true then
expect >>
ctrl-c
expect ^C
send 5 * 5
expect 25
send while true do end
sleep 0.3
ctrl-c
expect interrupted
send 3 * 3
expect 9
send require("seer").sleep(100)
sleep 0.3
ctrl-c
expect interrupted
send require("seer").spawn(function() error("task error") end):wait()
expect task error
send "still" .. " alive"
expect still alive
ctrl-d
exit 0
STEPS
HOME="$home" "$SEER_pty_helper" "$steps" "$SEER_LUA_BIN"
# libedit stores history with spaces escaped as \040.
grep -qF 'x\040=\04040' "$home/.seer_history" || { echo "history was not written to ~/.seer_history"; exit 1; }
# A new session recalls it: Up twice reaches `"still" .. " alive"`'s predecessor lines; Up once
# gives the last line.
cat > "$steps" <<'STEPS'
expect >
up
send
expect still alive
ctrl-d
exit 0
STEPS
HOME="$home" "$SEER_pty_helper" "$steps" "$SEER_LUA_BIN"
echo "repl: ok"
