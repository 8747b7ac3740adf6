--- seer-lua serve interface.lua --listen unix:PATH|tcp:HOST:PORT [--token T] [--max-frame BYTES]
---   [--source-name PATH]
--- Loads the interface, listens, prints exactly one line "listening on <addr>" to stdout when ready
--- (what a supervisor waits for), serves until SIGTERM, SIGINT or SIGHUP, then removes its unix
--- socket file and exits 0. A load error is printed to stderr with exit status 1.
local cli = require "seer.cli"
local interface = require "seer.interface"
local rpc = require "seer.rpc"
local task = require "seer.task"

local M = {}

local USAGE = [[
usage: seer-lua serve interface.lua --listen ADDR [--token TOKEN] [--max-frame BYTES]
                                    [--source-name PATH]
  ADDR is unix:PATH (a socket file, mode 0600) or tcp:HOST:PORT (PORT 0 picks a free port).
  A tcp address needs a token: --token, or the SEER_RPC_TOKEN environment variable (which keeps it
  out of the process list). Prints "listening on ADDR" when ready; stops on SIGTERM/SIGINT/SIGHUP.
  --source-name PATH: the file that errors and tracebacks name (a sandbox serves a copy of it).
]]

local function fail(msg)
  io.stderr:write("seer-lua serve: ", msg, "\n")
  io.stderr:flush()
  return 1
end

local OPTIONS = {
  options = { listen = "value", token = "value", ["max-frame"] = "value", ["source-name"] = "value" },
  positional = { "interface" }, extra = "one interface file per server",
}

function M.main(args)
  local o, perr = cli.parse(args or {}, OPTIONS)
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

  local ok, iface = pcall(interface.load, o.interface, { source_name = o.source_name })
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
