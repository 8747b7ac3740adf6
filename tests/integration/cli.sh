#!/usr/bin/env bash
# The seer-lua command line: version, -e/-l/-i, scripts with arg, exit statuses, error locations,
# piped statements, subcommands, and running from any directory with the embedded stdlib.
set -uo pipefail
bin="$SEER_LUA_BIN"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
check() { # check NAME EXPECTED_STATUS EXPECTED_SUBSTRING -- command...
  local name=$1 want_status=$2 want=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [[ $status -ne $want_status ]] || [[ "$out" != *"$want"* ]]; then
    echo "FAIL $name: status $status (want $want_status), output:"
    echo "$out" | head -20
    echo "  (wanted to contain: $want)"
    fails=$((fails + 1))
  else
    pass=$((pass + 1))
  fi
}

check version 0 "0.1.0" -- "$bin" -e 'print(require("seer").version)'
check version-flag 0 "seer-lua 0.1.0" -- "$bin" -v
check help 0 "usage: seer-lua" -- "$bin" --help
check unknown-option 1 "unknown option '-z'" -- "$bin" -z
check piped-repl 0 "42" -- bash -c "printf 'x = 40\nx + 2\n' | '$bin'"
check piped-multiline 0 "6" -- bash -c "printf 'function f(a)\n  return a * 2\nend\nprint(f(3))\n' | '$bin'"
check piped-error-continues 1 "after" -- bash -c "printf 'error(\"bad\")\nprint(\"after\")\n' | '$bin'"

cat > "$tmp/args.lua" <<'LUA'
print(arg[0], arg[1], arg[2], #arg, select("#", ...))
LUA
check script-args 0 "$tmp/args.lua	one	two	2	2" -- "$bin" "$tmp/args.lua" one two

printf 'local x = 1\nlocal y = = 2\n' > "$tmp/syntax.lua"
check syntax-error 1 "syntax.lua:2:" -- "$bin" "$tmp/syntax.lua"
check missing-script 1 "cannot open script '$tmp/nope.lua'" -- "$bin" "$tmp/nope.lua"

cat > "$tmp/runtime_error.lua" <<'LUA'
local function deep() error("deliberate") end
deep()
LUA
check runtime-error 1 "runtime_error.lua:1: deliberate" -- "$bin" "$tmp/runtime_error.lua"
check runtime-traceback 1 "stack traceback" -- "$bin" "$tmp/runtime_error.lua"

cat > "$tmp/task_error.lua" <<'LUA'
local seer = require "seer"
local t = seer.spawn(function() local function inner() error("inside task") end inner() end)
t:wait()
LUA
check task-error 1 "task_error.lua:2: inside task" -- "$bin" "$tmp/task_error.lua"

cat > "$tmp/drain.lua" <<'LUA'
local seer = require "seer"
seer.spawn(function() seer.sleep(0.05) print("spawned task finished") end)
print("main chunk done")
LUA
check drains-tasks 0 "spawned task finished" -- "$bin" "$tmp/drain.lua"

# A finished seer.timeout leaves no deadline behind for the loop to wait out at exit.
check timeout-no-linger 0 "fast" -- timeout 10 "$bin" -e 'local seer = require "seer"
print(seer.timeout(60, function() seer.sleep(0.01) return "fast" end))
local t = seer.spawn(function() return 1 end); t:wait(60)'
check dash-e-error 1 "(command line):1: oops" -- "$bin" -e 'error("oops")'
check dash-l 0 "table" -- "$bin" -l seer.json -e 'print(type(seer_json))'
check interactive-after 0 "99" -- bash -c "echo 'y * 3' | '$bin' -i -e 'y = 33'"
check stdin-script 0 "from stdin" -- bash -c "echo 'print(\"from stdin\")' | '$bin' -"
check exit-code 0 "" -- "$bin" -e 'os.exit(0)'
check exit-code-3 3 "" -- "$bin" -e 'os.exit(3)'
check doctor 0 "user namespaces" -- "$bin" doctor
# Every subcommand (and each of model's and kernel's commands) answers --help with its usage and
# exit 0, and refuses an unknown flag with a non-zero status (they all parse flags with seer.cli).
for sub in serve mcp doctor doc transcript "transcript render" kernel "kernel install" "kernel mcp" \
  model "model create-random" "model pull" "model ls" "model info" "model rm"; do
  # shellcheck disable=SC2086 # "model pull" is two words on purpose
  check "help-$sub" 0 "usage: seer-lua ${sub%% *}" -- "$bin" $sub --help
  # shellcheck disable=SC2086
  out=$("$bin" $sub --no-such-flag 2>&1)
  if [[ $? -eq 0 ]] || [[ "$out" != *"--no-such-flag"* ]]; then
    echo "FAIL bad-flag-$sub: accepted --no-such-flag or did not name it: $out" | head -5
    fails=$((fails + 1))
  else
    pass=$((pass + 1))
  fi
done
check mcp-usage 1 "give either --connect ADDR or an interface file" -- "$bin" mcp
check mcp-subcommand 0 '"protocolVersion":"2025-11-25"' -- bash -c "echo '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\"}}' | '$bin' mcp tests/lua/fixtures/mcp/tools.lua"

# Runs from another directory: the stdlib is embedded, not read from the tree.
check any-directory 0 "0.1.0" -- bash -c "cd / && '$bin' -e 'print(require(\"seer\").version)'"
# SEER_PATH overrides the embedded stdlib.
mkdir -p "$tmp/stdlib/seer"
echo 'return { marker = "from SEER_PATH" }' > "$tmp/stdlib/seer/probe.lua"
check seer-path 0 "from SEER_PATH" -- env SEER_PATH="$tmp/stdlib" "$bin" -e 'print(require("seer.probe").marker)'
check no-seer-path 1 "module 'seer.probe' not found" -- "$bin" -e 'require("seer.probe")'

# The quickstart example runs as the README says.
check quickstart 0 "quickstart done" -- "$bin" "$SEER_SOURCE_DIR/examples/quickstart/main.lua"

echo "$pass passed, $fails failed"
[[ $fails -eq 0 ]]
