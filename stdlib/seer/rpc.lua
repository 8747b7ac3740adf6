--- seer.rpc: msgpack-RPC over unix and tcp stream sockets (docs/PROTOCOL.md).
--- `listen(addr, handler, opts)` serves a handler; `connect(addr, opts)` returns a Client whose calls
--- yield the calling task (or drive the loop outside one) and may be pipelined. Framing, the frame
--- limits and socket safety are in C (runtime/rpc); this module is the message protocol, the call
--- and connect timeouts, and the authentication step (with its tighter frame limits).
local rpc_c = require "seer._rpc"
local msgpack = require "seer.msgpack"
local task = require "seer.task"
local core = require "seer.core"
local json_array = require("seer.json").array
local now = core.now
local park, unpark = task.park, task.unpark
-- Tensors (ext 1) decode into seer.Tensor even when the program never required seer.tensor.
require "seer.tensor"

local null = msgpack.null
local unpack = table.unpack or unpack

local M = {
  REQUEST = 0, RESPONSE = 1, NOTIFY = 2,
  EXT_TENSOR = 1, EXT_NAMED = 2,
  null = null,
}

-- ---------------------------------------------------------------------------------------------
-- Named arguments: a table marked with `Named` travels as ext type 2 whose payload is a map.

local Named = { __name = "seer.rpc.named" }
M.Named = Named

Named.__tomsgpack = function(t)
  local plain = {}
  for k, v in pairs(t) do plain[k] = v end
  return msgpack.ext(M.EXT_NAMED, msgpack.encode(plain))
end

--- Mark a table as named arguments: `c:call("f", 1, rpc.named{k = 2})`.
function M.named(t)
  if type(t) ~= "table" then error("seer.rpc.named: expected a table of name = value", 2) end
  return setmetatable(t, Named)
end

-- Incoming frames decode ext 2 into Named tables; other ext types use seer.msgpack's decoders
-- (where seer.tensor registers type 1).
rpc_c.set_decoders(setmetatable({
  [M.EXT_NAMED] = function(payload)
    local t = msgpack.decode(payload)
    if type(t) ~= "table" then error("named arguments (ext 2) must hold a map", 0) end
    return setmetatable(t, Named)
  end,
}, { __index = msgpack.ext_decoders }))

-- ---------------------------------------------------------------------------------------------
-- Errors: what a server sends is {type, message, traceback}; a client raises it as an RpcError.

---@class seer.RpcError
---@field type string e.g. "RuntimeError", "ArgumentError", "MethodNotFound", "ConnectionClosed"
---@field message string
---@field traceback string the server-side Lua traceback ("" when there is none)
---@field method string|nil the method that was called
local RpcError = { __name = "seer.RpcError" }
RpcError.__index = RpcError
M.RpcError = RpcError

function RpcError.__tostring(e)
  local s = (e.method and ("rpc call '" .. e.method .. "' failed: ") or "rpc: ") .. e.type .. ": " .. e.message
  if e.traceback and e.traceback ~= "" then s = s .. "\nserver " .. e.traceback end
  return s
end

function RpcError.__concat(a, b) return tostring(a) .. tostring(b) end

--- Build an error object; `fields` has type, message and optionally traceback.
function M.error(fields)
  return setmetatable({
    type = tostring(fields.type or "Error"), message = tostring(fields.message or "(no message)"),
    traceback = tostring(fields.traceback or ""), method = fields.method,
  }, RpcError)
end

function M.is_error(v) return type(v) == "table" and getmetatable(v) == RpcError end

local function wire_error(e)
  return { type = e.type, message = e.message, traceback = e.traceback or "" }
end

-- ---------------------------------------------------------------------------------------------
-- Client

---@class seer.rpc.Client
---@field address string
local Client = {}
Client.__index = Client
M.Client = Client

local CLIENT_OPTS = {
  token = true, timeout = true, call_timeout = true, max_frame = true, max_objects = true,
  max_depth = true, max_decoded = true, on_close_reason = true, close_grace = true, on_notify = true,
  tls = true,
}

M.DEFAULT_CONNECT_TIMEOUT = rpc_c.default_connect_timeout
M.DEFAULT_CALL_TIMEOUT = rpc_c.default_call_timeout
M.DEFAULT_LIMITS = rpc_c.default_limits
M.PREAUTH_LIMITS = rpc_c.preauth_limits
-- Seconds a token-protected server waits for seer.auth on a new connection.
M.DEFAULT_AUTH_TIMEOUT = 10

local LIMIT_NAMES = { "max_frame", "max_objects", "max_depth", "max_decoded" }

-- The frame limits an options table asks for (nil fields: the defaults, in C).
local function limits_of(who, opts)
  local l = {}
  for _, k in ipairs(LIMIT_NAMES) do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v < 1) then
      error(("%s: %s must be a positive number"):format(who, k), 3)
    end
    l[k] = v
  end
  return l
end

local function check_timeout(who, name, v, default)
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v <= 0 then
    error(("%s: %s must be a positive number of seconds (math.huge: wait forever)"):format(who, name), 3)
  end
  return v
end

local function check_opts(who, opts, valid)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(who .. ": expected an options table", 3) end
  for k in pairs(opts) do
    if not valid[k] then
      local names = {}
      for n in pairs(valid) do names[#names + 1] = n end
      table.sort(names)
      error(("%s: unknown option '%s' (valid: %s)"):format(who, tostring(k), table.concat(names, ", ")), 3)
    end
  end
  return opts
end

--- Connect to a server. Options: `token` (sent with seer.auth before anything else; required by
--- tcp servers), `timeout` (seconds to connect, default 10), `call_timeout` (seconds each call
--- waits for its answer, default 60; math.huge waits forever; `c:call_with{timeout = s}` sets it
--- for one call), `max_frame`, `max_objects`, `max_depth`, `max_decoded` (limits on the frames
--- the server sends, docs/PROTOCOL.md), `on_close_reason` (function returning a string that says
--- why the connection dropped, e.g. "sandbox exited: killed (out of memory)"), `close_grace`
--- (seconds to wait after a drop for `fail_pending(reason)` before failing calls with the plain
--- reason), `on_notify` (function(method, params) for notifications from the server), `tls`
--- ({pin = the server certificate's SHA-256, hex}: TLS 1.3, accepting only that certificate;
--- the token is sent only once it is checked).
---@return seer.rpc.Client
function M.connect(addr, opts)
  opts = check_opts("seer.rpc.connect", opts, CLIENT_OPTS)
  if type(addr) ~= "string" then
    error("seer.rpc.connect: expected an address such as unix:/path or tcp:host:port", 2)
  end
  local limits = limits_of("seer.rpc.connect", opts)
  local timeout = check_timeout("seer.rpc.connect", "timeout", opts.timeout, M.DEFAULT_CONNECT_TIMEOUT)
  local self = setmetatable({
    address = addr, opts = opts, pending = {}, deadlines = {}, timeouts = {}, npending = 0,
    next_id = 1, closed = false, connected = false,
    call_timeout = check_timeout("seer.rpc.connect", "call_timeout", opts.call_timeout, M.DEFAULT_CALL_TIMEOUT),
  }, Client)
  local tls
  if opts.tls ~= nil then
    if type(opts.tls) ~= "table" or type(opts.tls.pin) ~= "string" then
      error("seer.rpc.connect: tls must be {pin = the server certificate's sha256 in hex}", 2)
    end
    local terr
    tls, terr = rpc_c.tls_client(opts.tls.pin)
    if not tls then error("seer.rpc.connect: " .. terr, 2) end
  end
  local conn, err = rpc_c.connect(addr, function(ev, a, b, c) self:_event(ev, a, b, c) end, limits, false,
    tls)
  if not conn then error("seer.rpc.connect: " .. err, 2) end
  conn:split_calls(true)
  self.conn = conn
  local ok, cerr = task.await(function(done)
    self.on_connect = done
    local stop = task.call_later(timeout, function()
      done(false, ("rpc: cannot connect to %s: timed out after %g s"):format(addr, timeout))
    end)
    self.stop_connect_timer = stop
    return function() stop() conn:close() end
  end)
  self.on_connect = nil
  self.stop_connect_timer()
  if not ok then
    conn:close()
    self.closed = true
    error(cerr, 2)
  end
  if opts.token ~= nil then
    local aok, aerr = pcall(self.call, self, "seer.auth", opts.token)
    if not aok then
      self:close()
      error(("seer.rpc.connect: authentication with %s failed: %s"):format(addr,
        M.is_error(aerr) and aerr.message or tostring(aerr)), 2)
    end
  end
  -- An idle connection does not hold the loop (a finished script exits); calls in flight do.
  conn:keep_alive(false)
  return self
end

-- A response [1, id, error, result].
function Client:_reply(id, e, result)
  if id == null then
    -- A connection-level error (a frame the server refused); it hangs up next.
    self:fail_pending(nil, e ~= null and e or nil)
    return
  end
  local cb = self:_take_pending(id)
  if cb then cb(e, result) end
end

function Client:_event(ev, v, b, c)
  if ev == "reply" then -- a response, split by the connection (split_calls)
    return self:_reply(v, b, c)
  elseif ev == "call" then -- a request: servers do not call their clients
    self:_protocol_violation("a frame of unknown kind " .. M.REQUEST)
  elseif ev == "message" then
    if type(v) ~= "table" then return self:_protocol_violation("a frame that is not an array") end
    local kind = v[1]
    if kind == M.RESPONSE then
      self:_reply(v[2], v[3], v[4])
    elseif kind == M.NOTIFY then
      if self.opts.on_notify then self.opts.on_notify(v[2], v[3]) end
    else
      self:_protocol_violation("a frame of unknown kind " .. tostring(kind))
    end
  elseif ev == "connect" then
    if self.on_connect then
      if v == nil then self.connected = true self.on_connect(true) else self.on_connect(false, v) end
    end
  elseif ev == "timer" then
    self:_expire()
  elseif ev == "invalid" then
    self:_protocol_violation("an undecodable frame (" .. tostring(v) .. ")")
  elseif ev == "close" then
    self.closed = true
    self.conn_closed = true
    if self.on_connect then
      self.on_connect(false, v or ("rpc: connection to " .. self.address .. " closed"))
      return
    end
    if self.npending == 0 then return end
    local reason = self.opts.on_close_reason and self.opts.on_close_reason() or nil
    if reason or not self.opts.close_grace or self.opts.close_grace <= 0 then
      self:fail_pending(reason or v or "closed")
    else
      -- Give the owner (a sandbox supervisor) a moment to say why before failing the calls.
      local plain = v or "closed"
      task.call_later(self.opts.close_grace, function()
        local late = self.opts.on_close_reason and self.opts.on_close_reason() or nil
        self:fail_pending(late or plain)
      end)
    end
  end
end

-- Deadlines: each pending call has one; the connection's one timer is set no later than the
-- earliest, and when it fires every call past its deadline fails with a Timeout (the connection
-- stays open: a late answer is dropped).
function Client:_add_pending(id, cb, timeout)
  self.pending[id] = cb
  self.npending = self.npending + 1
  if self.npending == 1 and not self.conn_closed then self.conn:keep_alive(true) end
  if timeout == math.huge then return end
  local deadline = now() + timeout
  self.deadlines[id] = deadline
  if timeout ~= self.call_timeout then self.timeouts[id] = timeout end
  if (not self.timer_at or deadline < self.timer_at) and not self.conn_closed then
    self.timer_at = deadline
    self.conn:set_timer(timeout)
  end
end

function Client:_take_pending(id)
  local cb = self.pending[id]
  if cb then
    self.pending[id] = nil
    self.npending = self.npending - 1
    if self.deadlines[id] then
      self.deadlines[id] = nil
      self.timeouts[id] = nil
    end
    -- The timer stays set when nothing is pending (it does not hold the loop): sequential calls
    -- then cost no timer call at all, and a firing with nothing expired just sets it again.
    if self.npending == 0 and not self.conn_closed then self.conn:keep_alive(false) end
  end
  return cb
end

function Client:_expire()
  self.timer_at = nil
  local t = now() + 0.001 -- the loop's clock may lag the timer by a tick
  local expired, next_at = {}, nil
  for id, deadline in pairs(self.deadlines) do
    if deadline <= t then
      expired[#expired + 1] = id
    elseif not next_at or deadline < next_at then
      next_at = deadline
    end
  end
  if next_at and not self.conn_closed then
    self.timer_at = next_at
    self.conn:set_timer(next_at - t + 0.001)
  end
  for _, id in ipairs(expired) do
    local timeout = self.timeouts[id] or self.call_timeout
    local cb = self:_take_pending(id)
    if cb then
      cb({ type = "Timeout", message = ("no answer from %s within %g s (raise call_timeout, or "
        .. "c:call_with({timeout = s}, ...) for one call)"):format(self.address, timeout) })
    end
  end
end

function Client:_protocol_violation(what)
  self:fail_pending("protocol error: the server sent " .. what)
  self:close()
end

--- Fail every pending call now with `reason` (or the error object `e`), e.g. when the process
--- behind the connection died. Later calls fail too once the connection is closed.
function Client:fail_pending(reason, e)
  local pending = self.pending
  self.pending, self.npending, self.deadlines, self.timeouts = {}, 0, {}, {}
  if not self.conn_closed then
    self.conn:keep_alive(false)
    self.conn:set_timer(0)
  end
  self.timer_at = nil
  for _, cb in pairs(pending) do
    cb(e or { type = "ConnectionClosed",
      message = ("connection to %s lost: %s"):format(self.address, tostring(reason)) }, nil, true)
  end
end

local function raise(self, method, e)
  if type(e) ~= "table" then e = { type = "Error", message = tostring(e) } end
  local err = M.error({ type = e.type, message = e.message, traceback = e.traceback, method = method })
  err.address = self.address
  error(err, 0)
end

--- Send a request and wait for its response. The arguments after `timeout` (seconds to wait;
--- nil: the client's call_timeout) are the params, packed by C straight into the frame (no tables).
function Client:_request(method, timeout, ...)
  if self.closed then
    raise(self, method, { type = "ConnectionClosed", message = ("connection to %s is closed"):format(self.address) })
  end
  local id = self.next_id
  self.next_id = id + 1
  -- Sent before waiting: no answer can arrive before the loop runs, which only happens in await.
  local ok, err = self.conn:request(id, method, ...)
  if not ok then raise(self, method, { type = "ConnectionClosed", message = err }) end
  timeout = timeout or self.call_timeout
  local e, result = task.await(function(done)
    self:_add_pending(id, done, timeout)
    return function() self:_take_pending(id) end
  end)
  if e ~= null and e ~= nil then raise(self, method, e) end
  if result == null then return nil end
  return result
end

local function pack_params(...)
  local n = select("#", ...)
  local params = { ... }
  for i = 1, n do if params[i] == nil then params[i] = null end end
  return json_array(params) -- an array even when empty
end

--- Call `method` with positional arguments; returns its result or raises an RpcError.
function Client:call(method, ...)
  if type(method) ~= "string" then error("seer.rpc: call expects a method name", 2) end
  return self:_request(method, nil, ...)
end

local CALL_OPTS = { timeout = true }

--- Call `method` with per-call options: `timeout` (seconds to wait for the answer instead of the
--- client's call_timeout; math.huge waits forever). `c:call_with({timeout = 300}, "generate", p)`.
function Client:call_with(opts, method, ...)
  opts = check_opts("seer.rpc: call_with", opts, CALL_OPTS)
  if type(method) ~= "string" then error("seer.rpc: call_with expects a method name", 2) end
  local timeout = check_timeout("seer.rpc: call_with", "timeout", opts.timeout, nil)
  return self:_request(method, timeout, ...)
end

--- Call `method` with named arguments (and optional leading positional ones).
function Client:call_named(method, kwargs, ...)
  if type(kwargs) ~= "table" then error("seer.rpc: call_named expects a table of name = value", 2) end
  local params = pack_params(...)
  local n = #params + 1
  params[n] = M.named(kwargs)
  return self:_request(method, nil, unpack(params, 1, n))
end

--- Send a notification (no response).
function Client:notify(method, ...)
  if self.closed then error(("seer.rpc: connection to %s is closed"):format(self.address), 2) end
  local ok, err = self.conn:send({ M.NOTIFY, method, pack_params(...) })
  if not ok then error("seer.rpc: " .. err, 2) end
end

--- The server's functions, their schemas and its version.
function Client:describe() return self:_request("seer.describe") end

--- Round trip to the server; returns "pong".
function Client:ping() return self:_request("seer.ping") end

--- Calls waiting for an answer.
function Client:pending_count() return self.npending end

--- Close the connection; pending calls fail with "closed by this client".
function Client:close()
  if not self.conn_closed then self.conn:close() end
  self.closed = true
  if self.npending > 0 then self:fail_pending("closed by this client") end
end

-- ---------------------------------------------------------------------------------------------
-- Server

---@class seer.rpc.Server
---@field address string the bound address (with the real port for tcp:HOST:0)
local Server = {}
Server.__index = Server
M.Server = Server

local SERVER_OPTS = {
  token = true, max_frame = true, max_objects = true, max_depth = true, max_decoded = true,
  auth_timeout = true, describe = true, allow_tcp_without_token = true, keep_alive = true,
  max_connections = true, tls = true,
}

local function traceback_handler(e)
  if type(e) == "table" then return e end
  -- The frames from xpcall down belong to the server, not to the failing code.
  local tb = debug.traceback("", 2):gsub("^\n", ""):gsub("\n%s*%[C%]: in function 'xpcall'.*$", "")
  return { message = tostring(e), traceback = tb }
end

--- Serve `handler` on `addr`. `handler` is `function(method, args, kwargs, conn)` returning one
--- value (raising on failure), or a table with `call(self, method, args, kwargs)` and optionally
--- `describe(self)`. Options: `token` (required for tcp: the first request of every connection
--- must be seer.auth with it, within `auth_timeout` seconds (default 10), and until then frames
--- are held to rpc.PREAUTH_LIMITS), `max_frame`, `max_objects`, `max_depth`, `max_decoded` (frame
--- limits after authentication, docs/PROTOCOL.md), `describe` (a function returning the
--- description when the handler is a function), `keep_alive` (false: neither the listener nor its
--- connections keep the program running; calls in flight still do through their callers),
--- `max_connections` (connections open at once; one more is closed as soon as it is accepted),
--- `tls` ({cert = PEM, key = PEM}, e.g. from rpc.tls_cert(): every connection speaks TLS 1.3).
---@return seer.rpc.Server
function M.listen(addr, handler, opts)
  opts = check_opts("seer.rpc.listen", opts, SERVER_OPTS)
  if type(addr) ~= "string" then
    error("seer.rpc.listen: expected an address such as unix:/path or tcp:host:port", 2)
  end
  -- A request calls call_fn(call_self, method, args, kwargs, conn); a table's call is looked up once.
  local call_fn, call_self, describe
  if type(handler) == "function" then
    call_fn = function(_, method, args, kwargs, conn) return handler(method, args, kwargs, conn) end
    describe = opts.describe
  elseif type(handler) == "table" and type(handler.call) == "function" then
    call_fn, call_self = handler.call, handler
    describe = handler.describe and function() return handler:describe() end or opts.describe
  else
    error("seer.rpc.listen: handler must be a function(method, args, kwargs) or a table with call()", 2)
  end
  if addr:sub(1, 4) == "tcp:" and opts.token == nil and not opts.allow_tcp_without_token then
    error("seer.rpc.listen: a tcp address needs a token ({token = ...}): anyone who can reach the port "
      .. "could call the interface", 2)
  end
  if opts.token ~= nil and (type(opts.token) ~= "string" or opts.token == "") then
    error("seer.rpc.listen: token must be a non-empty string", 2)
  end
  local limits = limits_of("seer.rpc.listen", opts)
  local preauth = {}
  for _, k in ipairs(LIMIT_NAMES) do preauth[k] = math.min(M.PREAUTH_LIMITS[k], limits[k] or math.huge) end
  local self = setmetatable({
    call_fn = call_fn, call_self = call_self, describe_fn = describe, token = opts.token, limits = limits,
    preauth_limits = preauth,
    auth_timeout = check_timeout("seer.rpc.listen", "auth_timeout", opts.auth_timeout, M.DEFAULT_AUTH_TIMEOUT),
    conns = {}, nconns = 0, max_connections = opts.max_connections, closed = false, idle = {}, nidle = 0,
    keep_alive = opts.keep_alive ~= false,
  }, Server)
  local tls
  if opts.tls ~= nil then
    if type(opts.tls) ~= "table" or type(opts.tls.cert) ~= "string" or type(opts.tls.key) ~= "string" then
      error("seer.rpc.listen: tls must be {cert = PEM, key = PEM}", 2)
    end
    local terr
    tls, terr = rpc_c.tls_server(opts.tls.cert, opts.tls.key)
    if not tls then error("seer.rpc.listen: " .. terr, 2) end
  end
  local listener, address = rpc_c.listen(addr, function(conn) self:_accept(conn) end, tls)
  if not listener then error("seer.rpc.listen: " .. address, 2) end
  self.listener = listener
  self.address = address
  if not self.keep_alive then listener:keep_alive(false) end
  return self
end

function Server:_accept(conn)
  if self.closed or (self.max_connections and self.nconns >= self.max_connections) then
    conn:close()
    return
  end
  local state = { conn = conn, authed = self.token == nil }
  self.conns[conn] = state
  self.nconns = self.nconns + 1
  if not self.keep_alive then conn:keep_alive(false) end
  conn:start(function(ev, v, b, c)
    if ev == "call" then -- a request, split by the connection (split_calls)
      self:_call(state, v, b, c)
    elseif ev == "reply" then -- a response: clients do not answer the server
      self:_refuse(state, "ProtocolError", "expected a request [0, msgid, method, params], got kind "
        .. M.RESPONSE)
    elseif ev == "message" then
      self:_dispatch(state, v)
    elseif ev == "invalid" then
      self:_refuse(state, "FrameError", "cannot decode the frame: " .. tostring(v))
    elseif ev == "timer" then
      if not state.authed then
        self:_refuse(state, "AuthError", ("no seer.auth within %g s"):format(self.auth_timeout))
      end
    elseif ev == "close" then
      if self.conns[conn] then self.nconns = self.nconns - 1 end
      self.conns[conn] = nil
    end
  end, state.authed and self.limits or self.preauth_limits, true)
  conn:split_calls(true)
  -- Until seer.auth succeeds, a peer gets tiny frames and a deadline: it cannot make the server
  -- buffer or decode much, nor hold the connection open.
  if not state.authed then conn:set_timer(self.auth_timeout) end
end

-- serr: the result was tried already and could not be encoded.
local function send_response(conn, id, e, result, method, serr)
  -- Packed straight from the values (no response table); a result that cannot be encoded is
  -- answered with a SerializationError, and the connection stays usable.
  local sent
  if not serr then
    sent, serr = conn:respond(id, e and wire_error(e) or nil, result)
    if sent ~= false then return sent, serr end
  end
  return conn:respond(id, {
    type = "SerializationError", traceback = "",
    message = ("the result of '%s' cannot be sent: %s"):format(tostring(method), tostring(serr)),
  }, nil)
end

--- Answer with a connection-level error (msgid nil) and hang up.
function Server._refuse(_, state, etype, message)
  pcall(state.conn.send, state.conn, { M.RESPONSE, null, { type = etype, message = message, traceback = "" }, null })
  state.conn:close()
end

function Server:_run(state, id, method, params)
  -- Named arguments travel as a last parameter of ext type 2 (decoded into a Named table).
  local n = #params
  local kwargs
  if n > 0 then
    kwargs = params[n]
    if getmetatable(kwargs) == Named then
      params[n] = nil
      setmetatable(kwargs, nil)
    else
      kwargs = nil
    end
  end
  local conn = state.conn
  local ok, result = xpcall(self.call_fn, traceback_handler, self.call_self, method, params, kwargs, conn)
  if id == nil then return end -- a notification: nobody to answer
  if ok then
    -- Packed straight from the values; a result that cannot be encoded gets an error instead.
    local sent, serr = conn:respond(id, nil, result)
    if sent == false then send_response(conn, id, nil, nil, method, serr) end
  else
    local e = result
    send_response(conn, id, {
      type = e.type or "RuntimeError", message = tostring(e.message or e[1] or "(no message)"),
      traceback = e.traceback or "",
    })
  end
end

-- A frame the connection did not split into a call: a notification, or something to refuse.
function Server:_dispatch(state, msg)
  if type(msg) ~= "table" then
    return self:_refuse(state, "ProtocolError", "expected an array [0, msgid, method, params] or [2, method, params]")
  end
  local kind = msg[1]
  local id, method, params
  if kind == M.NOTIFY then
    method, params = msg[2], msg[3]
  elseif kind == M.REQUEST then
    id, method, params = msg[2], msg[3], msg[4]
  else
    return self:_refuse(state, "ProtocolError",
      "expected a request [0, msgid, method, params], got kind " .. tostring(kind))
  end
  if type(method) ~= "string" or type(params) ~= "table" then
    return self:_refuse(state, "ProtocolError", "a request needs a method name (string) and a params array")
  end
  return self:_call(state, id, method, params)
end

-- A request (id nil: a notification) with a method name and a params table.
function Server:_call(state, id, method, params)
  if not state.authed then
    local conn = state.conn
    if method == "seer.auth" and type(params[1]) == "string" and core.secret_equal(params[1], self.token) then
      state.authed = true
      conn:set_limits(self.limits)
      conn:set_timer(0)
      return send_response(conn, id, nil, true)
    end
    return self:_refuse(state, "AuthError",
      method == "seer.auth" and "wrong token" or "this server needs seer.auth with a token before any call")
  end
  if method == "seer.ping" then return id ~= nil and send_response(state.conn, id, nil, "pong") end
  if method == "seer.auth" then return id ~= nil and send_response(state.conn, id, nil, true) end
  if method == "seer.describe" then
    local conn = state.conn
    local ok, d = xpcall(function()
      local desc = self.describe_fn and self.describe_fn() or { functions = json_array({}) }
      desc.server = desc.server or "seer-lua"
      desc.version = desc.version or core.version
      desc.protocol = desc.protocol or 1
      return desc
    end, traceback_handler)
    if id == nil then return end
    if ok then return send_response(conn, id, nil, d) end
    return send_response(conn, id,
      { type = "RuntimeError", message = tostring(d.message), traceback = d.traceback or "" })
  end
  -- Each call runs in a task of its own, so handlers may do I/O; the handler decides about ordering
  -- (seer.interface serialises calls into one interface). Tasks are reused: an idle worker takes
  -- the call and runs it at once, within the read that brought it (task.unpark from the loop),
  -- until the call is answered or waits; only when none is idle is a new one started.
  local idle, n = self.idle, self.nidle
  while n > 0 do
    local worker = idle[n]
    idle[n] = nil
    n = n - 1
    self.nidle = n
    if unpark(worker, state, id, method, params) then return end -- false: it was cancelled
  end
  task.spawn(self._worker, self, state, id, method, params).name = "rpc-worker"
end

-- Idle workers kept for the next calls; more than this after a burst of concurrent calls end.
local MAX_IDLE_WORKERS = 16

function Server:_worker(state, id, method, params)
  local me = task.current()
  while state do
    self:_run(state, id, method, params)
    if self.closed or self.nidle >= MAX_IDLE_WORKERS then return end
    local n = self.nidle + 1
    self.idle[n] = me
    self.nidle = n
    state, id, method, params = park()
  end
end

--- Stop listening (a unix socket file is removed) and close every connection.
function Server:close()
  if self.closed then return end
  self.closed = true
  self.listener:close()
  for conn in pairs(self.conns) do conn:close() end
  local idle = self.idle
  self.idle, self.nidle = {}, 0
  for i = 1, #idle do unpark(idle[i]) end -- idle workers end
end

--- Watch SIGTERM, SIGINT and SIGHUP: fn(signum) runs on the loop instead of the process dying.
--- Returns a handle with :close(). The same as seer.signal.on_stop.
--- A new P-256 key and a self-signed certificate for a TLS server (`listen{tls = {cert, key}}`),
--- and the certificate's SHA-256 for its clients to pin (`connect{tls = {pin = sha256}}`).
---@return string cert_pem
---@return string key_pem
---@return string sha256 64 lowercase hex digits
function M.tls_cert()
  local cert, key, sha256 = rpc_c.tls_cert()
  if not cert then error("seer.rpc.tls_cert: " .. key, 2) end
  return cert, key, sha256
end

function M.on_stop_signal(fn) return require("seer.signal").on_stop(fn) end

M._unpack = unpack
return M
