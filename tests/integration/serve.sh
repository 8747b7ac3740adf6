#!/usr/bin/env bash
# seer-lua serve as a real process, called over unix and tcp+token by a second seer-lua process:
# load errors with file:line, the ready line, calls, bad input (unknown function, wrong arity and
# types, unserializable results, malformed and oversized frames, missing token), pipelining, and a
# clean stop on SIGTERM. The server must stay up after every bad request.
set -euo pipefail
BIN=${SEER_LUA_BIN:-build/seer-lua}
SRC=${SEER_SOURCE_DIR:-$(pwd)}
FIX=$SRC/tests/lua/fixtures/interfaces
TMP=$(mktemp -d)
chmod 700 "$TMP"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_server NAME ARGS... : starts `seer-lua serve ARGS`, waits for its ready line, sets ADDR/PID.
start_server() {
  local name=$1; shift
  "$BIN" serve "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 200); do
    if grep -q '^listening on ' "$TMP/$name.out" 2>/dev/null; then
      ADDR=$(sed -n 's/^listening on //p' "$TMP/$name.out")
      return 0
    fi
    kill -0 "$PID" 2>/dev/null || fail "server $name exited early: $(cat "$TMP/$name.err")"
    sleep 0.025
  done
  fail "server $name printed no ready line"
}

# expect_load_error FILE PATTERN : serve must exit 1 quickly with PATTERN on stderr.
expect_load_error() {
  local status=0
  timeout 5 "$BIN" serve "$1" --listen "unix:$TMP/never.sock" >"$TMP/le.out" 2>"$TMP/le.err" || status=$?
  [ "$status" = 1 ] || fail "serve $1: expected exit status 1, got $status"
  grep -qF -- "$2" "$TMP/le.err" || fail "serve $1: expected '$2' in: $(cat "$TMP/le.err")"
  [ ! -s "$TMP/le.out" ] || fail "serve $1 printed on stdout: $(cat "$TMP/le.out")"
}

# ---- load errors ----
printf 'function expose.ok() return 1 end\n\nfunction expose.broken(\n  return 2\nend\n' >"$TMP/syntax.lua"
expect_load_error "$TMP/syntax.lua" "$TMP/syntax.lua:4:"
expect_load_error "$FIX/no_exposed.lua" "exposes no functions"
expect_load_error "$FIX/bad_param.lua" "bad_param.lua:4: @param 'lenght' names no parameter"
expect_load_error "$FIX/load_error.lua" "load_error.lua:4:"
expect_load_error "$TMP/missing.lua" "missing.lua"
status=0
"$BIN" serve "$FIX/basic.lua" --listen tcp:127.0.0.1:0 >/dev/null 2>"$TMP/notoken.err" || status=$?
[ "$status" = 1 ] && grep -q "needs a token" "$TMP/notoken.err" || fail "tcp without a token must be refused"

# ---- the client used against both transports ----
cat >"$TMP/client.lua" <<'EOF'
local addr, token, check_frames = ...
local rpc = require "seer.rpc"
local rpc_c = require "seer._rpc"
local task = require "seer.task"
local msgpack = require "seer.msgpack"
local function expect_error(etype, pattern, c, ...)
  local ok, e = pcall(c.call, c, ...)
  assert(not ok, "expected an error from " .. tostring((...)))
  assert(e.type == etype, ("expected %s, got %s"):format(etype, tostring(e)))
  assert(e.message:find(pattern, 1, true), ("expected '%s' in '%s'"):format(pattern, e.message))
  return e
end
local c = rpc.connect(addr, { token = token ~= "" and token or nil })
assert(c:ping() == "pong")
assert(c:call("add", 2, 3) == 5)
assert(c:call_named("greet", { name = "ann", loud = true }) == "HELLO ANN")
assert(c:describe().functions[1].name == "add")
expect_error("MethodNotFound", "no exposed function 'nope'", c, "nope")
expect_error("ArgumentError", "add(a, b) takes 2 arguments, got 3", c, "add", 1, 2, 3)
expect_error("ArgumentError", "missing argument 'b'", c, "add", 1)
expect_error("ArgumentError", "argument 'b' must be number", c, "add", 1, "x")
expect_error("SerializationError", "bad_result", c, "bad_result")
local e = expect_error("RuntimeError", "failed on purpose", c, "fail", "x")
assert(e.traceback:find("basic.lua", 1, true), "traceback missing: " .. e.traceback)
-- pipelined calls from tasks, answered in order because calls into one interface are serialised
local fns = {}
for i = 1, 20 do fns[i] = function() return c:call("slow", 0.001, i) end end
local r = task.gather(fns)
for i = 1, 20 do assert(r[i] == i) end
-- raw frames on their own connections: the server answers with an error and hangs up
local function raw(bytes)
  local box = { frames = {} }
  local conn = rpc_c.connect(addr, function(ev, v)
    if ev == "message" then box.frames[#box.frames + 1] = v elseif ev == "close" then box.closed = true end
  end)
  task.run(function()
    local t0 = require("seer.core").now()
    while not conn:is_open() and not box.closed do
      assert(require("seer.core").now() - t0 < 5, "could not connect")
      task.sleep(0.001)
    end
    assert(not box.closed, "the connection closed before it opened")
    conn:send_raw(bytes)
    t0 = require("seer.core").now()
    while not box.closed do
      assert(require("seer.core").now() - t0 < 5, "server did not hang up")
      task.sleep(0.002)
    end
  end)
  return box.frames[1]
end
if check_frames == "frames" then
  local f = raw("\193\193")
  assert(f and f[3].type == "FrameError" and f[3].message:find("malformed", 1, true), "malformed frame")
  f = raw(msgpack.encode({ 0, 1, "add", { string.rep("x", 10000) } }))
  assert(f and f[3].type == "FrameError" and f[3].message:find("exceeds the limit", 1, true), "oversized frame")
else
  local f = raw(msgpack.encode({ 0, 1, "add", { 1, 2 } }))
  assert(f and f[3].type == "AuthError", "a tcp call without seer.auth must be refused")
end
-- and the server is still up, state intact
local c2 = rpc.connect(addr, { token = token ~= "" and token or nil })
assert(c2:call("count") == 22, "module state lost or calls interleaved")
assert(c2:ping() == "pong")
c:close()
c2:close()
print("client ok")
EOF

# ---- unix socket ----
start_server unix "$FIX/basic.lua" --listen "unix:$TMP/s.sock" --max-frame 4096
[ "$ADDR" = "unix:$TMP/s.sock" ] || fail "ready line names '$ADDR'"
[ "$(stat -c %a "$TMP/s.sock")" = 600 ] || fail "socket mode is $(stat -c %a "$TMP/s.sock")"
"$BIN" "$TMP/client.lua" "$ADDR" "" frames | grep -q "client ok" || fail "unix client"
kill -0 "$PID" || fail "server died"
kill -TERM "$PID"
status=0
wait "$PID" || status=$?
[ "$status" = 0 ] || fail "SIGTERM: exit status $status: $(cat "$TMP/unix.err")"
[ ! -e "$TMP/s.sock" ] || fail "socket file left behind after SIGTERM"

# ---- tcp with a token (given through the environment, out of the process list) ----
SEER_RPC_TOKEN=t0ken start_server tcp "$FIX/basic.lua" --listen tcp:127.0.0.1:0
[[ "$ADDR" =~ ^tcp:127\.0\.0\.1:[0-9]+$ ]] || fail "tcp ready line names '$ADDR'"
"$BIN" "$TMP/client.lua" "$ADDR" t0ken auth | grep -q "client ok" || fail "tcp client"
status=0
"$BIN" -e "require('seer.rpc').connect('$ADDR', {token = 'wrong'})" 2>"$TMP/wrong.err" || status=$?
[ "$status" != 0 ] && grep -q "authentication" "$TMP/wrong.err" || fail "a wrong token must fail"
# garbage from bash's /dev/tcp: the server answers or hangs up, and stays up
PORT=${ADDR##*:}
{ exec 3<>"/dev/tcp/127.0.0.1/$PORT" && printf '\xc1\xc1\xc1' >&3 && timeout 2 cat <&3 >/dev/null; exec 3>&-; } || true
"$BIN" -e "assert(require('seer.rpc').connect('$ADDR', {token = 't0ken'}):ping() == 'pong')" || fail "tcp server down"
kill -TERM "$PID"
wait "$PID" || fail "tcp server: bad exit status on SIGTERM"
echo "serve: ok"
