--- seer.session.server: the executor of a sandboxed session. It runs inside the session sandbox as
--- one long-lived seer-lua process (so variables persist between run_lua calls) and answers the
--- host over msgpack-RPC on a Unix socket: run_lua, read_file, write_file, list_files. Started by
--- seer.session.sandboxed with SEER_SESSION_SOCKET and SEER_SESSION_WORKSPACE set; prints
--- "listening on ADDR" once ready.
local files = require "seer.session.files"
local lua_state = require "seer.session.lua_state"
local msgpack = require "seer.msgpack"
local path = require "seer.path"
local pretty = require "seer.pretty"
local rpc = require "seer.rpc"
local task = require "seer.task"
local json_array = require("seer.json").array

local unpack = table.unpack or unpack

local M = {}

M.MAX_OUTPUT = 1024 * 1024 -- bytes of printed output returned by one run_lua call

-- A value crosses to the host as itself when msgpack can carry it, else as its printed form
-- (functions, coroutines, tables holding them).
local function wire_value(v)
  if v == nil then return msgpack.null end
  if type(v) == "table" or type(v) == "userdata" then
    if pcall(msgpack.encode, v) then return v end
    return pretty.format(v)
  end
  if type(v) == "function" or type(v) == "thread" then return pretty.format(v) end
  return v
end

local function wire_result(r)
  local values = json_array({})
  for i = 1, r.values.n do values[i] = wire_value(r.values[i]) end
  local out = r.output
  if #out > M.MAX_OUTPUT then
    out = out:sub(1, M.MAX_OUTPUT) .. ("\n... [output truncated: %d more bytes]\n"):format(#out - M.MAX_OUTPUT)
  end
  return { output = out, values = values, n = r.values.n, error = r.error }
end

--- The handler table; exposed for tests of the wire form.
function M.handlers(workspace_dir)
  local state = lua_state.new({ workspace_dir = workspace_dir, lib_dir = path.join(workspace_dir, ".seer", "lib"),
                                capture_io_write = true })
  -- One run_lua at a time: agent code that yields (an RPC call into an interface) must not let a
  -- second call interleave its output or its variables.
  local busy, queue = false, {}
  local function run_lua(code)
    if busy then task.await(function(done) queue[#queue + 1] = done end) end
    busy = true
    local ok, r = pcall(state.run, state, code)
    busy = false
    if #queue > 0 then table.remove(queue, 1)() end
    if not ok then error(r, 0) end
    return wire_result(r)
  end
  return {
    run_lua = run_lua,
    read_file = function(p) return files.read(workspace_dir, p) end,
    write_file = function(p, content) return files.write(workspace_dir, p, content) end,
    list_files = function(p) return json_array(files.list(workspace_dir, p)) end,
  }
end

function M.main()
  local address, workspace_dir = os.getenv("SEER_SESSION_SOCKET"), os.getenv("SEER_SESSION_WORKSPACE")
  if not address or not workspace_dir then
    io.stderr:write("seer.session.server: SEER_SESSION_SOCKET and SEER_SESSION_WORKSPACE must be set\n")
    os.exit(2)
  end
  local handlers = M.handlers(workspace_dir)
  local server = rpc.listen(address, function(method, args)
    local fn = handlers[method]
    if not fn then error({ type = "MethodNotFound", message = ("no session method '%s'"):format(tostring(method)) }) end
    for i = 1, #args do if args[i] == msgpack.null then args[i] = nil end end
    return fn(unpack(args, 1, 2))
  end)
  local stopped
  local watch = rpc.on_stop_signal(function() if stopped then stopped() end end)
  io.stdout:write("listening on ", server.address, "\n")
  io.stdout:flush()
  task.await(function(done)
    stopped = done
    return nil
  end)
  server:close()
  watch:close()
end

return M
