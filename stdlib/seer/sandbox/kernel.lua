--- seer.sandbox.kernel: a notebook sandbox's Jupyter kernel (`SandboxConfig{execution_mode =
--- "notebook"}`). On this machine, `seer-lua kernel --connect` runs inside the sandbox and its
--- sockets connect to a broker (runtime/jupyter/broker.c) that the host binds on ipc sockets in the
--- sandbox's interface directory (host-owned, read-only inside at /run/seer/iface); host clients
--- (the notebook session, its MCP process, a Jupyter Notebook server, jupyter_client) connect to
--- the broker's other side in a host-only directory. The host so never connects to a path the
--- sandbox can replace (with a symlink to some other socket), and the sandbox keeps its own
--- network namespace. A backend on another machine (`stream_path`, Slurm) instead relays the bytes
--- of each connection to the kernel's own sockets in /run/seer through host-only sockets.
---
--- Who may reach what: the connection's HMAC key lets whoever holds it run code in the kernel, so
--- it is never in a file another user can read. The kernel reads its connection on its stdin (no
--- file inside); the host's copy is created 0600 in a 0700 directory. The broker's kernel-side
--- sockets are in the sandbox's private interface directory (0700, the sandbox's uid's), its
--- client side in a 0700 host directory.
local fs = require "seer.fs"
local json = require "seer.json"
local jupyter = require "seer._jupyter"
local path = require "seer.path"
local message = require "seer.kernel.message"

local M = {}

local CHANNELS = { "shell", "iopub", "stdin", "control", "hb" }
local STDERR_KEEP = 64 * 1024

local PRIVATE = tonumber("700", 8)

-- The host-only directory of the kernel's host side (0700 from its creation).
local function host_dir(backend)
  local dir = path.join(backend.state, "kernel")
  assert(fs.mkdir(dir, PRIVATE))
  if fs.kind(dir) ~= "directory" then error("notebook sandbox: " .. dir .. " is not a directory", 0) end
  assert(fs.chmod(dir, PRIVATE)) -- an existing directory keeps its mode through mkdir
  return dir
end

-- The host's side: a broker in a host-only directory (this machine), or the backend's relays.
-- Returns the host's ip prefix, the kernel's, and whether the kernel connects.
local function endpoints(backend)
  if backend.stream_path then
    local p
    for i = 1, #CHANNELS do
      local name = "kernel-" .. i
      p = backend:stream_path(name)
      p = p:sub(1, #p - #name) .. "kernel"
    end
    return p, "/run/seer/kernel", false
  end
  local front_dir = host_dir(backend)
  local back = backend:private_iface_path("kernel")
  if not back then error("notebook sandbox: this sandbox backend has no private interface directory", 0) end
  local broker, err = jupyter.broker(path.join(front_dir, "kernel"), back)
  if not broker then error("notebook sandbox: " .. err, 0) end
  -- The broker outlives the kernel's process until the sandbox ends.
  backend:on_exit(function() broker:close() end)
  return path.join(front_dir, "kernel"), "/run/seer/iface/private/kernel", true
end

--- Start the kernel in a running sandbox. Returns {connection = host-side connection table,
--- connection_file = its host path, process = the kernel's process, stderr = fun(): string}.
function M.start(sandbox)
  local backend = sandbox.backend
  if not backend.has_interpreter then
    error("notebook sandbox: no seer-lua interpreter in the sandbox to run the kernel", 0)
  end
  local key = message.random_hex(32)
  local host_ip, inner_ip, connect = endpoints(backend)
  local inner = { transport = "ipc", ip = inner_ip, key = key, signature_scheme = "hmac-sha256",
                  kernel_name = "seer-lua" }
  local host = { transport = "ipc", ip = host_ip, key = key, signature_scheme = "hmac-sha256",
                 kernel_name = "seer-lua" }
  for i, ch in ipairs(CHANNELS) do
    inner[ch .. "_port"] = i
    host[ch .. "_port"] = i
  end
  -- The host's copy is created 0600 in a host-only directory; the kernel's goes to its stdin.
  local host_file = path.join(host_dir(backend), "connection.json")
  assert(fs.write(host_file, json.encode(host), tonumber("600", 8)))
  local stderr, stderr_len = {}, 0
  local listeners = {}
  local argv = { "/.seer/seer-lua", "kernel", "-f", "-" }
  if connect then table.insert(argv, 3, "--connect") end
  local p = backend:spawn(argv, {
    env = sandbox.env, stdin = true, on_stdout = function() end,
    on_exit = function() for _, fn in ipairs(listeners) do pcall(fn) end end,
    on_stderr = function(chunk)
      if stderr_len < STDERR_KEEP then
        stderr[#stderr + 1] = chunk:sub(1, STDERR_KEEP - stderr_len)
        stderr_len = stderr_len + #chunk
      end
    end,
  })
  p:write(json.encode(inner))
  p:close_stdin()
  return {
    connection = host, connection_file = host_file, process = p,
    stderr = function() return table.concat(stderr) end,
    on_exit = function(fn) listeners[#listeners + 1] = fn end,
  }
end

return M
