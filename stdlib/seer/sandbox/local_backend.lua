--- seer.sandbox.local_backend: the "local" sandbox backend. A sandbox is a process tree in new
--- namespaces, started by the helper executable `seer-sandbox init` (runtime/sandbox/init.c) and
--- entered by `seer-sandbox exec` (runtime/sandbox/exec.c). This module builds the spec those modes
--- read, tracks the supervisor, and turns its status lines into events and error messages.
---
--- Host state directory (0700, the host's): spec.json and control.sock (never visible inside),
--- root/ (the sandbox's root mount point), etc/ (its passwd, hosts...), iface/ (interface copies the
--- host writes; bound read-only at /run/seer/iface), run/ (the sandbox's own, bound writable at
--- /run/seer; the host never writes there), and .seer-owner (seer.sandbox.state_dirs). /workspace
--- is a tmpfs of the sandbox's own (`disk` sized), not on the host. The helpers start with an
--- empty environment: declared env and secrets go to the commands run inside, never to pid 1.
local core = require "seer.core"
local fs = require "seer.fs"
local json = require "seer.json"
local path = require "seer.path"
local process = require "seer.process"
local task = require "seer.task"
local log = require "seer.log"
local state_dirs = require "seer.sandbox.state_dirs"
local models = require "seer.sandbox.models"
local gpu = require "seer.sandbox.gpu"

local M = {}

---@class seer.LocalSandbox
local Backend = {}
Backend.__index = Backend

-- Host files the runtime and ordinary tools need, bound read-only when present.
local SYSTEM_FILES = {
  "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/ssl",
  "/etc/ca-certificates", "/etc/localtime", "/etc/nsswitch.conf", "/etc/mime.types",
}
-- Top-level directories that are symlinks into /usr on merged-/usr systems, or directories.
local TOP_DIRS = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" }

local function system_binds_and_links()
  local binds, links, dirs = { { src = "/usr", dst = "/usr" } }, {}, { "/usr" }
  for _, d in ipairs(TOP_DIRS) do
    local p = "/" .. d
    local target = fs.readlink(p)
    if target then
      links[#links + 1] = { path = p, target = target }
    elseif fs.is_dir(p) then
      binds[#binds + 1] = { src = p, dst = p }
      dirs[#dirs + 1] = p
    end
  end
  for _, f in ipairs(SYSTEM_FILES) do
    binds[#binds + 1] = { src = f, dst = f, optional = true }
  end
  return binds, links, dirs
end

--- MODEL_<SAN>_PATH, Seer's variable name for a model's path: upper case, non-alphanumerics as _.
--- The seer-lua interpreter to bind into the sandbox (for `serve`): this program when it is
--- seer-lua, else the one installed beside the helper. nil when there is none.
local function interpreter(helper)
  local exe = core.exe_path()
  if path.basename(exe) == "seer-lua" then return exe end
  local dir = path.dirname(helper)
  for _, candidate in ipairs({ path.join(dir, "seer-lua"), path.join(dir, "../../bin/seer-lua") }) do
    if fs.is_file(candidate) then return candidate end
  end
  return nil
end

---@param opts table { models = {ResolvedModel...}, memory_bytes, pids, nofile, cpus, timeout,
---                    cpu_time, tmp_bytes, disk_bytes, network, env = {K=V}, stdlib_dir,
---                    workspace_dir, binds, keep_alive, iface_dir, gpu_count }
--- A session sandbox (seer.session.sandboxed) passes workspace_dir (a host directory bound
--- read-write at its own path), binds (more {src, dst, ro}: its interface sockets) and
--- keep_alive = false (an idle sandbox does not keep the program running). gpu_count > 0 binds
--- that many of the host's GPUs and its driver libraries (seer.sandbox.gpu), or fails naming what
--- the host lacks.
---@return seer.LocalSandbox
function M.start(opts)
  local helper, herr = core.sandbox_helper()
  if not helper then error(herr, 0) end
  local binds, links, system_dirs = system_binds_and_links()
  -- Before anything is created: a host without the GPUs asked for fails here, leaving nothing.
  local devices, gpu_env = {}, nil
  if (opts.gpu_count or 0) > 0 then
    local gpu_binds
    devices, gpu_binds, gpu_env = gpu.mounts(opts.gpu_count, system_dirs)
    for _, b in ipairs(gpu_binds) do binds[#binds + 1] = b end
  end
  local state = state_dirs.create("seer-sandbox")
  local self = setmetatable({
    state = state, root = path.join(state, "root"), run_dir = path.join(state, "run"),
    iface_dir = opts.iface_dir or path.join(state, "iface"),
    control = path.join(state, "control.sock"), alive = false, exit_reason = nil,
    exit_listeners = {}, opts = opts, exe = helper, gpu_env = gpu_env, pings_sent = 0, pings_answered = 0,
  }, Backend)
  for _, d in ipairs({ self.root, self.run_dir, path.join(state, "etc") }) do
    assert(fs.mkdir(d, 448)) -- 0700
  end
  -- 0755: readable by the sandbox's uid, writable by the host. The slurm backend passes one in its
  -- job directory, which the submitting host writes.
  if not opts.iface_dir then
    assert(fs.mkdir(self.iface_dir, 493))
    -- iface/private (0700): what only the sandbox may reach, such as the notebook kernel's broker
    -- sockets. The supervisor hands it to the sandbox's uid with the writable directories; the
    -- read-only bind keeps the sandbox from changing it.
    self.private_dir = path.join(self.iface_dir, "private")
    assert(fs.mkdir(self.private_dir, 448))
  end
  -- A passwd and group of its own, so tools that look up the current user work without seeing
  -- the host's accounts.
  fs.write(path.join(state, "etc/passwd"), "root:x:0:0:root:/workspace:/bin/sh\n")
  fs.write(path.join(state, "etc/group"), "root:x:0:\n")
  fs.write(path.join(state, "etc/hostname"), "sandbox\n")
  fs.write(path.join(state, "etc/hosts"), "127.0.0.1 localhost sandbox\n::1 localhost\n")

  for _, f in ipairs({ "passwd", "group", "hostname", "hosts" }) do
    binds[#binds + 1] = { src = path.join(state, "etc", f), dst = "/etc/" .. f }
  end
  local lua_exe = interpreter(helper)
  if lua_exe then binds[#binds + 1] = { src = lua_exe, dst = "/.seer/seer-lua" } end
  self.has_interpreter = lua_exe ~= nil
  if opts.stdlib_dir then binds[#binds + 1] = { src = opts.stdlib_dir, dst = "/.seer/stdlib" } end
  binds[#binds + 1] = { src = self.run_dir, dst = "/run/seer", ro = false }
  -- After /run/seer: a read-only mount the sandbox can neither write into nor rename nor replace.
  binds[#binds + 1] = { src = self.iface_dir, dst = "/run/seer/iface" }
  if opts.workspace_dir then binds[#binds + 1] = { src = opts.workspace_dir, dst = opts.workspace_dir, ro = false } end
  for _, b in ipairs(opts.binds or {}) do binds[#binds + 1] = b end
  local model_binds, model_links
  model_binds, model_links, self.model_list, self.model_env, self.model_cleanup =
    models.mounts(opts.models or {}, state)
  for _, b in ipairs(model_binds) do binds[#binds + 1] = b end
  for _, l in ipairs(model_links) do links[#links + 1] = l end
  self.models = opts.models or {}
  -- Handed to the sandbox's uid when root starts it (the private dir stays read-only inside).
  local writable = { self.run_dir }
  if self.private_dir then writable[#writable + 1] = self.private_dir end
  if opts.workspace_dir then writable[#writable + 1] = opts.workspace_dir end
  local spec = {
    root = self.root, control = self.control, hostname = "sandbox", network = opts.network == true,
    memory_bytes = opts.memory_bytes or 0, pids = opts.pids or 0, nofile = opts.nofile or 0,
    cpus = opts.cpus or 0, timeout = opts.timeout or 0,
    tmp_bytes = opts.tmp_bytes or 0, disk_bytes = opts.disk_bytes or 0,
    binds = binds, links = links, devices = devices, writable = writable,
  }
  local spec_path = path.join(state, "spec.json")
  assert(fs.write(spec_path, json.encode(spec)))

  -- An empty environment: pid 1 and everything that reads /proc/1/environ see none of the host's.
  self.init = process.spawn({ cmd = self.exe, args = { "init", spec_path }, env = {}, stdin = true,
                              stream = true })
  local lines = self.init:lines()
  local err_lines = {}
  while true do
    local line = lines()
    if not line then break end
    local pid = line:match("^pid (%d+)$")
    if pid then self.pid = pid end
    if line == "ready" then break end
    local e = line:match("^error (.*)$")
    if e then err_lines[#err_lines + 1] = e end
  end
  if not (self.pid and not err_lines[1]) then
    local stderr = {}
    for chunk in function() return self.init:read("stderr") end do stderr[#stderr + 1] = chunk end
    self.init:wait()
    state_dirs.release(state)
    error(("sandbox failed to start: %s"):format(
      err_lines[1] or table.concat(stderr):gsub("%s+$", "") or "the supervisor exited"), 0)
  end
  self.alive = true
  if opts.keep_alive == false then self.init:keep_alive(false) end
  -- Watch the supervisor for the rest of its life: its last line says why it ended.
  self.watcher = task.spawn(function()
    for line in lines do
      local reason = line:match("^exit (.*)$")
      if reason then self.exit_reason = reason end
      if line == "alive" then self.pings_answered = self.pings_answered + 1 end
    end
    local r = self.init:wait()
    self.alive = false
    if not self.exit_reason then
      self.exit_reason = r.signal and ("killed by signal " .. r.signal) or ("exited with status " .. tostring(r.code))
    end
    log.debug("sandbox", "sandbox %s ended: %s", self.pid, self.exit_reason)
    for _, fn in ipairs(self.exit_listeners) do pcall(fn, self.exit_reason) end
  end)
  self.watcher.name = "sandbox-watch"
  return self
end

--- Ask the supervisor whether the sandbox lives on, e.g. after one of its processes ended: it
--- answers unless it is ending the sandbox, whose exit_reason then comes instead. Returns a
--- ticket for answered(); nil when the sandbox has ended (or is ending).
---@return integer|nil ticket
function Backend:ping()
  if not self.alive or self.terminated then return nil end
  -- A supervisor that just ended (its exit not seen yet) has closed the pipe: no ticket then.
  if not pcall(self.init.write, self.init, "p") then return nil end
  self.pings_sent = self.pings_sent + 1
  return self.pings_sent
end

--- Whether the supervisor answered the ping with this ticket: the sandbox was alive after it.
---@param ticket integer
---@return boolean
function Backend:answered(ticket) return self.pings_answered >= ticket end

--- Call fn(reason) when the sandbox ends.
function Backend:on_exit(fn)
  self.exit_listeners[#self.exit_listeners + 1] = fn
end

--- Start argv inside the sandbox. opts: env (table NAME = value: the command's whole environment),
--- cwd, stdin, stream, on_stdout, on_stderr, on_exit, timeout.
---@return seer.Process
function Backend:spawn(argv, opts)
  if not self.alive then error("sandbox is not running (" .. (self.exit_reason or "terminated") .. ")", 3) end
  local o = self.opts
  local args = { "exec", self.control, opts.cwd or "/workspace", tostring(o.nofile or 0),
                 tostring(o.pids or 0), tostring(o.cpus or 0), tostring(o.cpu_time or 0), "--" }
  for i = 1, #argv do args[#args + 1] = argv[i] end
  -- On timeout, SIGTERM: `seer-sandbox exec` then kills the command's pid namespace, which holds
  -- everything it started.
  return process.spawn({ cmd = self.exe, args = args, env = opts.env or {}, stdin = opts.stdin,
                         stream = opts.stream, on_stdout = opts.on_stdout, on_stderr = opts.on_stderr,
                         on_exit = opts.on_exit, timeout = opts.timeout, kill_signal = 15 })
end

--- Host-side path of a file in /run/seer (where the sandbox's RPC sockets live). The sandbox owns
--- that directory: the host never writes there, and checks what it finds (no symlinks).
function Backend:run_path(rel) return path.join(self.run_dir, rel) end

--- Host-side path of an interface copy, seen inside as /run/seer/iface/<name> (read-only there).
function Backend:iface_path(name) return path.join(self.iface_dir, name) end

--- Host-side path in the sandbox's private interface directory (/run/seer/iface/private inside,
--- read-only there): only the sandbox's uid (and root) can reach what is in it. Nil when this
--- backend has none (an iface_dir given by the caller, as the Slurm node's).
function Backend:private_iface_path(name) return self.private_dir and path.join(self.private_dir, name) end

--- End the whole tree (idempotent) and remove the host state directory.
function Backend:terminate()
  if self.terminated then return end
  self.terminated = true
  if self.init then
    pcall(self.init.close_stdin, self.init)
    local ok = pcall(task.timeout, 3, function() self.init:wait() end)
    if not ok then
      self.init:kill(9)
      pcall(task.timeout, 3, function() self.init:wait() end)
    end
  end
  if self.watcher and not self.watcher:done() then pcall(task.timeout, 1, function() self.watcher:wait() end) end
  self.alive = false
  self.exit_reason = self.exit_reason or "terminated"
  for _, d in ipairs(self.model_cleanup or {}) do fs.remove(d) end
  local ok, err = state_dirs.release(self.state)
  if not ok then log.warn("sandbox", "%s", err) end
end

return M
