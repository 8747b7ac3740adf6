--- seer.process: child processes on the event loop. `run` collects the output; `spawn` returns a
--- Process whose output can be streamed (`read`, `lines`, or `on_stdout`/`on_stderr` callbacks) and
--- whose stdin can be written. Waiting yields the calling task (or drives the loop outside one).
local core = require "seer.core"
local task = require "seer.task"

local M = {}

---@class seer.Process
---@field pid integer
local Process = {}
Process.__index = Process

local OPTIONS = {
  cmd = true, args = true, env = true, cwd = true, stdin = true, timeout = true,
  stream = true, on_stdout = true, on_stderr = true, kill_signal = true, on_exit = true,
}

local function check_opts(opts)
  if type(opts) ~= "table" then error("seer.process: expected an options table", 3) end
  for k in pairs(opts) do
    if not OPTIONS[k] then
      local names = {}
      for n in pairs(OPTIONS) do names[#names + 1] = n end
      table.sort(names)
      error(("seer.process: unknown option '%s' (valid: %s)"):format(tostring(k),
        table.concat(names, ", ")), 3)
    end
  end
  local cmd = opts.cmd or opts[1]
  if type(cmd) ~= "string" or cmd == "" then error("seer.process: 'cmd' must be a program name", 3) end
  return cmd
end

local function env_list(env)
  if env == nil then return nil end
  if type(env) ~= "table" then error("seer.process: 'env' must be a table of NAME = value", 3) end
  local list = {}
  for k, v in pairs(env) do
    if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
      error("seer.process: 'env' entries must be NAME = string", 3)
    end
    list[#list + 1] = k .. "=" .. tostring(v)
  end
  table.sort(list)
  return list
end

--- Start a process.
--- Options: `cmd` (program, looked up in PATH), `args` (list), `env` (table; replaces the inherited
--- environment when given), `cwd`, `stdin` (a string to feed, or true for a pipe you `write`),
--- `timeout` (seconds; then the process is killed and `timed_out` is set), `stream` (true: read the
--- output with `read`/`lines` instead of collecting it), `on_stdout`/`on_stderr` (chunk callbacks),
--- `on_exit` (called with the process when it exits, before its output may have ended; must not
--- yield).
---@return seer.Process
function M.spawn(opts)
  local cmd = check_opts(opts)
  local args = opts.args or {}
  local argv = { cmd }
  for i = 1, #args do argv[i + 1] = tostring(args[i]) end
  local env = env_list(opts.env)
  return M.attach(opts, function(on_event)
    return core.spawn({ file = cmd, argv = argv, env = env, cwd = opts.cwd,
                        stdin_pipe = opts.stdin ~= nil and opts.stdin ~= false }, on_event)
  end, 3)
end

--- A Process over any handle: `start(on_event)` starts the process and returns its handle (with
--- pid, write, close_stdin, close_output, kill and keep_alive, as seer.core.spawn's), or nil and an
--- error; the handle reports on_event("stdout"|"stderr", chunk or nil at the end) and
--- on_event("exit", code, signal). A sandbox backend whose processes run on another machine uses
--- this so that they are Processes like local ones. `opts` as for spawn, less cmd, args and env.
---@return seer.Process
function M.attach(opts, start, level)
  local self = setmetatable({
    cmd = opts.cmd or opts[1], out = {}, err = {}, open_streams = 2, exited = false, stream = opts.stream,
    on_stdout = opts.on_stdout, on_stderr = opts.on_stderr, on_exit = opts.on_exit, waiters = {},
    streams_open = { stdout = true, stderr = true },
  }, Process)
  if self.stream then self.chunks = { stdout = task.channel(), stderr = task.channel() } end
  local handle, err = start(function(event, a, b) self:_event(event, a, b) end)
  if not handle then error("seer.process: " .. tostring(err), level or 2) end
  self.handle = handle
  self.pid = handle:pid()
  if type(opts.stdin) == "string" then
    handle:write(opts.stdin)
    handle:close_stdin()
  end
  if opts.timeout then
    self.cancel_timeout = task.call_later(opts.timeout, function()
      self.timed_out = true
      self.handle:kill(opts.kill_signal or 9)
    end)
  end
  return self
end

function Process:_event(event, a, b)
  if event == "exit" then
    self.exited = true
    self.code, self.signal = a, b
    if self.cancel_timeout then self.cancel_timeout() end
    if self.on_exit then self.on_exit(self) end
  else
    if a == nil then
      if not self.streams_open[event] then return end
      self.streams_open[event] = false
      self.open_streams = self.open_streams - 1
      if self.chunks then self.chunks[event]:close() end
    else
      local cb = event == "stdout" and self.on_stdout or self.on_stderr
      if cb then
        cb(a)
      elseif self.chunks then
        self.chunks[event]:put(a)
      else
        local buf = event == "stdout" and self.out or self.err
        buf[#buf + 1] = a
      end
    end
  end
  if self.exited and self.open_streams == 0 then
    local waiters = self.waiters
    self.waiters = {}
    for i = 1, #waiters do waiters[i]() end
  end
end

--- Stop reading stdout and stderr and end them as if at end of file, for output that something
--- other than the process (one it handed the pipe to) keeps open after it exited.
function Process:close_output()
  self.handle:close_output()
  for _, name in ipairs({ "stdout", "stderr" }) do
    if self.streams_open[name] then self:_event(name, nil) end
  end
end

--- Write to the process's stdin (spawned with `stdin = true`).
function Process:write(data) self.handle:write(data) end

--- Close stdin so the process sees end of input.
function Process:close_stdin() self.handle:close_stdin() end

--- Whether the process keeps the program running (default true). A helper that lives as long as
--- the program (a session's sandbox) passes false, so that a script ends when its work is done.
function Process:keep_alive(on) self.handle:keep_alive(on) end

--- Send a signal (a number or a name such as "TERM"; default TERM).
function Process:kill(sig)
  if type(sig) == "string" then
    local n = core.signal_number(sig)
    if not n then error("seer.process: unknown signal '" .. sig .. "'", 2) end
    sig = n
  end
  self.handle:kill(sig or 15)
end

--- In stream mode: the next chunk of "stdout" (default) or "stderr", or nil at end of stream.
function Process:read(which)
  if not self.chunks then error("seer.process: read() needs the process spawned with stream = true", 2) end
  return self.chunks[which or "stdout"]:get()
end

--- In stream mode: iterate over the lines of stdout (or stderr).
function Process:lines(which)
  local pending = ""
  local done = false
  return function()
    while true do
      local nl = pending:find("\n", 1, true)
      if nl then
        local line = pending:sub(1, nl - 1)
        pending = pending:sub(nl + 1)
        return line
      end
      if done then
        if pending ~= "" then
          local line = pending
          pending = ""
          return line
        end
        return nil
      end
      local chunk = self:read(which)
      if chunk then pending = pending .. chunk else done = true end
    end
  end
end

---@class seer.ProcessResult
---@field code integer|nil exit status (nil when killed by a signal)
---@field signal integer|nil terminating signal number
---@field signal_name string|nil
---@field stdout string collected output ("" in stream mode)
---@field stderr string
---@field timed_out boolean
---@field ok boolean exited with status 0

--- Wait for the process to exit and its output to end.
---@return seer.ProcessResult
function Process:wait()
  if not (self.exited and self.open_streams == 0) then
    task.await(function(done)
      local waiters = self.waiters
      waiters[#waiters + 1] = done
      return function()
        for i = #waiters, 1, -1 do if waiters[i] == done then table.remove(waiters, i) end end
      end
    end)
  end
  local sig = self.signal ~= 0 and self.signal or nil
  return {
    code = not sig and self.code or nil,
    signal = sig,
    signal_name = sig and core.signal_name(sig) or nil,
    stdout = table.concat(self.out),
    stderr = table.concat(self.err),
    timed_out = self.timed_out == true,
    ok = not sig and self.code == 0,
  }
end

--- Spawn and wait: `seer.process.run{cmd = "ls", args = {"-l"}}.stdout`.
---@return seer.ProcessResult
function M.run(opts)
  return M.spawn(opts):wait()
end

return M
