--- seer.kernel: a Jupyter kernel for seer-lua (messaging protocol 5.3). `serve(connection)` binds
--- the sockets named by a connection file and answers requests until shutdown; the transport is
--- C (runtime/jupyter, bound as seer._jupyter), the requests are seer.kernel.handlers.
local jupyter = require "seer._jupyter"
local json = require "seer.json"
local log = require "seer.log"
local message = require "seer.kernel.message"
local handlers = require "seer.kernel.handlers"

local M = {}

local IDLE_TICK_MS = 100 -- how often an idle kernel lets background tasks run

--- Read and check a connection file (JSON with ip, transport, key, *_port, signature_scheme).
--- "-" reads it from stdin to its end (a sandbox's kernel: its key is then in no file).
---@param path string
---@return table|nil connection
---@return string|nil err
function M.read_connection(path)
  local f, err
  if path == "-" then
    f = io.stdin
  else
    f, err = io.open(path, "rb")
  end
  if not f then return nil, "kernel: cannot read the connection file: " .. tostring(err) end
  local text = f:read("a")
  if f ~= io.stdin then f:close() end
  if not text then return nil, "kernel: cannot read the connection file " .. path end
  local ok, c = pcall(json.decode, text)
  if not ok or type(c) ~= "table" then
    return nil, ("kernel: connection file %s is not a JSON object"):format(path)
  end
  local scheme = c.signature_scheme or "hmac-sha256"
  if scheme ~= "hmac-sha256" then
    return nil, ("kernel: signature_scheme %q is not supported; use hmac-sha256"):format(tostring(scheme))
  end
  for _, ch in ipairs({ "shell", "iopub", "stdin", "control", "hb" }) do
    local p = c[ch .. "_port"]
    if p ~= nil and (type(p) ~= "number" or p < 0 or p > 65535 or p % 1 ~= 0) then
      return nil, ("kernel: %s_port in %s must be an integer port"):format(ch, path)
    end
  end
  return c
end

-- Runs ready tasks and due timers without waiting (cells may leave background tasks behind).
local function let_tasks_run()
  local task = require "seer.task"
  local ok, err = pcall(task.run, function() task.sleep(0) end)
  if not ok then log.warn("kernel", "background task: %s", tostring(err)) end
end

--- Serve a kernel on the connection's endpoints until a shutdown_request.
---@param c table a connection (see read_connection)
---@return boolean restart whether the client asked for a restart
function M.serve(c)
  local sock, err = jupyter.open({
    transport = c.transport or "tcp",
    ip = c.ip or "127.0.0.1",
    key = c.key or "",
    shell_port = c.shell_port,
    iopub_port = c.iopub_port,
    stdin_port = c.stdin_port,
    control_port = c.control_port,
    hb_port = c.hb_port,
    connect = c.connect == true,
  })
  if not sock then error(err, 0) end
  local k = { session = message.session(sock), count = 0, history = {}, backlog = {}, running = true }
  M.current = k
  _G.display = function(...) return handlers.display(k, ...) end
  _G.seer = _G.seer or require("seer") -- notebooks start with the library at hand
  k.session:status("starting")
  -- Jupyter front ends name themselves in JPY_PARENT_PID: a kernel whose parent died stops.
  local parent = tonumber(os.getenv("JPY_PARENT_PID") or "")
  while k.running do
    local msg = table.remove(k.backlog, 1) or k.session:recv(IDLE_TICK_MS)
    if msg then
      handlers.dispatch(k, msg)
    else
      let_tasks_run()
      if parent and not jupyter.process_alive(parent) then
        log.warn("kernel", "the front end (pid %d) is gone; stopping", parent)
        k.running = false
      end
    end
  end
  M.current = nil
  sock:close()
  return false
end

return M
