--- seer.mcp.server: the protocol core of an MCP server, independent of the transport. It speaks
--- JSON-RPC 2.0 and the MCP revisions in `VERSIONS`: the handshake revisions (initialize with
--- version negotiation, notifications/initialized, ping) and the stateless 2026-07-28 revision
--- (server/discover, the protocol version and client capabilities in every request's _meta).
--- Tools come from a seer.mcp.tools registry. A transport hands each received line to
--- `server:receive_text(line, send)`; `send(message)` is called with every response, possibly
--- later, from the task that ran a tool.
local json = require "seer.json"
local log = require "seer.log"
local task = require "seer.task"
local core = require "seer.core"

local M = {}

local null = json.null
local unpack = table.unpack or unpack

--- Revisions this server speaks, newest first.
M.VERSIONS = { "2026-07-28", "2025-11-25", "2025-06-18" }
M.LATEST_HANDSHAKE = "2025-11-25"
local HANDSHAKE = { ["2025-11-25"] = true, ["2025-06-18"] = true }
local MODERN = { ["2026-07-28"] = true }

M.PARSE_ERROR, M.INVALID_REQUEST, M.METHOD_NOT_FOUND = -32700, -32600, -32601
M.INVALID_PARAMS, M.INTERNAL_ERROR, M.UNSUPPORTED_VERSION = -32602, -32603, -32022

local META_VERSION = "io.modelcontextprotocol/protocolVersion"
local META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
local META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

local OBJECT_MT, ARRAY_MT = getmetatable(json.object()), getmetatable(json.array())

local function is_object(v)
  return type(v) == "table" and getmetatable(v) ~= ARRAY_MT and (getmetatable(v) == OBJECT_MT or #v == 0)
end

---@class seer.mcp.Server
local Server = {}
Server.__index = Server
M.Server = Server

--- A server. Options: `tools` (a seer.mcp.tools registry), `name` and `version` (serverInfo;
--- default "seer-lua" and the seer-lua version), `title`, `instructions` (text for the model).
---@return seer.mcp.Server
function M.new(opts)
  if type(opts) ~= "table" or type(opts.tools) ~= "table" then
    error("seer.mcp.server.new: expected {tools = registry, name = ..., instructions = ...}", 2)
  end
  return setmetatable({
    tools = opts.tools, instructions = opts.instructions,
    info = { name = opts.name or "seer-lua", version = opts.version or core.version, title = opts.title },
    version = nil, initialized = false, inflight = {}, ninflight = 0, idle = {},
  }, Server)
end

local function rpc_error(code, message, data)
  error({ mcp_error = true, code = code, message = message, data = data }, 0)
end
M.rpc_error = rpc_error

local function valid_id(id)
  local t = type(id)
  return t == "string" or (t == "number" and id == math.floor(id))
end

-- ---------------------------------------------------------------------------------------------
-- Methods: handler(self, params, ctx) returns a result table or raises rpc_error(...). `ctx` has
-- version (the revision that applies to this request), modern (a 2026-07-28 request), id.

local methods = {}

function methods.initialize(self, params)
  local requested = params.protocolVersion
  if type(requested) ~= "string" then
    rpc_error(M.INVALID_PARAMS, "initialize: 'protocolVersion' (string) is required")
  end
  -- A revision we speak through the handshake is echoed; otherwise we offer our newest one, and
  -- the client decides whether to go on.
  local v = HANDSHAKE[requested] and requested or M.LATEST_HANDSHAKE
  self.version = v
  self.client_info = params.clientInfo
  log.info("mcp", "initialize from %s: protocol %s (asked for %s)",
    type(params.clientInfo) == "table" and tostring(params.clientInfo.name) or "?", v, requested)
  return {
    protocolVersion = v, capabilities = { tools = { listChanged = false } }, serverInfo = self.info,
    instructions = self.instructions,
  }
end

function methods.ping() return json.object({}) end

methods["server/discover"] = function(self)
  return {
    supportedVersions = json.array({ unpack(M.VERSIONS) }),
    capabilities = { tools = { listChanged = false } }, instructions = self.instructions,
    ttlMs = 0, cacheScope = "private", _meta = { [META_SERVER_INFO] = self.info },
  }
end

methods["tools/list"] = function(self, params, ctx)
  if params.cursor ~= nil then
    rpc_error(M.INVALID_PARAMS, "tools/list: unknown cursor (this server lists every tool on one page)")
  end
  local r = { tools = self.tools:describe() }
  if ctx.modern then r.ttlMs, r.cacheScope = 0, "private" end
  return r
end

methods["tools/call"] = function(self, params, ctx)
  if type(params.name) ~= "string" then
    rpc_error(M.INVALID_PARAMS, "tools/call: 'name' (string) is required")
  end
  local result, err = self.tools:call(params.name, params.arguments, ctx, ctx.version == "2025-06-18")
  if not result then rpc_error(M.INVALID_PARAMS, err) end
  return result
end

-- Calls that may wait (on a sandbox, a model) run in a task of their own; the rest answer at once.
local SLOW = { ["tools/call"] = true }

local notifications = {}

-- The in-flight table's key for a request id: 7 and "7" are different JSON-RPC ids.
local function inflight_key(id) return type(id) .. ":" .. tostring(id) end

notifications["notifications/initialized"] = function(self) self.initialized = true end

notifications["notifications/cancelled"] = function(self, params)
  local id = params.requestId
  local entry = id ~= nil and self.inflight[inflight_key(id)]
  if entry then
    log.info("mcp", "request %s cancelled by the client", tostring(id))
    self.inflight[entry.key] = nil
    self.ninflight = self.ninflight - 1
    entry.cancelled = true
    if entry.task then entry.task:cancel() end
  end
end

-- ---------------------------------------------------------------------------------------------

local function response(id, result) return { jsonrpc = "2.0", id = id, result = result } end

local function error_response(id, code, message, data)
  return { jsonrpc = "2.0", id = id == nil and null or id, error = { code = code, message = message, data = data } }
end
M.error_response = error_response

-- Which revision a request is under: its own _meta (stateless), else the negotiated one.
function Server:request_context(id, params)
  local meta = params._meta
  local v = is_object(meta) and meta[META_VERSION] or nil
  if v == nil then return { id = id, version = self.version or M.LATEST_HANDSHAKE, modern = false } end
  local known = false
  for _, s in ipairs(M.VERSIONS) do if s == v then known = true end end
  if not known then
    rpc_error(M.UNSUPPORTED_VERSION, ("unsupported protocol version %s"):format(tostring(v)),
      { requested = tostring(v), supported = json.array({ unpack(M.VERSIONS) }) })
  end
  if MODERN[v] and not is_object(meta[META_CAPABILITIES]) then
    rpc_error(M.INVALID_PARAMS, ("_meta needs '%s' (an object) with '%s'"):format(META_CAPABILITIES, META_VERSION))
  end
  return { id = id, version = v, modern = MODERN[v] == true }
end

local function run(self, handler, params, ctx)
  local ok, result = xpcall(handler, function(e)
    if type(e) == "table" and e.mcp_error then return e end
    if e == task.CANCELLED then return e end
    return { internal = true, message = tostring(e), traceback = debug.traceback("", 2) }
  end, self, params, ctx)
  if ok then
    if ctx.modern then result.resultType = "complete" end
    return response(ctx.id, result)
  end
  if result == task.CANCELLED then error(result, 0) end
  if result.internal then
    log.error("mcp", "internal error in %s: %s%s", ctx.method, result.message, result.traceback)
    return error_response(ctx.id, M.INTERNAL_ERROR, "internal error: " .. result.message)
  end
  return error_response(ctx.id, result.code, result.message, result.data)
end

--- Handle one decoded message. Responses go to `send` (at once, or later from a task).
function Server:receive(msg, send)
  if type(msg) ~= "table" or not is_object(msg) then
    if type(msg) == "table" and #msg > 0 then
      return send(error_response(nil, M.INVALID_REQUEST, "batches are not supported by these protocol revisions"))
    end
    return send(error_response(nil, M.INVALID_REQUEST, "a message must be a JSON-RPC 2.0 object"))
  end
  local id, method = msg.id, msg.method
  if id == null then id = nil end
  if msg.jsonrpc ~= "2.0" then
    return send(error_response(valid_id(id) and id or nil, M.INVALID_REQUEST, "'jsonrpc' must be \"2.0\""))
  end
  if method == nil then
    if msg.result ~= nil or msg.error ~= nil then return end -- a response: this server sends no requests
    return send(error_response(valid_id(id) and id or nil, M.INVALID_REQUEST, "a request needs a 'method'"))
  end
  if type(method) ~= "string" then
    return send(error_response(valid_id(id) and id or nil, M.INVALID_REQUEST, "'method' must be a string"))
  end
  local params = msg.params
  if params == nil or params == null then params = json.object({}) end
  if id == nil and msg.id == nil then -- a notification: never answered
    local h = notifications[method]
    if h and is_object(params) then
      local ok, err = pcall(h, self, params)
      if not ok then log.warn("mcp", "notification %s failed: %s", method, tostring(err)) end
    end
    return
  end
  if not valid_id(id) then
    return send(error_response(nil, M.INVALID_REQUEST, "'id' must be a string or an integer"))
  end
  local handler = methods[method]
  if not handler then
    return send(error_response(id, M.METHOD_NOT_FOUND, ("method not found: %s"):format(method)))
  end
  if not is_object(params) then
    return send(error_response(id, M.INVALID_PARAMS, "'params' must be an object"))
  end
  local ok, ctx = pcall(self.request_context, self, id, params)
  if not ok then
    if type(ctx) == "table" and ctx.mcp_error then return send(error_response(id, ctx.code, ctx.message, ctx.data)) end
    error(ctx, 0)
  end
  ctx.method = method
  if not SLOW[method] then return send(run(self, handler, params, ctx)) end
  local key = inflight_key(id)
  -- Ids must be unique among requests in flight (JSON-RPC); a reused one is refused rather than
  -- letting it shadow the first, whose answer and in-flight count would then be lost.
  if self.inflight[key] then
    return send(error_response(id, M.INVALID_REQUEST,
      ("id %s is already used by a request in flight"):format(tostring(id))))
  end
  local entry = { key = key, id = id, handler = handler, params = params, ctx = ctx, send = send }
  self.inflight[key] = entry
  self.ninflight = self.ninflight + 1
  -- An idle worker takes the call; only when none is idle does a new task start.
  local n = #self.idle
  if n > 0 then
    local wake = self.idle[n]
    self.idle[n] = nil
    wake(entry)
  else
    task.spawn(self._worker, self, entry).name = "mcp-worker"
  end
end

-- Idle workers kept for the next calls; more than this after a burst of concurrent calls end.
local MAX_IDLE_WORKERS = 16

function Server:_run_call(entry)
  if entry.cancelled then return end
  entry.task = task.current()
  local rok, resp = pcall(run, self, entry.handler, entry.params, entry.ctx)
  entry.task = nil
  if self.inflight[entry.key] == entry then
    self.inflight[entry.key] = nil
    self.ninflight = self.ninflight - 1
  end
  -- A cancelled request gets no answer: the client gave up on it (the tool may still have
  -- finished, or turned the cancellation into an error of its own).
  if entry.cancelled then return end
  entry.send(rok and resp or error_response(entry.id, M.INTERNAL_ERROR, "internal error: " .. tostring(resp)))
end

function Server:_worker(entry)
  local idle = self.idle
  local function park(done)
    idle[#idle + 1] = done
    return function()
      for i = #idle, 1, -1 do if idle[i] == done then table.remove(idle, i) end end
    end
  end
  while entry do
    self:_run_call(entry)
    -- A cancelled worker stays cancelled: it ends instead of taking more calls.
    if entry.cancelled or #idle >= MAX_IDLE_WORKERS then return end
    entry = task.await(park)
  end
end

--- Handle one line of text (one JSON-RPC message).
function Server:receive_text(text, send)
  local ok, msg = pcall(json.decode, text)
  if not ok then
    -- The decoder's message can quote the line's bytes, which need not be UTF-8: escape them, or
    -- encoding the answer would raise (fuzz_mcp_line found it).
    msg = tostring(msg):gsub("^json%.decode: ", ""):gsub("[%c\128-\255]", function(c)
      return ("\\x%02x"):format(c:byte())
    end)
    return send(error_response(nil, M.PARSE_ERROR, "parse error: " .. msg))
  end
  return self:receive(msg, send)
end

--- Requests still running (tool calls).
function Server:busy() return self.ninflight end

--- Cancel every running request.
function Server:cancel_all()
  local inflight = self.inflight
  self.inflight, self.ninflight = {}, 0
  for _, entry in pairs(inflight) do
    entry.cancelled = true
    if entry.task then entry.task:cancel() end
  end
  local idle = self.idle
  self.idle = {}
  for i = 1, #idle do idle[i](nil) end -- idle workers end
end

return M
