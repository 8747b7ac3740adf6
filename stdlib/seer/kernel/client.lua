--- seer.kernel.client: a Jupyter client for one kernel (what a notebook session uses to drive the
--- kernel in its sandbox): execute with the cell's outputs gathered as nbformat outputs, interrupt,
--- shutdown. Waiting polls the sockets in short slices and lets the event loop run between them,
--- so a kernel that dies mid-cell (or its sandbox) is reported within a second.
local jupyter = require "seer._jupyter"
local json = require "seer.json"
local task = require "seer.task"
local message = require "seer.kernel.message"

local M = {}

local SLICE_MS = 50
-- Seconds between kernel_info requests in wait_ready: often for the first second (a kernel
-- starts in tens of ms), then seldom (one that takes longer is loading or loaded).
local RETRY_SOON, RETRY_LATER, SOON_FOR = 0.02, 0.25, 1

---@class seer.kernel.Client
local Client = {}
Client.__index = Client

--- Connect to a kernel. `opts.dead()` returns a reason once the kernel can no longer answer
--- (its process or sandbox ended), else nil.
---@param conn table a connection (ip, transport, key, *_port)
---@param opts table? {dead = fun(): string|nil}
---@return seer.kernel.Client
function M.connect(conn, opts)
  local sock, err = jupyter.open({
    client = true, transport = conn.transport or "tcp", ip = conn.ip, key = conn.key or "",
    shell_port = conn.shell_port, iopub_port = conn.iopub_port, stdin_port = conn.stdin_port,
    control_port = conn.control_port, hb_port = conn.hb_port,
  })
  if not sock then error(err, 2) end
  return setmetatable({ sock = sock, session = message.session(sock), dead = (opts or {}).dead }, Client)
end

-- Let the loop run (process exits, timers) between two polls.
local function pump()
  if task.current() then task.sleep(0) else task.run(function() task.sleep(0) end) end
end

function Client:_check()
  local why = self.dead and self.dead()
  if why then error("kernel died: " .. why, 0) end
end

-- The next message, or nil after one slice (or `wait` seconds, if shorter).
function Client:_recv(wait)
  local ms = wait and math.max(1, math.min(SLICE_MS, math.floor(wait * 1000))) or SLICE_MS
  local m = self.session:recv(ms)
  if m and m.parent_raw then
    local ok, p = pcall(json.decode, m.parent_raw)
    m.parent = ok and type(p) == "table" and p or {}
  end
  return m
end

function Client:_request(channel, msg_type, content)
  local hdr = self.session:header(msg_type)
  local id = json.decode(hdr).msg_id
  local ok, err = self.sock:send(channel, {}, hdr, "{}", "{}", json.encode(content))
  if not ok then error("kernel: " .. tostring(err), 0) end
  return id
end

--- Wait until the kernel answers (and iopub delivers: a SUB socket misses what is published
--- before its subscription arrives, so kernel_info is repeated until its status shows up). A
--- request sent before the kernel is connected is lost (a sandbox's broker drops it), so the
--- repeats come soon (every 20 ms for a second, then every 250 ms), and an answer to any counts.
---@param timeout number seconds
function Client:wait_ready(timeout)
  local core = require "seer.core"
  local deadline = core.now() + (timeout or 30)
  local ours = {}
  local soon_until = core.now() + SOON_FOR
  local function ask()
    ours[self:_request("shell", "kernel_info_request", json.object({}))] = true
    return core.now()
  end
  local last_sent = ask()
  local replied, published = false, false
  while not (replied and published) do
    self:_check()
    if core.now() > deadline then error("kernel: no answer to kernel_info within the timeout", 0) end
    local interval = core.now() < soon_until and RETRY_SOON or RETRY_LATER
    local m = self:_recv(interval)
    if m and m.parent and ours[m.parent.msg_id] then
      if m.channel == "shell" then replied = true else published = true end
    elseif not m then
      pump()
    end
    if not (replied and published) and core.now() - last_sent >= interval then last_sent = ask() end
  end
  return self
end

-- nbformat outputs from iopub messages; consecutive stream text of one name is merged.
local function add_output(outputs, t, c)
  if t == "stream" then
    local last = outputs[#outputs]
    if last and last.output_type == "stream" and last.name == c.name then
      last.text = last.text .. c.text
    else
      outputs[#outputs + 1] = { output_type = "stream", name = c.name, text = c.text }
    end
  elseif t == "execute_result" then
    outputs[#outputs + 1] = { output_type = "execute_result", execution_count = c.execution_count,
                              data = c.data, metadata = c.metadata or json.object({}) }
  elseif t == "display_data" then
    outputs[#outputs + 1] = { output_type = "display_data", data = c.data, metadata = c.metadata or json.object({}) }
  elseif t == "error" then
    outputs[#outputs + 1] = { output_type = "error", ename = c.ename, evalue = c.evalue,
                              traceback = json.array(c.traceback or {}) }
  end
end

--- Run code; returns {status = "ok"|"error"|"aborted", execution_count, outputs (nbformat),
--- error = {ename, evalue, traceback} | nil}. Raises "kernel died: ..." if the kernel goes away.
---@param code string
---@param opts table? {silent = bool, timeout = seconds}
function Client:execute(code, opts)
  opts = opts or {}
  local id = self:_request("shell", "execute_request", {
    code = code, silent = opts.silent == true, store_history = not opts.silent,
    user_expressions = json.object({}), allow_stdin = false, stop_on_error = not opts.silent,
  })
  local outputs, reply, idle = {}, nil, false
  local core = require "seer.core"
  local deadline = opts.timeout and core.now() + opts.timeout
  while not (reply and idle) do
    self:_check()
    if deadline and core.now() > deadline then
      self:interrupt()
      deadline = nil
    end
    local m = self:_recv()
    if m and m.parent and m.parent.msg_id == id then
      local t = m.header.msg_type
      if m.channel == "shell" then
        reply = m.content
      elseif t == "status" then
        idle = m.content.execution_state == "idle"
      else
        add_output(outputs, t, m.content)
      end
    elseif not m then
      pump()
    end
  end
  local r = { status = reply.status, execution_count = reply.execution_count, outputs = outputs }
  if reply.status == "error" then
    r.error = { ename = reply.ename, evalue = reply.evalue, traceback = reply.traceback }
  end
  return r
end

--- Interrupt the running cell (interrupt_request on the control channel).
function Client:interrupt() self:_request("control", "interrupt_request", json.object({})) end

--- Ask the kernel to stop; waits up to `timeout` seconds for its reply.
function Client:shutdown(timeout)
  local id = self:_request("control", "shutdown_request", { restart = false })
  local deadline = require("seer.core").now() + (timeout or 2)
  while require("seer.core").now() < deadline do
    if self.dead and self.dead() then return end
    local m = self:_recv()
    if m and m.channel == "control" and m.parent and m.parent.msg_id == id then return end
    if not m then pump() end
  end
end

function Client:close() self.sock:close() end

return M
