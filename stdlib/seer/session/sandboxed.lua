--- seer.session.sandboxed: a session whose agent code runs in a sandbox of its own (the default of
--- create_local_session). The sandbox (seer.sandbox.local_backend) holds no models and no network;
--- of the host it sees the system's read-only programs, its workspace directory (read-write, at its
--- own host path, which is also its HOME and working directory) and one relay socket per interface
--- it was given (seer.session.proxy). Inside, one seer-lua process (seer.session.server) keeps the
--- session's Lua state; the host talks to it over msgpack-RPC. Provider calls, transcripts and the
--- rest of the agent loop stay on the host.
local fs = require "seer.fs"
local path = require "seer.path"
local rpc = require "seer.rpc"
local task = require "seer.task"
local msgpack = require "seer.msgpack"
local backend_local = require "seer.sandbox.local_backend"
local proxy = require "seer.session.proxy"
local state_dirs = require "seer.sandbox.state_dirs"

local M = {}

local SOCKET = "/run/seer/session.sock"
local START_TIMEOUT = 60 -- seconds for the executor to listen
local MAX_OUTPUT = 1024 * 1024 -- bytes of run_lua output accepted from the sandbox
local STDERR_TAIL = 4096 -- bytes of the executor's stderr kept to explain its death

-- Limits of a session sandbox unless create_local_session's `sandbox` option says otherwise.
M.DEFAULT_LIMITS = { memory_bytes = 4 * 1024 ^ 3, pids = 256, nofile = 1024, cpus = 0 }

---@class seer.SandboxedSession
---@field name string
---@field workspace_dir string absolute host path (the same path inside the sandbox)
local Session = {}
Session.__index = Session
M.Session = Session

local SANITIZER_OPTIONS = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" }

local function executor_env(self)
  local env = {
    PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", HOME = self.workspace_dir,
    LANG = os.getenv("LANG") or "C.UTF-8", SEER_SANDBOX = "1",
    SEER_SESSION_SOCKET = "unix:" .. SOCKET, SEER_SESSION_WORKSPACE = self.workspace_dir,
  }
  if self.stdlib_dir then env.SEER_PATH = "/.seer/stdlib" end
  -- A sanitizer build's options (no secrets): without them LeakSanitizer runs at the executor's
  -- exit, which it cannot do under the sandbox's seccomp filter.
  for _, name in ipairs(SANITIZER_OPTIONS) do env[name] = os.getenv(name) end
  return env
end

-- One attempt to connect to the executor's socket in the sandbox-owned run directory: anything but
-- a socket there (a symlink to a host socket, say) is refused. nil while nothing listens yet.
local function try_connect(self, host_sock)
  if fs.readlink(host_sock) then
    error(("'%s' is a symlink; the sandbox replaced its socket, refusing to follow it"):format(host_sock), 0)
  end
  if not fs.exists(host_sock) then return nil end
  -- No call timeout: agent code may run as long as it likes (its sandbox's limits bound it).
  local ok, client = pcall(rpc.connect, "unix:" .. host_sock, {
    timeout = 2, call_timeout = math.huge, close_grace = 0.5,
    on_close_reason = function() return self:_death_reason() end,
  })
  return ok and client or nil
end

-- Start the sandbox and the executor in it, and connect. Raises with the reason on failure.
function Session:_start_runner()
  local binds = {}
  for _, px in ipairs(self.proxies) do
    binds[#binds + 1] = { src = px.socket, dst = assert(proxy.unix_path(px.address)) }
  end
  local backend = backend_local.start({
    memory_bytes = self.limits.memory_bytes, pids = self.limits.pids, nofile = self.limits.nofile,
    cpus = self.limits.cpus, network = false,
    stdlib_dir = self.stdlib_dir, workspace_dir = self.workspace_dir, binds = binds, keep_alive = false,
  })
  self.backend = backend
  self.stderr_tail = ""
  local ok, err = pcall(function()
    if not backend.has_interpreter then
      error("the sandbox has no seer-lua interpreter (install seer-lua beside the seer-sandbox helper)", 0)
    end
    -- What the executor prints is the sandbox's to fill: stdout is dropped, the tail of stderr kept
    -- to say why it died.
    local p = backend:spawn({ "/.seer/seer-lua", "-e", 'require("seer.session.server").main()' }, {
      env = executor_env(self), cwd = self.workspace_dir, stdin = true, on_stdout = function() end,
      on_stderr = function(chunk) self.stderr_tail = (self.stderr_tail .. chunk):sub(-STDERR_TAIL) end,
    })
    self.process = p
    backend:on_exit(function() if not self.client then pcall(p.kill, p, 9) end end)
    -- Ready means a connection to its socket succeeds, never a line the sandbox prints.
    local host_sock = backend:run_path(SOCKET:match("[^/]+$"))
    local werr = select(2, pcall(task.timeout, START_TIMEOUT, function()
      while not p.exited do
        self.client = try_connect(self, host_sock)
        if self.client then return end
        task.sleep(0.01)
      end
    end))
    if not self.client then
      pcall(p.kill, p, 9)
      pcall(task.timeout, 2, function() p:wait() end)
      local why = self.stderr_tail:gsub("%s+$", "")
      if why == "" then why = tostring(werr or backend.exit_reason or "it exited") end
      error("the session's Lua process did not start: " .. why, 0)
    end
    p:keep_alive(false) -- an idle session does not keep the program running; calls in flight do
  end)
  if not ok then
    self:_stop_runner()
    error(err, 0)
  end
end

function Session:_death_reason()
  local b = self.backend
  if b and b.exit_reason then return "session sandbox exited: " .. b.exit_reason end
  local p = self.process
  if p and p.exited then
    local how = (p.signal and p.signal ~= 0) and ("killed by signal " .. p.signal)
      or ("exit status " .. tostring(p.code))
    local tail = (self.stderr_tail or ""):gsub("%s+$", "")
    return "the session's Lua process ended (" .. how .. ")" .. (tail ~= "" and (": " .. tail) or "")
  end
  return nil
end

function Session:_stop_runner()
  -- Forget the runner first: a call that overlaps this one starts a fresh runner, never reuses this.
  local client, p, backend = self.client, self.process, self.backend
  self.client, self.process, self.backend = nil, nil, nil
  if client then pcall(client.close, client) end
  -- Ending the sandbox kills everything in it, the executor too (which may be stuck in a loop that
  -- never lets it see a SIGTERM); its helper on the host then exits.
  if backend then backend:terminate() end
  if p and not pcall(task.timeout, 2, function() p:wait() end) then pcall(p.kill, p, 9) end
end

-- A call into the executor. Returns the result, or nil and the error; `lost` is true when the
-- executor is gone (its state with it), which the next call repairs by starting a fresh one.
function Session:_call(method, ...)
  if self.closed then return nil, "this session was closed", false end
  while self.starting do task.sleep(0.01) end -- another call is starting the runner
  if not self.client then
    self.starting = true
    local ok, err = pcall(self._start_runner, self)
    self.starting = false
    if not ok then return nil, "cannot restart the session sandbox: " .. tostring(err), true end
    if self.init_code then
      local r = self:_call("run_lua", self.init_code)
      if type(r) == "table" and r.error then
        return nil, "the session restarted, but custom_init_code failed: " .. tostring(r.error), true
      end
    end
  end
  local client = self.client
  local timeout = method == "run_lua" and self.run_timeout or math.huge
  local ok, res = pcall(client.call_with, client, { timeout = timeout }, method, ...)
  if ok then return res end
  if rpc.is_error(res) and res.type == "Timeout" then
    self:_stop_runner()
    return nil, ("run_lua: no answer within run_timeout = %g s; the session's Lua process was stopped, its "
      .. "variables are lost, and the next call starts a fresh Lua state"):format(timeout), true
  end
  if rpc.is_error(res) and res.type ~= "ConnectionClosed" then return nil, res.message, false end
  local why = self:_death_reason() or (rpc.is_error(res) and res.message or tostring(res))
  self:_stop_runner()
  return nil, why .. "; its variables are lost, and the next call starts a fresh Lua state", true
end

local function unwire(r)
  if type(r) ~= "table" then return { output = "", values = { n = 0 }, error = "run_lua: a malformed answer" } end
  local output = type(r.output) == "string" and r.output or ""
  if #output > MAX_OUTPUT then output = output:sub(1, MAX_OUTPUT) .. "\n... [output truncated]\n" end
  local values = { n = 0 }
  local n = math.tointeger and math.tointeger(r.n) or tonumber(r.n)
  if type(r.values) == "table" and n and n >= 0 and n <= #r.values + 1 then
    values.n = n
    for i = 1, n do
      local v = r.values[i]
      if v ~= msgpack.null then values[i] = v end
    end
  end
  local err = r.error
  if err ~= nil and type(err) ~= "string" then err = tostring(err) end
  return { output = output, values = values, error = err }
end

--- Run code for an agent: never raises. Returns {output, values = {n, ...}, error}; values that
--- msgpack cannot carry (functions, ...) arrive as their printed form.
function Session:run_lua(code)
  if type(code) ~= "string" then
    return { output = "", values = { n = 0 }, error = "run_lua: code must be a string" }
  end
  local r, err = self:_call("run_lua", code)
  if r == nil then return { output = "", values = { n = 0 }, error = err } end
  return unwire(r)
end

--- Run code in the session and return what it returns; raises with the traceback on error.
function Session:exec(code)
  local r = self:run_lua(code)
  if r.error then error(r.error, 0) end
  return (table.unpack or unpack)(r.values, 1, r.values.n)
end

local function file_call(self, method, ...)
  local r, err = self:_call(method, ...)
  if r == nil then error(err, 0) end
  return r
end

--- The file tools, run in the sandbox: confined to the workspace there too.
function Session:read_file(p)
  local r = file_call(self, "read_file", p)
  if type(r) ~= "string" then error("read_file: a malformed answer", 0) end
  return r
end

function Session:write_file(p, content) return file_call(self, "write_file", p, content) end

function Session:list_files(p)
  local r = file_call(self, "list_files", p)
  local out = {}
  if type(r) == "table" then for i, v in ipairs(r) do out[i] = tostring(v) end end
  return out
end

--- End the sandbox and the relays. The workspace directory stays. Safe to call more than once.
function Session:close()
  if self.closed then return end
  self:_stop_runner()
  self.closed = true
  for _, px in ipairs(self.proxies) do pcall(px.close, px) end
  if self.proxy_dir then state_dirs.release(self.proxy_dir) end
end

--- start{name, workspace_dir, addresses = {unix:PATH...}, files = {{rel, data}...}, init_code,
---       limits = {memory_bytes, pids, nofile, cpus} (default M.DEFAULT_LIMITS), run_timeout}
--- `workspace_dir` exists and is free of symlinks; `files` are written from inside the sandbox.
---@return seer.SandboxedSession
function M.start(opts)
  local stdlib = os.getenv("SEER_PATH")
  local self = setmetatable({
    name = opts.name, workspace_dir = opts.workspace_dir, lib_dir = path.join(opts.workspace_dir, ".seer", "lib"),
    proxies = {}, init_code = opts.init_code, isolation = "sandbox", run_timeout = opts.run_timeout or math.huge,
    limits = opts.limits or M.DEFAULT_LIMITS,
    stdlib_dir = stdlib and stdlib ~= "" and path.abspath(stdlib) or nil,
  }, Session)
  local ok, err = pcall(function()
    if #opts.addresses > 0 then
      -- A locked state directory: removed at close, at exit, or by the next sweep after a crash.
      self.proxy_dir = state_dirs.create("seer-session")
      assert(fs.chmod(self.proxy_dir, 448)) -- 0700
    end
    for i, address in ipairs(opts.addresses) do
      self.proxies[i] = proxy.start(address, path.join(self.proxy_dir, i .. ".sock"))
    end
    self:_start_runner()
    for _, f in ipairs(opts.files) do file_call(self, "write_file", f[1], f[2]) end
    if opts.init_code then
      local r = self:run_lua(opts.init_code)
      if r.error then error("custom_init_code failed: " .. r.error, 0) end
    end
  end)
  if not ok then
    self:close()
    error(err, 0)
  end
  return self
end

return M
