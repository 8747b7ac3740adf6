--- seer.environment: sandboxes, as in Seer. `SandboxConfig`, `ModelConfig` and `ExecutionMode`
--- describe one; `Sandbox` / `ScopedSandbox` start it, run commands in it, move files, snapshot
--- its workspace and serve interface files from it, on this machine (backend "local") or as a
--- Slurm job (backend "slurm"); both implement one seam (docs/ARCHITECTURE.md).
local fs = require "seer.fs"
local path = require "seer.path"
local sandbox_models = require "seer.sandbox.models"
local config = require "seer.sandbox.config"
local backend_local = require "seer.sandbox.local_backend"
local serving = require "seer.sandbox.serving"
local log = require "seer.log"
local task = require "seer.task"
local host_files = require "seer._sandbox"

local M = {}

--- What exec keeps of each output stream by default; the rest is read, counted and dropped.
M.DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024
--- How long exec reads a command's output after it exited. Nothing the command started outlives
--- it, so output open after that is held by another process of the sandbox it was handed to.
M.OUTPUT_GRACE = 2

M.SandboxConfig = config.SandboxConfig
M.ModelConfig = config.ModelConfig
M.ExecutionMode = config.ExecutionMode

---@class seer.Sandbox
---@field config table
---@field sandbox_id string|nil
local Sandbox = {}
Sandbox.__index = Sandbox
M.Sandbox = Sandbox

--- Create (not start) a sandbox from a SandboxConfig (or a plain table of its fields).
---@return seer.Sandbox
function Sandbox.new(cfg)
  if getmetatable(cfg) ~= config.SandboxConfig then cfg = config.SandboxConfig(cfg or {}) end
  return setmetatable({ config = cfg, state = "created", served = {} }, Sandbox)
end

setmetatable(Sandbox, { __call = function(_, cfg) return Sandbox.new(cfg) end })

local function require_running(self, what)
  if self.state == "created" then
    error(("sandbox.%s: the sandbox is not started; call :start() first"):format(what), 3)
  elseif self.state == "terminated" then
    error(("sandbox.%s: the sandbox was terminated"):format(what), 3)
  elseif not self.backend.alive or self.backend.exit_reason then
    error(("sandbox.%s: the sandbox is not running (%s)"):format(what, self.backend.exit_reason or "exited"), 3)
  end
end

--- The environment processes in the sandbox start with: PATH, HOME, LANG, MODEL_<SAN>_PATH, the
--- declared secrets and config.env.
local function sandbox_env(self)
  local cfg = self.config
  local env = {
    PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", HOME = "/workspace",
    LANG = os.getenv("LANG") or "C.UTF-8", SEER_SANDBOX = "1",
  }
  for k, v in pairs(self.backend.model_env or {}) do env[k] = v end
  for k, v in pairs(self.backend.gpu_env or {}) do env[k] = v end
  env.SEER_MODELS = self.backend.model_list
  -- The memory limit, so that a model loaded inside copies its weights into private memory
  -- (runtime/model/weights_mem.c) only when they fit well within it.
  if (cfg.memory_bytes or 0) > 0 then env.SEER_MEMORY_LIMIT = ("%d"):format(cfg.memory_bytes) end
  if self.backend.opts.stdlib_dir then env.SEER_PATH = "/.seer/stdlib" end
  for _, name in ipairs(cfg.secrets or {}) do env[name] = os.getenv(name) end
  for k, v in pairs(cfg.env or {}) do env[k] = tostring(v) end
  return env
end

--- Start the sandbox: find the models in the HF cache (pulling missing ones, with progress on the
--- host's stderr, unless HF_HUB_OFFLINE), build the isolated tree, copy local files.
function Sandbox:start()
  if self.state == "running" then return self end
  if self.state == "terminated" then error("sandbox.start: this sandbox was terminated; create a new one", 2) end
  local cfg = self.config
  for _, name in ipairs(cfg.secrets or {}) do
    if os.getenv(name) == nil then
      error(("sandbox.start: secret '%s' is not set in the host environment"):format(name), 2)
    end
  end
  local backend = cfg.backend == "slurm" and require("seer.sandbox.slurm_backend") or backend_local
  -- A backend may resolve the models where the sandbox runs (a Slurm node's own cache).
  local ok_models, models
  if backend.resolve_models then ok_models, models = pcall(backend.resolve_models, cfg)
  else ok_models, models = pcall(sandbox_models.resolve, cfg.models) end
  if not ok_models then error(models, 2) end
  local stdlib = os.getenv("SEER_PATH")
  self.backend = backend.start({
    models = models, memory_bytes = cfg.memory_bytes, pids = cfg.pids, nofile = cfg.nofile,
    cpus = cfg.cpus, timeout = cfg.timeout, network = cfg.network, cpu_time = cfg.cpu_time,
    tmp_bytes = cfg.tmp_bytes, disk_bytes = cfg.disk_bytes,
    -- The local backend binds the host's GPUs itself; a Slurm job gets its own through gres.
    gpu_count = cfg.backend == "local" and cfg.gpu ~= nil and cfg.gpu ~= false and cfg.gpu_count or 0,
    stdlib_dir = stdlib and stdlib ~= "" and path.abspath(stdlib) or nil,
  }, cfg)
  self.state = "running"
  self.sandbox_id = cfg.backend .. "-" .. self.backend.pid
  self.env = sandbox_env(self)
  for _, pair in ipairs(cfg.local_files or {}) do
    local data = assert(fs.read(pair[1]))
    self:write_file(pair[2], data)
  end
  for _, pair in ipairs(cfg.local_dirs or {}) do self:_copy_dir(pair[1], pair[2]) end
  -- A notebook sandbox runs its Jupyter kernel from the start (seer.sandbox.kernel).
  if cfg.execution_mode == config.ExecutionMode.NOTEBOOK then
    self.kernel = require("seer.sandbox.kernel").start(self)
  end
  return self
end

function Sandbox:_copy_dir(src, dst)
  self:ensure_dir(dst)
  for _, name in ipairs(assert(fs.list(src))) do
    local s = path.join(src, name)
    if fs.is_dir(s) then self:_copy_dir(s, dst .. "/" .. name)
    else self:write_file(dst .. "/" .. name, assert(fs.read(s))) end
  end
end

local function env_list(env)
  local list = {}
  for k, v in pairs(env) do list[k] = v end
  return list
end

-- Keeps the first `limit` bytes of a stream and counts the rest, which is read and dropped: output
-- is the sandbox's to choose, and the host never holds more of it than the caller allowed.
local function capped(limit)
  local sink = { parts = {}, kept = 0, total = 0 }
  function sink.put(chunk)
    sink.total = sink.total + #chunk
    local room = limit - sink.kept
    if room > 0 then
      local part = #chunk <= room and chunk or chunk:sub(1, room)
      sink.parts[#sink.parts + 1] = part
      sink.kept = sink.kept + #part
    end
  end
  function sink.text() return table.concat(sink.parts) end
  return sink
end

local function truncation_note(shown, limit, out, err)
  local which = {}
  for name, sink in pairs({ stdout = out, stderr = err }) do
    if sink.total > sink.kept then which[#which + 1] = ("%s (%d bytes)"):format(name, sink.total) end
  end
  if not which[1] then return nil end
  table.sort(which)
  local note = ("sandbox: '%s' printed more than max_output = %d bytes on %s; kept the first %d "
    .. "bytes and dropped the rest (pass a larger max_output to keep more)")
    :format(shown, limit, table.concat(which, " and "), limit)
  log.warn("sandbox", "%s", note)
  return note
end

--- Run a command in the sandbox and return what happened, whatever it was: a string runs through
--- /bin/sh -c, a table is an argv. opts: timeout (s), stdin, cwd, env, max_output (bytes kept of
--- each of stdout and stderr, default 16 MiB: the rest is read, counted and dropped).
--- The result: stdout, stderr, code (nil when killed by a signal or timed out), signal,
--- signal_name, timed_out, stdout_bytes and stderr_bytes (all that was printed), truncated, and
--- note (what was dropped, also logged as a warning) when it is. output_held: the command exited
--- but another process of the sandbox (one it handed its output to) kept it open; reading stopped
--- OUTPUT_GRACE seconds after the exit, so a call never waits on the sandbox past its command.
--- The command owns everything it starts: when it exits or times out, what it left running
--- (backgrounded, setsid'd, daemonized) is killed with it.
function Sandbox:run(cmd, opts)
  require_running(self, "run")
  opts = opts or {}
  local argv = type(cmd) == "table" and cmd or { "/bin/sh", "-c", tostring(cmd) }
  local env = env_list(self.env)
  for k, v in pairs(opts.env or {}) do env[k] = tostring(v) end
  local limit = opts.max_output or M.DEFAULT_MAX_OUTPUT
  if type(limit) ~= "number" or limit < 0 then error("sandbox: 'max_output' must be a number of bytes", 2) end
  local out, err = capped(limit), capped(limit)
  local held, cancel_grace = false, nil
  local function on_exit(proc)
    cancel_grace = task.call_later(M.OUTPUT_GRACE, function()
      if proc.open_streams > 0 then
        held = true
        proc:close_output()
      end
    end)
  end
  local p = self.backend:spawn(argv, { env = env, stdin = opts.stdin, timeout = opts.timeout, cwd = opts.cwd,
                                       on_stdout = out.put, on_stderr = err.put, on_exit = on_exit })
  local r = p:wait()
  if cancel_grace then cancel_grace() end
  local shown = type(cmd) == "table" and table.concat(cmd, " ") or cmd
  local note = truncation_note(shown, limit, out, err)
  local truncated = note ~= nil
  if held then
    local held_note = ("sandbox: '%s' exited, but another process of the sandbox held its output open "
      .. "%g s later; stopped reading it"):format(shown, M.OUTPUT_GRACE)
    log.warn("sandbox", "%s", held_note)
    note = note and (note .. "; " .. held_note) or held_note
  end
  return {
    stdout = out.text(), stderr = err.text(), code = not r.timed_out and r.code or nil, signal = r.signal,
    signal_name = r.signal_name, timed_out = r.timed_out, stdout_bytes = out.total, stderr_bytes = err.total,
    truncated = truncated, output_held = held, note = note, shown = shown,
  }
end

--- Run a command in the sandbox (see run for cmd and opts). Returns stdout; a non-zero exit
--- raises with the exit code and stderr, unless check = false, which returns stdout, stderr, code
--- instead. Output past max_output is dropped, with a warning; `run` reports it in its result.
function Sandbox:exec(cmd, opts)
  require_running(self, "exec")
  opts = opts or {}
  local r = self:run(cmd, opts)
  local shown = r.shown
  if r.timed_out then
    if opts.check == false then return r.stdout, r.stderr, nil end
    error(("sandbox.exec: '%s' timed out after %g s"):format(shown, opts.timeout), 2)
  end
  local code = r.code or (128 + (r.signal or 0))
  if r.signal == 9 then
    -- Killed outright: if the supervisor killed the tree (out of memory, timeout), its status line
    -- may still be on its way; give it a moment so the error can say why.
    for _ = 1, 20 do
      if self.backend.exit_reason then break end
      require("seer.task").sleep(0.05)
    end
  end
  if opts.check ~= false and code ~= 0 then
    if self.backend.exit_reason then
      error(("sandbox.exec: '%s' failed: sandbox exited: %s"):format(shown, self.backend.exit_reason or "?"), 2)
    end
    local how = r.signal and ("was killed by signal %d (%s)"):format(r.signal, r.signal_name or "")
      or ("exited with code %d"):format(code)
    local stderr = r.stderr:gsub("%s+$", "")
    error(("sandbox.exec: '%s' %s%s"):format(shown, how, stderr ~= "" and (": " .. stderr) or ""), 2)
  end
  if opts.check == false then return r.stdout, r.stderr, code end
  return r.stdout
end

--- Write text (or bytes) to a path inside the sandbox, creating parent directories.
function Sandbox:write_file(p, data)
  require_running(self, "write_file")
  self:exec({ "/bin/sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", p }, { stdin = data })
end

--- Read a file inside the sandbox. opts.max_output: the largest file it reads (default 16 MiB).
function Sandbox:read_file(p, opts)
  require_running(self, "read_file")
  local limit = opts and opts.max_output or M.DEFAULT_MAX_OUTPUT
  local r = self:run({ "cat", "--", p }, { max_output = limit })
  if r.truncated then
    error(("sandbox.read_file: '%s' has more than %d bytes; pass { max_output = n } to read more")
      :format(p, limit), 2)
  end
  if r.code ~= 0 then
    error(("sandbox.read_file: cannot read '%s': %s"):format(p, (r.stderr:gsub("%s+$", ""))), 2)
  end
  return r.stdout
end

--- mkdir -p inside the sandbox.
function Sandbox:ensure_dir(p)
  require_running(self, "ensure_dir")
  self:exec({ "mkdir", "-p", "--", p })
end

--- Write a gzip tarball of /workspace to `file` on the host (default: a new file in $TMPDIR),
--- streamed to disk as tar makes it. opts.max_bytes bounds the file (default: the workspace's
--- size plus 1% and 64 MiB, more than any tarball of it takes); past it the snapshot fails and
--- the partial file is removed.
---@return string the tarball's host path
function Sandbox:snapshot(file, opts)
  require_running(self, "snapshot")
  opts = opts or {}
  local limit = opts.max_bytes or math.floor(self.config.disk_bytes * 1.01) + 64 * 1024 * 1024
  file = file or path.join(assert(fs.tmpdir("seer-snapshot")), "workspace.tar.gz")
  local sink, open_err = host_files.open_sink(file)
  if not sink then error("sandbox.snapshot: " .. open_err, 2) end
  local written, failure, p = 0, nil, nil
  local stderr = capped(64 * 1024)
  p = self.backend:spawn({ "tar", "-C", "/workspace", "-czf", "-", "." }, {
    env = env_list(self.env), cwd = "/workspace", on_stderr = stderr.put,
    on_stdout = function(chunk)
      if failure then return end
      written = written + #chunk
      local ok, werr
      if written > limit then
        ok, werr = false, ("the archive passed max_bytes = %d bytes"):format(limit)
      else
        ok, werr = sink:write(chunk)
      end
      if not ok then
        failure = werr
        p:kill(15)
      end
    end,
  })
  local r = p:wait()
  local closed, close_err = sink:close()
  failure = failure or (not closed and close_err) or nil
  if not failure and not r.ok then
    local how = r.signal and ("was killed by signal " .. r.signal) or ("exited with code " .. tostring(r.code))
    failure = ("tar %s: %s"):format(how, (stderr.text():gsub("%s+$", "")))
  end
  if failure then
    os.remove(file)
    error("sandbox.snapshot: " .. failure, 2)
  end
  return file
end

--- Start a new sandbox from `config` with /workspace restored from a snapshot tarball.
--- The archive goes in as a file, never through the host's memory: copied (by cp) into the
--- host-owned directory bound read-only at /run/seer/iface, unpacked there, removed.
function Sandbox.from_snapshot(file, cfg)
  if not fs.is_file(file) then error(("Sandbox.from_snapshot: no snapshot file '%s'"):format(file), 2) end
  local sb = Sandbox.new(cfg)
  sb:start()
  local staged = sb.backend:iface_path("snapshot.tar.gz")
  local r = require("seer.process").run({ cmd = "cp", args = { "--", file, staged } })
  local ok, err = r.ok, r.stderr
  if ok then ok, err = fs.chmod(staged, 420) end -- 0644: readable by the sandbox's uid
  if ok then ok, err = pcall(sb.exec, sb, { "tar", "-C", "/workspace", "-xzf", "/run/seer/iface/snapshot.tar.gz" }) end
  os.remove(staged)
  if not ok then
    sb:terminate()
    error(("Sandbox.from_snapshot: cannot restore '%s': %s"):format(file, tostring(err):gsub("%s+$", "")), 2)
  end
  return sb
end

--- Serve an interface file from the sandbox. opts: expose_as ("library"|"prompt"|"skill"|"mcp"),
--- name, timeout (s to wait for it to load). See seer.sandbox.serving.
function Sandbox:serve(interface_path, opts)
  require_running(self, "serve")
  return serving.serve(self, interface_path, opts or {})
end

--- Kill the whole process tree and remove its host state. Safe to call more than once.
function Sandbox:terminate()
  if self.state == "terminated" then return end
  for _, s in pairs(self.served) do pcall(s.close, s) end
  if self.backend then self.backend:terminate() end
  self.state = "terminated"
end

-- In Seer the scoped variant is the one that serves interfaces; here every sandbox can.
M.ScopedSandbox = setmetatable({}, {
  __call = function(_, cfg) return Sandbox.new(cfg) end,
  __index = Sandbox,
})

return M
