--- seer-lua serve interface.lua --listen unix:PATH|tcp:HOST:PORT [--token T] [--max-frame BYTES]
--- Loads the interface, listens, prints exactly one line "listening on <addr>" to stdout when ready
--- (what a supervisor waits for), serves until SIGTERM, SIGINT or SIGHUP, then removes its unix
--- socket file and exits 0. A load error is printed to stderr with exit status 1.
local interface = require "seer.interface"
local rpc = require "seer.rpc"
local task = require "seer.task"

local M = {}

local USAGE = [[
usage: seer-lua serve interface.lua --listen ADDR [--token TOKEN] [--max-frame BYTES]
  ADDR is unix:PATH (a socket file, mode 0600) or tcp:HOST:PORT (PORT 0 picks a free port).
  A tcp address needs a token: --token, or the SEER_RPC_TOKEN environment variable (which keeps it
  out of the process list). Prints "listening on ADDR" when ready; stops on SIGTERM/SIGINT/SIGHUP.
]]

local function fail(msg)
  io.stderr:write("seer-lua serve: ", msg, "\n")
  io.stderr:flush()
  return 1
end

local function parse(args)
  local o = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--listen" or a == "--token" or a == "--max-frame" then
      local v = args[i + 1]
      if not v then return nil, a .. " needs a value" end
      o[a:sub(3):gsub("-", "_")] = v
      i = i + 2
    elseif a:match("^%-%-listen=") or a:match("^%-%-token=") or a:match("^%-%-max%-frame=") then
      local k, v = a:match("^%-%-([%w-]+)=(.*)$")
      o[k:gsub("-", "_")] = v
      i = i + 1
    elseif a == "-h" or a == "--help" then
      o.help = true
      i = i + 1
    elseif a:sub(1, 1) == "-" then
      return nil, "unknown option '" .. a .. "'"
    elseif not o.interface then
      o.interface = a
      i = i + 1
    else
      return nil, "unexpected argument '" .. a .. "' (one interface file per server)"
    end
  end
  return o
end

function M.main(args)
  local o, perr = parse(args or {})
  if not o then return fail(perr .. "\n" .. USAGE) end
  if o.help then
    io.write(USAGE)
    return 0
  end
  if not o.interface then return fail("no interface file given\n" .. USAGE) end
  if not o.listen then return fail("--listen ADDR is required\n" .. USAGE) end
  local token = o.token or os.getenv("SEER_RPC_TOKEN")
  if token == "" then token = nil end
  local max_frame = o.max_frame and tonumber(o.max_frame)
  if o.max_frame and (not max_frame or max_frame <= 0) then return fail("--max-frame must be a number of bytes") end

  local ok, iface = pcall(interface.load, o.interface)
  if not ok then return fail(type(iface) == "table" and tostring(iface.message) or tostring(iface)) end
  local sok, server = pcall(rpc.listen, o.listen, iface, { token = token, max_frame = max_frame })
  if not sok then return fail(tostring(server)) end

  local stopped
  local watch = rpc.on_stop_signal(function(signum) if stopped then stopped(signum) end end)
  io.stdout:write("listening on ", server.address, "\n")
  io.stdout:flush()
  task.await(function(done)
    stopped = done
    return nil
  end)
  server:close()
  watch:close()
  return 0
end

return M
