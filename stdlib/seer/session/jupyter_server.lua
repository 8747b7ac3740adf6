--- seer.session.jupyter_server: Debian's Jupyter Notebook server (`jupyter-notebook`, package
--- jupyter-notebook) for a notebook session, so a researcher's browser opens the live notebook.
--- It listens on loopback with a random token, serves the session's workspace directory, and its
--- "seer-lua" kernel is the sandbox's own: a private kernelspec and KernelManager settings point
--- the server's kernel connections at the sandbox kernel's broker (seer.sandbox.kernel) with its
--- key, and the process the server "starts" (`seer-lua kernel attach`) only holds that place.
--- Everything the server reads or writes besides the workspace (config, kernelspec, key, runtime
--- files) lives in a host-only directory.
local fs = require "seer.fs"
local json = require "seer.json"
local path = require "seer.path"
local core = require "seer.core"
local task = require "seer.task"
local message = require "seer.kernel.message"

local M = {}

M.EXE = "/usr/bin/jupyter-notebook"
M.START_TIMEOUT = 120 -- seconds to wait for the server's first "running at" line (a generous bound)

local CHANNELS = { "shell", "iopub", "stdin", "control", "hb" }

local PRIVATE_DIR, PRIVATE_FILE = tonumber("700", 8), tonumber("600", 8)

-- The kernel's key and the server's token: created 0600, never readable by anyone else.
local function write_private(p, data) assert(fs.write(p, data, PRIVATE_FILE)) end

--- Start the server. `opts`: dir (a new host-only directory for its files), workspace_dir,
--- notebook_name, connection (the host side of the sandbox kernel's connection). Returns {url,
--- process, token}, or nil and why not (e.g. the server is not installed).
---@param opts table
---@return table|nil server
---@return string|nil why
function M.start(opts)
  if not fs.exists(M.EXE) then
    return nil, "jupyter-notebook is not installed (Debian: apt-get install jupyter-notebook)"
  end
  local dir, conn = opts.dir, opts.connection
  assert(fs.mkdir(dir, PRIVATE_DIR))
  assert(fs.chmod(dir, PRIVATE_DIR)) -- an existing directory keeps its mode through mkdir
  for _, sub in ipairs({ "config", "data/kernels/seer-lua", "runtime" }) do
    assert(fs.mkdir(path.join(dir, sub), PRIVATE_DIR))
  end
  local token = message.random_hex(24)
  local keyfile = path.join(dir, "kernel.key")
  write_private(keyfile, conn.key)
  local km = { transport = conn.transport, ip = conn.ip }
  for _, ch in ipairs(CHANNELS) do km[ch .. "_port"] = conn[ch .. "_port"] end
  write_private(path.join(dir, "config", "jupyter_notebook_config.json"), json.encode({
    NotebookApp = { ip = "127.0.0.1", port = 20000 + math.random(0, 30000), port_retries = 50, token = token,
                    password = "", open_browser = false, allow_root = true, notebook_dir = opts.workspace_dir,
                    quit_button = false, terminals_enabled = false },
    -- Only the sandbox's kernel: no host-side kernels (ipykernel) or terminals in this server.
    KernelSpecManager = { allowed_kernelspecs = json.array({ "seer-lua" }), ensure_native_kernel = false },
    KernelManager = km,
    Session = { keyfile = keyfile },
  }))
  write_private(path.join(dir, "data", "kernels", "seer-lua", "kernel.json"), json.encode({
    argv = json.array({ core.exe_path(), "kernel", "attach", "-f", "{connection_file}" }),
    display_name = "seer-lua (sandbox)", language = "lua", interrupt_mode = "message",
  }))
  local url, log = nil, {}
  local p = require("seer.process").spawn({
    cmd = M.EXE, args = { "--no-browser" },
    env = { PATH = os.getenv("PATH") or "/usr/bin:/bin", LANG = "C.UTF-8", HOME = dir,
            JUPYTER_CONFIG_DIR = path.join(dir, "config"), JUPYTER_PATH = path.join(dir, "data"),
            JUPYTER_DATA_DIR = path.join(dir, "data"), JUPYTER_RUNTIME_DIR = path.join(dir, "runtime") },
    on_stdout = function() end,
    on_stderr = function(chunk)
      if #log < 64 then log[#log + 1] = chunk end
      local port = url == nil and chunk:match("http://127%.0%.0%.1:(%d+)/")
      if port then
        url = ("http://127.0.0.1:%s/notebooks/%s?token=%s"):format(port, opts.notebook_name, token)
      end
    end,
  })
  p:keep_alive(false)
  local deadline = core.now() + M.START_TIMEOUT
  while not url and not p.exited and core.now() < deadline do
    if task.current() then task.sleep(0.05) else task.run(function() task.sleep(0.05) end) end
  end
  if not url then
    pcall(p.kill, p, 9)
    return nil, ("jupyter-notebook did not start: %s"):format(table.concat(log):sub(-600))
  end
  return { url = url, process = p, token = token }
end

--- `seer-lua kernel attach -f FILE`: what the server runs for a seer-lua kernel. The sandbox's
--- kernel already runs; this process only stands for it, until the server stops it or exits.
function M.attach()
  local parent = tonumber(os.getenv("JPY_PARENT_PID") or "")
  local alive = require("seer._jupyter").process_alive
  task.run(function()
    while not parent or alive(parent) do task.sleep(1) end
  end)
end

return M
