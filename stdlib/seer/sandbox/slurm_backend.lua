--- seer.sandbox.slurm_backend: the "slurm" sandbox backend. Each sandbox is one Slurm job, which
--- runs seer.sandbox.slurm_node on its compute node: that starts the sandbox with the local backend
--- there (the same isolation as on a workstation) and answers this host over TCP with the job's
--- token. This module implements the same seam as seer.sandbox.local_backend (start, spawn,
--- run_path, iface_path, on_exit, terminate; docs/ARCHITECTURE.md), so seer.environment, serving and
--- sessions run unchanged on either.
---
--- The job directory (`slurm.job_dir`, default $SEER_SLURM_JOB_DIR or ~/.cache/seer/slurm-jobs)
--- must be on a filesystem the host and the nodes share: it carries the node's spec, the token
--- (0600), the address the node publishes, interface copies, and the job's log.
local core = require "seer.core"
local fs = require "seer.fs"
local json = require "seer.json"
local log = require "seer.log"
local path = require "seer.path"
local process = require "seer.process"
local rpc = require "seer.rpc"
local task = require "seer.task"
local slurm = require "seer.sandbox.slurm"
local streams = require "seer.sandbox.slurm_streams"
local state_dirs = require "seer.sandbox.state_dirs"

local M = {}

--- Seconds between heartbeats; the node ends the job after `heartbeat_grace` without one.
M.HEARTBEAT_INTERVAL = 2
M.DEFAULT_HEARTBEAT_GRACE = 30
--- Seconds to wait, once the node's connection drops, for Slurm or the node to say why.
M.END_WAIT = 30
--- How long start() waits for the job to run and its node to answer.
M.DEFAULT_START_TIMEOUT = 600

-- Endings Slurm caused, rather than the job's own exit.
local SLURM_ENDED = {
  CANCELLED = true, TIMEOUT = true, NODE_FAIL = true, PREEMPTED = true, BOOT_FAIL = true, DEADLINE = true,
  REVOKED = true,
}
local ENDED = {
  COMPLETED = true, CANCELLED = true, FAILED = true, TIMEOUT = true, NODE_FAIL = true, PREEMPTED = true,
  OUT_OF_MEMORY = true, BOOT_FAIL = true, DEADLINE = true, GONE = true, SPECIAL_EXIT = true, REVOKED = true,
}

---@class seer.SlurmSandbox
local Backend = {}
Backend.__index = Backend

local random_hex = core.random_hex

-- The ModelConfig fields the node needs to resolve the models itself.
local MODEL_FIELDS = { "name", "revision", "hidden", "is_peft", "base_model", "base_revision" }

--- The sandbox's models, for seer.environment. With `slurm.node_cache` (a directory on the nodes;
--- $SEER_SLURM_NODE_CACHE) the host's cache, shared with the nodes, is used when it has them all;
--- otherwise the node finds them in its own cache, pulling what is missing there with seer.hub
--- (the host's HF_ENDPOINT and HF_TOKEN) before it starts the sandbox. Without it, the host
--- resolves them (pulling into its cache, which the nodes must share).
---@param cfg table the SandboxConfig
---@return table entries the resolved models, or {on_node = configs} for the node to resolve
function M.resolve_models(cfg)
  local sandbox_models = require "seer.sandbox.models"
  local node_cache = cfg.slurm and cfg.slurm.node_cache
  if not node_cache or not cfg.models or #cfg.models == 0 then return sandbox_models.resolve(cfg.models) end
  local ok, models = pcall(sandbox_models.resolve, cfg.models, { download = false })
  if ok then return models end
  local configs = {}
  for i, m in ipairs(cfg.models) do
    local c = {}
    for _, k in ipairs(MODEL_FIELDS) do c[k] = m[k] end
    configs[i] = c
  end
  return { on_node = configs }
end

local function default_job_root()
  local env = os.getenv("SEER_SLURM_JOB_DIR")
  if env and env ~= "" then return env end
  return path.join(os.getenv("HOME") or "/tmp", ".cache/seer/slurm-jobs")
end

local function mkdirs(dir, mode)
  local parent = path.dirname(dir)
  if parent ~= dir and not fs.is_dir(parent) then mkdirs(parent, mode) end
  if not fs.is_dir(dir) then assert(fs.mkdir(dir, mode)) end
end

--- The address the node listens on: the slurm.bind setting, $SEER_SLURM_BIND, or the node's own.
local function bind_address(s)
  return s.bind or os.getenv("SEER_SLURM_BIND") or ""
end

-- Single quotes, so that the shell expands nothing in a path.
local function sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function job_script(dir)
  local lines = {
    "#!/bin/sh",
    "# Written by seer-lua (seer.sandbox.slurm_backend): the node side of one sandbox.",
    "export SEER_SLURM_JOBDIR=" .. sh_quote(dir),
  }
  local stdlib = os.getenv("SEER_PATH")
  if stdlib and stdlib ~= "" then lines[#lines + 1] = "export SEER_PATH=" .. sh_quote(path.abspath(stdlib)) end
  lines[#lines + 1] = "exec " .. sh_quote(core.exe_path()) .. [[ -e 'require("seer.sandbox.slurm_node").main()']]
  return table.concat(lines, "\n") .. "\n"
end

--- Mark the sandbox ended (once) and tell whoever listens.
function Backend:_ended(reason)
  if self.exit_reason then return end
  self.exit_reason = reason
  self.alive = false
  slurm.untrack(self.job_id)
  log.debug("sandbox", "slurm sandbox %s ended: %s", self.job_id, reason)
  if self.agent then
    -- Calls in flight on the node (commands' output, relayed interface calls) fail saying why.
    self.agent:fail_pending("sandbox exited: " .. reason)
    self.agent:close()
  end
  for _, fn in ipairs(self.exit_listeners) do pcall(fn, reason) end
end

local function job_reason(id, state, reason)
  return ("slurm job %s ended: %s%s"):format(id, state or "?", reason and (" (" .. reason .. ")") or "")
end

--- Why the sandbox ended, or nil while it runs. Slurm's word when Slurm ended the job (cancelled,
--- time limit, node failure, preemption: the sandbox only died of the signals that followed, and
--- Slurm marks the job before it sends them). Else the node's own word, which it writes before it
--- drops the connection (the sandbox was killed out of memory...). Else Slurm's, once the job ended.
---@param state string|nil the job's final state, when the caller already has it (nil: ask scontrol)
function Backend:_end_reason(state, slurm_reason)
  -- The node's file is read before Slurm's state: a file that exists while Slurm still says RUNNING
  -- was written about a death Slurm did not cause.
  local node_reason = self:_read_job_file("exit_reason")
  if not state then state, slurm_reason = slurm.show(self.job_id) end
  if state == "COMPLETING" then
    -- Slurm is killing the job's processes; the final state follows. A time limit says so already.
    if slurm_reason ~= "TimeLimit" then return nil end
    state = "TIMEOUT"
  end
  if state and SLURM_ENDED[state] then return job_reason(self.job_id, state, slurm_reason) end
  if node_reason then
    return ("%s (slurm job %s %s)"):format(node_reason:gsub("^sandbox exited: ", ""), self.job_id,
      state and state:lower() or "ending")
  end
  if state and ENDED[state] then return job_reason(self.job_id, state, slurm_reason) end
  return nil
end

--- Mark the sandbox ended when Slurm or the node says why; true when one did.
function Backend:_check_job(state, slurm_reason)
  if self.exit_reason then return true end
  local reason = self:_end_reason(state, slurm_reason)
  if not reason then return false end
  self:_ended(reason)
  return true
end

--- Wait up to `limit` seconds (default END_WAIT) for Slurm or the node to say why the job ended
--- (a job being killed is COMPLETING for a moment, and a loaded slurmctld answers slowly); true
--- when one did.
function Backend:_await_job_end(limit)
  if self.exit_reason then return true end
  local deadline = core.now() + (limit or M.END_WAIT)
  while not self:_check_job() do
    if core.now() > deadline then return false end
    task.sleep(0.2)
  end
  return true
end

--- The node's connection dropped: find out why in the background (once), and when nobody can
--- say within END_WAIT, end the sandbox saying the connection was lost.
function Backend:_settle()
  if self.exit_reason or self.settling then return end
  self.settling = true
  task.spawn(function()
    if not self:_await_job_end() then
      self:_ended(("lost the connection to the node of slurm job %s"):format(self.job_id))
    end
  end).name = "slurm-settle"
end

function Backend:_read_job_file(name)
  local text = fs.read(path.join(self.job_dir, name))
  return text and text:gsub("%s+$", "") or nil
end

--- Submit the job and wait for its node to answer (or for it to fail, or the start timeout).
---@param opts table local_backend's start options
---@param cfg table the SandboxConfig (timeout, gpu, gpu_count, cpus, memory_bytes, slurm)
---@return seer.SlurmSandbox
function M.start(opts, cfg)
  local s = cfg.slurm or {}
  local root = s.job_dir or default_job_root()
  mkdirs(root, 448)
  local dir = path.join(root, "sandbox-" .. random_hex(8))
  assert(fs.mkdir(dir, 448)) -- 0700
  assert(fs.mkdir(path.join(dir, "iface"), 493))
  local token = random_hex(32)
  local token_file = path.join(dir, "token")
  assert(fs.write(token_file, token))
  assert(fs.chmod(token_file, 384)) -- 0600
  local node_opts = {}
  for k, v in pairs(opts) do node_opts[k] = v end
  node_opts.iface_dir = path.join(dir, "iface")
  -- Models the node resolves in its own cache (M.resolve_models), with the hub to pull them from.
  local node_models
  if opts.models and opts.models.on_node then
    local hub = require "seer.hub"
    node_opts.models = nil
    node_models = { configs = json.array(opts.models.on_node), cache_dir = s.node_cache, endpoint = hub.endpoint() }
    local hf_token = hub.token()
    if hf_token then
      assert(fs.write(path.join(dir, "hf_token"), hf_token))
      assert(fs.chmod(path.join(dir, "hf_token"), 384)) -- 0600, like the job's token
    end
  end
  local bind = bind_address(s)
  -- slurm.tls: the node's connection speaks TLS with a certificate made for this sandbox, which
  -- the host pins (its SHA-256 stays in this process); the key goes to the node like the token.
  local pin
  if s.tls then
    local cert, key
    cert, key, pin = rpc.tls_cert()
    assert(fs.write(path.join(dir, "tls.pem"), cert))
    local key_file = path.join(dir, "tls.key")
    assert(fs.write(key_file, key)) -- in the 0700 job directory, like the token
    assert(fs.chmod(key_file, 384)) -- 0600
  end
  assert(fs.write(path.join(dir, "node.json"), json.encode({
    backend = node_opts, bind = bind ~= "" and bind or "127.0.0.1",
    heartbeat_grace = s.heartbeat_grace or M.DEFAULT_HEARTBEAT_GRACE, tls = s.tls or false,
    models = node_models,
  })))
  local script = path.join(dir, "job.sh")
  assert(fs.write(script, job_script(dir)))
  assert(fs.chmod(script, 448))

  local self = setmetatable({
    job_dir = dir, alive = false, exit_listeners = {}, opts = opts, relays = {},
    state = state_dirs.create("seer-slurm"), cfg = cfg,
  }, Backend)
  local args = slurm.sbatch_args(cfg, s, { name = s.job_name or "seer-sandbox", log = path.join(dir, "job.log"),
                                            dir = dir, script = script })
  local submit_at = core.now()
  local id, err = slurm.submit(args)
  if not id then
    self:_cleanup()
    error("sandbox failed to start: sbatch refused the job: " .. err, 0)
  end
  self.job_id, self.pid = id, id

  -- Until it runs: progress when the pending reason or queue position changes.
  local job_state, pending_reason, shown = "PENDING", nil, nil
  slurm.track(id, function(state, reason, pos)
    job_state, pending_reason = state, reason
    if self.alive and ENDED[state] then self:_check_job(state, reason) end
    if state == "PENDING" then
      local line = ("slurm job %s pending: %s%s"):format(id, reason or "?", pos and (", position " .. pos) or "")
      if line ~= shown then
        shown = line
        log.info("sandbox", "%s", line)
      end
    end
  end)
  local timeout = s.start_timeout or M.DEFAULT_START_TIMEOUT
  local started = core.now() -- sbatch answered
  local endpoint
  while true do
    endpoint = self:_read_job_file("endpoint")
    if endpoint then break end
    local failed = self:_read_job_file("failed")
    if failed then
      self:terminate()
      error(("sandbox failed to start on the node (slurm job %s): %s"):format(id, failed), 0)
    end
    if ENDED[job_state] then
      local log_tail = (self:_read_job_file("job.log") or ""):sub(-400)
      self:terminate()
      error(("sandbox failed to start: %s%s"):format(job_reason(id, job_state, pending_reason),
        log_tail ~= "" and (": " .. log_tail) or ""), 0)
    end
    if core.now() - started > timeout then
      local what = job_state == "PENDING"
        and ("pending: %s for %d min"):format(pending_reason or "?", math.floor(timeout / 60))
        or ("%s but its node did not answer within %d s"):format(job_state:lower(), timeout)
      self:terminate()
      error(("sandbox failed to start: job %s %s"):format(id, what), 0)
    end
    task.sleep(0.02) -- a stat of a file in the job directory: cheap, and on the start's critical path
  end
  local node_started
  endpoint, node_started = endpoint:match("^(%S+)%s*(%S*)")
  --- Seconds from the submit to sbatch's answer, to the node's start, and to the node's address.
  self.timing = { submit_at = submit_at, submitted = started - submit_at, published = core.now() - submit_at,
                  node_started = tonumber(node_started) and (tonumber(node_started) - submit_at) or nil }
  local ok, agent = pcall(rpc.connect, "tcp:" .. endpoint, {
    token = token, timeout = 10, call_timeout = math.huge, tls = pin and { pin = pin } or nil,
    -- A dropped connection: ask Slurm and the node at once why (cancelled, time limit, out of
    -- memory); that fails the calls in flight with the reason. Until then the grace holds them.
    on_close_reason = function()
      self:_settle()
      return self.exit_reason and ("sandbox exited: " .. self.exit_reason) or nil
    end, close_grace = M.END_WAIT + 1,
  })
  if not ok then
    self:terminate()
    error(("sandbox failed to start: cannot reach the node of slurm job %s at %s: %s"):format(
      id, endpoint, tostring(agent)), 0)
  end
  self.agent = agent
  local info = agent:call("info")
  self.models, self.model_list, self.has_interpreter = info.models or {}, info.model_list or "", info.has_interpreter
  -- Models the node resolved: their mounts, as the host-resolved ones would have been.
  if node_models then opts.models = self.models end
  self.model_env = info.model_env or {}
  self.alive = true
  self.heart = task.spawn(function()
    while self.alive do
      local hok = pcall(function() agent:call_with({ timeout = 10 }, "heartbeat") end)
      -- No answer on a dropped connection: the node ended (Slurm or the node says why). A slow
      -- answer on an open one is only a busy node; the node's own watchdog keeps the job honest.
      if not hok and agent.closed then self:_settle() end
      task.sleep(M.HEARTBEAT_INTERVAL)
    end
  end)
  self.heart.name = "slurm-heartbeat"
  return self
end

--- Call fn(reason) when the sandbox ends.
function Backend:on_exit(fn) self.exit_listeners[#self.exit_listeners + 1] = fn end

--- Start argv inside the sandbox on its node; a seer.Process like the local backend's.
---@return seer.Process
function Backend:spawn(argv, opts)
  if not self.alive then error("sandbox is not running (" .. (self.exit_reason or "terminated") .. ")", 3) end
  local agent = self.agent
  local env = {}
  for k, v in pairs(opts.env or {}) do env[k] = tostring(v) end
  return process.attach({ cmd = argv[1], stdin = opts.stdin, stream = opts.stream, on_stdout = opts.on_stdout,
                          on_stderr = opts.on_stderr, on_exit = opts.on_exit, timeout = opts.timeout,
                          kill_signal = 15 }, function(on_event)
    local ok, r = pcall(agent.call, agent, "spawn", json.array(argv),
      { env = json.object(env), cwd = opts.cwd or "/workspace", stdin = opts.stdin ~= nil and opts.stdin ~= false })
    if not ok then return nil, rpc.is_error(r) and r.message or tostring(r) end
    local id, exited = r.id, false
    local function send(method, ...)
      if exited or agent.closed then return end
      pcall(agent.notify, agent, method, id, ...)
    end
    local handle = {
      pid = function() return r.pid end,
      write = function(_, data) send("write", data) end,
      close_stdin = function() send("close_stdin") end,
      kill = function(_, sig) send("kill", sig or 15) end,
      keep_alive = function() end,
      close_output = function() send("close_output") end,
    }
    task.spawn(function()
      while true do
        local pok, reply = pcall(agent.call, agent, "poll", id)
        if not pok then
          exited = true
          self:_await_job_end()
          on_event("stdout", nil)
          on_event("stderr", nil)
          on_event("exit", nil, 9)
          return
        end
        if reply.stdout ~= "" then on_event("stdout", reply.stdout) end
        if reply.stderr ~= "" then on_event("stderr", reply.stderr) end
        if reply.exit then
          exited = true
          -- The sandbox went with it: learn why (the node's word or Slurm's) before anyone asks.
          if reply.exit.sandbox_exited then self:_await_job_end() end
          if reply.exit.overflow then
            log.warn("sandbox", "a command's output was not read fast enough and it was killed")
          end
          on_event("stdout", nil)
          on_event("stderr", nil)
          local code = reply.exit.code
          on_event("exit", code ~= json.null and code or nil, reply.exit.signal or 0)
          return
        end
      end
    end).name = "slurm-poll:" .. tostring(id)
    return handle
  end)
end

--- Host-side path of a socket the sandbox listens on in /run/seer: a relay in a host-only
--- directory, created once the server on the node accepts connections, that passes each call over
--- the node's connection. Callers wait for the path to exist, as with the local backend.
function Backend:run_path(rel)
  local host = path.join(self.state, rel)
  if self.relays[rel] then return host end
  self.relays[rel] = true
  local agent = self.agent
  task.spawn(function()
    while self.alive do
      local ok, ready = pcall(agent.call, agent, "probe", rel)
      if not ok then return end
      if ready then break end
      task.sleep(0.01)
    end
    if not self.alive then return end
    local ok, description = pcall(agent.call, agent, "describe", rel)
    if not ok then return end
    local server = rpc.listen("unix:" .. host, function(method, args, kwargs)
      local cok, r = pcall(agent.call, agent, "relay", rel, method, json.array(args),
        kwargs and json.object(kwargs) or nil)
      if cok then return r end
      -- The sandbox died under the call. When Slurm killed it (time limit, scancel), its signals
      -- reach the sandbox as soon as the node: ask Slurm, and fail the call with its reason.
      local message = rpc.is_error(r) and tostring(r.message) or tostring(r)
      if message:find("sandbox exited", 1, true) and self:_await_job_end() then
        error({ type = "ConnectionClosed", message = "sandbox exited: " .. self.exit_reason })
      end
      error(r, 0)
    end, { describe = function() return description end, keep_alive = false })
    self.relays[rel] = server
  end).name = "slurm-relay:" .. rel
  return host
end

--- Host-side path of a socket the sandbox listens on in /run/seer that speaks something other than
--- msgpack-RPC (a notebook kernel's ZeroMQ sockets): a host-only Unix socket whose connections are
--- relayed byte for byte to the sandbox's socket over the node's connection
--- (seer.sandbox.slurm_streams). A client connecting before the sandbox listens is hung up on, and
--- connects again (as ZeroMQ does).
---@param rel string a socket name in /run/seer
---@return string
function Backend:stream_path(rel)
  local host = path.join(self.state, rel)
  if not self.relays[rel] then self.relays[rel] = streams.host_listen(self.agent, rel, host) end
  return host
end

--- Host-side path of an interface copy: the job directory's iface/, which the node binds read-only
--- at /run/seer/iface.
function Backend:iface_path(name) return path.join(self.job_dir, "iface", name) end

function Backend:_cleanup()
  for _, r in pairs(self.relays or {}) do if type(r) == "table" then pcall(r.close, r) end end
  if self.state then state_dirs.release(self.state) end
  self.state = nil
  -- The job directory: its files are ours; nothing in it is followed (the node wrote only files).
  fs.remove(self.job_dir)
end

--- Cancel the job (idempotent) and remove the job directory.
function Backend:terminate()
  if self.terminated then return end
  self.terminated = true
  self:_ended(self.exit_reason or "terminated")
  if self.job_id then
    slurm.cancel(self.job_id)
    -- The job directory goes once the node has let go of it (a few seconds at most).
    local deadline = core.now() + 10
    while core.now() < deadline do
      local state = slurm.show(self.job_id)
      if not state or ENDED[state] then break end
      task.sleep(0.2)
    end
  end
  self:_cleanup()
end

return M
