--- seer-lua mcp (--connect ADDR | interface.lua) [options]: an MCP server on stdin/stdout whose tools
--- are the exposed functions of an interface: served elsewhere (a sandbox's RPC socket, `seer-lua
--- serve`) with --connect, or loaded in this process. Logs go to stderr; it exits 0 when stdin ends.
local cli = require "seer.cli"
local interface = require "seer.interface"
local rpc = require "seer.rpc"
local core = require "seer.core"
local server_mod = require "seer.mcp.server"
local stdio = require "seer.mcp.stdio"
local mcp_interface = require "seer.mcp.interface"
local path = require "seer.path"
local fs = require "seer.fs"

local M = {}

local USAGE = [[
usage: seer-lua mcp --connect ADDR [--token TOKEN] [options]
       seer-lua mcp interface.lua [options]
  Speaks MCP (newline-delimited JSON-RPC) on stdin/stdout; each exposed function is a tool.
  --connect ADDR     proxy an interface served at ADDR (unix:PATH or tcp:HOST:PORT: a sandbox's
                     socket, or `seer-lua serve`); the token comes from --token or SEER_RPC_TOKEN
  interface.lua      load the interface in this process instead (no sandbox)
  --name NAME        the server's name (default: the interface's file name)
  --max-line BYTES   longest request line accepted (default 16 MiB)
  --max-result BYTES longest tool result text before it is truncated (default 1 MiB)
  --call-timeout S   with --connect: a call without an answer after S seconds is a tool error
                     (default: the RPC client's, 60 s; "inf" waits forever)
]]

local OPTIONS = {
  options = { connect = "value", token = "value", name = "value", ["max-line"] = "value", ["max-result"] = "value",
              ["call-timeout"] = "value" },
  positional = { "interface" }, extra = "one interface per server",
}

local function fail(msg)
  io.stderr:write("seer-lua mcp: ", msg, "\n")
  io.stderr:flush()
  return 1
end

local function positive(o, key, flag)
  if o[key] == nil then return true end
  local n = o[key] == "inf" and math.huge or tonumber(o[key])
  if not n or n <= 0 then return nil, flag .. " must be a positive number" end
  o[key] = n
  return true
end

function M.main(args)
  local o, perr = cli.parse(args or {}, OPTIONS)
  if not o then return fail(perr .. "\n" .. USAGE) end
  if o.help then
    io.write(USAGE)
    return 0
  end
  if (o.connect ~= nil) == (o.interface ~= nil) then
    return fail("give either --connect ADDR or an interface file\n" .. USAGE)
  end
  for _, p in ipairs({ { "max_line", "--max-line" }, { "max_result", "--max-result" },
                       { "call_timeout", "--call-timeout" } }) do
    local ok, err = positive(o, p[1], p[2])
    if not ok then return fail(err) end
  end
  -- From here on stdout belongs to the protocol; anything else printed goes to stderr.
  local out_fd, cerr = core.claim_stdout()
  if not out_fd then return fail(cerr) end
  local reg, name
  local topts = { max_result = o.max_result }
  if o.connect then
    -- A sandbox owns the directory of its socket: a symlink there could point at a host socket.
    local sock = o.connect:match("^unix:(.*)$")
    if sock and fs.readlink(sock) then
      return fail(("'%s' is a symlink; refusing to follow it (connect to the socket itself)"):format(sock))
    end
    local token = o.token or os.getenv("SEER_RPC_TOKEN")
    if token == "" then token = nil end
    local ok, client = pcall(rpc.connect, o.connect, { token = token, call_timeout = o.call_timeout,
                                                       max_frame = 256 * 1024 * 1024 })
    if not ok then return fail(tostring(client)) end
    local dok, r, description = pcall(mcp_interface.from_rpc, client, topts)
    if not dok then return fail(("cannot describe the interface at %s: %s"):format(o.connect, tostring(r))) end
    reg = r
    name = description.interface and path.basename(tostring(description.interface)):gsub("%.lua$", "") or nil
  else
    local ok, iface = pcall(interface.load, o.interface)
    if not ok then return fail(type(iface) == "table" and tostring(iface.message) or tostring(iface)) end
    reg = mcp_interface.from_interface(iface, topts)
    name = path.basename(o.interface):gsub("%.lua$", "")
  end
  local server = server_mod.new({ tools = reg, name = o.name or name or "seer-lua" })
  stdio.serve(server, { output_fd = out_fd, max_line = o.max_line, stop_signals = true })
  return 0
end

return M
