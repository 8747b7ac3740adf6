--- seer.mcp.client: a client for stdio MCP servers (what run_agent's mcp_config starts). It spawns
--- the server on the loop, initializes it (the 2025-11-25 handshake), lists its tools and calls
--- them. Everything the server sends is bounded (line length) and checked; a server that fails to
--- start, crashes or stops answering becomes an error naming it, never a hang.
---
---     local c = client.start("probe", { command = "seer-lua", args = { "mcp", "iface.lua" } })
---     for _, t in ipairs(c.tools) do print(t.name) end
---     local r = c:call_tool("add", { a = 1, b = 2 })   -- {content = {...}, isError = ..., ...}
---     c:close()
local core = require "seer.core"
local json = require "seer.json"
local log = require "seer.log"
local process = require "seer.process"
local task = require "seer.task"

local M = {}

M.PROTOCOL_VERSION = "2025-11-25"
local ACCEPTED = { ["2025-11-25"] = true, ["2025-06-18"] = true, ["2025-03-26"] = true }
M.MAX_LINE = 64 * 1024 * 1024
M.START_TIMEOUT = 30
M.CALL_TIMEOUT = 600
local STDERR_KEEP = 4096
local MAX_PAGES = 100

---@class seer.mcp.Client
---@field name string
---@field tools table[] {name, description, inputSchema, outputSchema} as the server listed them
local Client = {}
Client.__index = Client
M.Client = Client

local function fail(self, fmt, ...)
  error(("MCP server '%s': " .. fmt):format(self.name, ...), 0)
end

--- Check one mcp_config entry; returns it normalised or raises a message naming what is wrong.
function M.check_entry(name, spec)
  if type(spec) ~= "table" then error(("mcp_config.%s must be a table {command, args, env}"):format(name), 0) end
  if spec.type ~= nil and spec.type ~= "stdio" then
    error(("mcp_config.%s: type '%s' is not supported (only stdio servers: {command, args, env})"):format(name,
      tostring(spec.type)), 0)
  end
  if type(spec.command) ~= "string" or spec.command == "" then
    error(("mcp_config.%s: 'command' (the program to run) is required"):format(name), 0)
  end
  local args = {}
  for i, a in ipairs(spec.args or {}) do
    if type(a) ~= "string" and type(a) ~= "number" then
      error(("mcp_config.%s: args[%d] must be a string"):format(name, i), 0)
    end
    args[i] = tostring(a)
  end
  if spec.env ~= nil and type(spec.env) ~= "table" then
    error(("mcp_config.%s: 'env' must be a table of NAME = value"):format(name), 0)
  end
  for _, k in ipairs({ "timeout", "startup_timeout" }) do
    if spec[k] ~= nil and (type(spec[k]) ~= "number" or spec[k] <= 0) then
      error(("mcp_config.%s: '%s' must be a positive number of seconds"):format(name, k), 0)
    end
  end
  return { command = spec.command, args = args, env = spec.env, cwd = spec.cwd, timeout = spec.timeout,
           startup_timeout = spec.startup_timeout }
end

--- Start server `name` from `spec` ({command, args, env, cwd}; env extends this process's
--- environment, as in Claude Code's .mcp.json; optional `timeout` per call and `startup_timeout`,
--- in seconds), initialize it and list its tools. Options (defaults for the spec's fields):
--- `timeout` (seconds to start and list, default 30), `call_timeout` (default 600), `max_line`.
--- Raises a message naming the server on failure (and stops it).
---@return seer.mcp.Client
function M.start(name, spec, opts)
  opts = opts or {}
  spec = M.check_entry(name, spec)
  local self = setmetatable({
    name = name, pending = {}, next_id = 1, stderr_tail = "", closed = false, exited = false,
    call_timeout = spec.timeout or opts.call_timeout or M.CALL_TIMEOUT, max_line = opts.max_line or M.MAX_LINE,
    parts = {}, partial = 0, overlong = false,
  }, Client)
  local env
  if spec.env and next(spec.env) then
    env = core.environ()
    for k, v in pairs(spec.env) do env[k] = tostring(v) end
  end
  local ok, p = pcall(process.spawn, {
    cmd = spec.command, args = spec.args, env = env, cwd = spec.cwd, stdin = true,
    on_stdout = function(data) self:_on_stdout(data) end,
    on_stderr = function(data) self:_on_stderr(data) end,
  })
  if not ok then fail(self, "cannot start '%s': %s", spec.command, tostring(p):gsub("^seer%.process: ", "")) end
  self.process = p
  self.watch = task.spawn(function()
    local r = p:wait()
    self.exited = true
    for _, stop in ipairs(self.kill_timers or {}) do stop() end
    local why = r.signal and ("killed by signal %d (%s)"):format(r.signal, r.signal_name or "?")
      or ("exited with status " .. tostring(r.code))
    self.exit_reason = why
    if not self.closed then log.warn("mcp", "server '%s' %s", name, why) end
    self:_fail_pending(("MCP server '%s' %s%s"):format(name, why, self:_stderr_note()))
  end)
  self.watch.name = "mcp-client-watch:" .. name
  local start_timeout = spec.startup_timeout or opts.timeout or M.START_TIMEOUT
  self.start_timeout = start_timeout
  local sok, err = pcall(task.timeout, start_timeout, function() self:_initialize() end)
  if not sok then
    self:close()
    if type(err) == "string" and err:find("seer.timeout: timed out", 1, true) then
      err = ("MCP server '%s' did not answer initialize and tools/list within %g s%s"):format(name,
        start_timeout, self:_stderr_note())
    end
    if type(err) == "string" then err = err:gsub("\nstack traceback:.*$", "") end
    error(err, 0)
  end
  return self
end

function Client:_stderr_note()
  local tail = self.stderr_tail:gsub("%s+$", "")
  if tail == "" then return "" end
  return "; its stderr ends with: " .. tail:sub(-1000)
end

function Client:_on_stderr(data)
  self.stderr_tail = (self.stderr_tail .. data):sub(-STDERR_KEEP)
  if log.enabled("debug") then log.debug("mcp", "%s stderr: %s", self.name, (data:gsub("%s+$", ""))) end
end

-- Runs on the loop (never yields): split into lines, bounded, and dispatch each message.
function Client:_on_stdout(data)
  local pos = 1
  while true do
    local nl = data:find("\n", pos, true)
    if not nl then
      local rest = #data - pos + 1
      if rest > 0 and not self.overlong then
        self.partial = self.partial + rest
        if self.partial > self.max_line then
          self.overlong, self.parts = true, {}
          log.warn("mcp", "server '%s' sent a line longer than %d bytes; dropped", self.name, self.max_line)
        else
          self.parts[#self.parts + 1] = data:sub(pos)
        end
      end
      return
    end
    if self.overlong then
      self.overlong = false
    elseif self.partial + (nl - pos) <= self.max_line then
      self.parts[#self.parts + 1] = data:sub(pos, nl - 1)
      self:_on_line(table.concat(self.parts))
    end
    self.parts, self.partial = {}, 0
    pos = nl + 1
  end
end

function Client:_send(msg)
  if self.exited or self.closed then return false end
  local ok = pcall(self.process.write, self.process, json.encode(msg) .. "\n")
  return ok
end

function Client:_on_line(line)
  if not line:find("%S") then return end
  local ok, msg = pcall(json.decode, line)
  if not ok or type(msg) ~= "table" then
    log.warn("mcp", "server '%s' wrote a line that is not JSON-RPC: %s", self.name, line:sub(1, 200))
    return
  end
  if msg.method ~= nil and msg.id ~= nil then
    -- A request from the server: ping is answered; this client offers no other capability.
    if msg.method == "ping" then
      self:_send({ jsonrpc = "2.0", id = msg.id, result = json.object({}) })
    else
      self:_send({ jsonrpc = "2.0", id = msg.id,
                   error = { code = -32601, message = "this client does not support " .. tostring(msg.method) } })
    end
    return
  end
  if msg.method ~= nil then return end -- a notification (logging, progress, list changes)
  local done = msg.id ~= nil and self.pending[tostring(msg.id)]
  if not done then return end -- an answer nobody waits for (a call that timed out)
  self.pending[tostring(msg.id)] = nil
  done(msg)
end

function Client:_fail_pending(reason)
  local pending = self.pending
  self.pending = {}
  for _, done in pairs(pending) do done({ error = { code = -32000, message = reason }, gone = true }) end
end

--- Send a request and wait for its result; raises a message naming the server on an error, a
--- timeout (the request is then cancelled) or a server that went away.
function Client:request(method, params, timeout)
  if self.exited then fail(self, "%s%s", self.exit_reason or "is not running", self:_stderr_note()) end
  if self.closed then fail(self, "is closed") end
  local id = self.next_id
  self.next_id = id + 1
  local key = tostring(id)
  timeout = timeout or self.call_timeout
  local msg = task.await(function(wake)
    local stop
    local function done(m)
      if stop then stop() end -- an answered call must not leave its deadline pending
      wake(m)
    end
    self.pending[key] = done
    if not self:_send({ jsonrpc = "2.0", id = id, method = method, params = params or json.object({}) }) then
      self.pending[key] = nil
      done({ error = { code = -32000, message = ("MCP server '%s' cannot be written to"):format(self.name) },
             gone = true })
      return nil
    end
    stop = task.call_later(timeout, function()
      if self.pending[key] then
        self.pending[key] = nil
        self:_send({ jsonrpc = "2.0", method = "notifications/cancelled",
                     params = { requestId = id, reason = "timed out" } })
        done({ error = { code = -32001, message = ("MCP server '%s' did not answer %s within %g s"):format(
          self.name, method, timeout) }, gone = true })
      end
    end)
    return function()
      stop()
      if self.pending[key] then
        self.pending[key] = nil
        self:_send({ jsonrpc = "2.0", method = "notifications/cancelled", params = { requestId = id } })
      end
    end
  end)
  if msg.error ~= nil then
    local e = msg.error
    if msg.gone then error(tostring(e.message), 0) end
    fail(self, "%s failed: %s (%s)", method, type(e) == "table" and tostring(e.message) or tostring(e),
      type(e) == "table" and tostring(e.code) or "?")
  end
  if type(msg.result) ~= "table" then fail(self, "%s: the answer has no result object", method) end
  return msg.result
end

function Client:_initialize()
  local r = self:request("initialize", {
    protocolVersion = M.PROTOCOL_VERSION, capabilities = json.object({}),
    clientInfo = { name = "seer-lua", version = core.version },
  }, self.start_timeout)
  if not ACCEPTED[r.protocolVersion] then
    fail(self, "speaks protocol version %s, which this client does not (it speaks %s)", tostring(r.protocolVersion),
      M.PROTOCOL_VERSION)
  end
  self.protocol_version = r.protocolVersion
  self.server_info = r.serverInfo
  self.instructions = type(r.instructions) == "string" and r.instructions or nil
  self:_send({ jsonrpc = "2.0", method = "notifications/initialized" })
  local tools, cursor = {}, nil
  for _ = 1, MAX_PAGES do
    local page = self:request("tools/list", cursor and { cursor = cursor } or nil, self.start_timeout)
    if type(page.tools) ~= "table" then fail(self, "tools/list: the answer has no tools list") end
    for _, t in ipairs(page.tools) do
      if type(t) == "table" and type(t.name) == "string" then tools[#tools + 1] = t end
    end
    cursor = type(page.nextCursor) == "string" and page.nextCursor or nil
    if not cursor then break end
  end
  self.tools = tools
end

--- Call a tool; returns the CallToolResult ({content, structuredContent, isError}). A server
--- error, a timeout or a server that went away raises a message naming the server.
function Client:call_tool(name, arguments, timeout)
  local r = self:request("tools/call", { name = name, arguments = arguments or json.object({}) }, timeout)
  if type(r.content) ~= "table" then r.content = {} end
  return r
end

--- The text of a result: its text blocks; other blocks are described; structured content is
--- used when there is no text.
function M.result_text(r)
  local parts = {}
  for _, c in ipairs(r.content or {}) do
    if type(c) == "table" then
      if c.type == "text" then
        parts[#parts + 1] = tostring(c.text)
      elseif c.type == "image" or c.type == "audio" then
        parts[#parts + 1] = ("[%s: %s, %d bytes of base64]"):format(c.type, tostring(c.mimeType), #tostring(c.data))
      elseif c.type == "resource_link" then
        parts[#parts + 1] = ("[resource: %s]"):format(tostring(c.uri))
      elseif c.type == "resource" and type(c.resource) == "table" then
        parts[#parts + 1] = c.resource.text and tostring(c.resource.text) or ("[resource: %s]"):format(
          tostring(c.resource.uri))
      end
    end
  end
  if #parts == 0 and r.structuredContent ~= nil then
    local ok, enc = pcall(json.encode, r.structuredContent)
    if ok then parts[1] = enc end
  end
  return table.concat(parts, "\n")
end

--- Stop the server: its stdin is closed, then SIGTERM after 2 s and SIGKILL after 4 s if it is
--- still running. Never waits (safe from a cancelled task); pending calls fail.
function Client:close()
  if self.closed then return end
  self.closed = true
  self:_fail_pending(("MCP server '%s' was closed"):format(self.name))
  local p = self.process
  if not p or self.exited then return end
  pcall(p.close_stdin, p)
  self.kill_timers = {
    task.call_later(2, function() if not self.exited then pcall(p.kill, p, 15) end end),
    task.call_later(4, function() if not self.exited then pcall(p.kill, p, 9) end end),
  }
end

return M
