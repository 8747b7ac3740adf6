--- seer.sandbox.serving: `sandbox:serve(interface.lua, {expose_as, name})`. The interface runs in
--- the sandbox under `seer-lua serve`, listening on a Unix socket in the sandbox's run directory;
--- the host connects to it (refusing anything there but a socket) and turns the interface's
--- description into what expose_as asks for: a Library, markdown for a prompt, a Skill, or an MCP
--- server entry (stdio).
local fs = require "seer.fs"
local json = require "seer.json"
local path = require "seer.path"

local task = require "seer.task"
local docs = require "seer.sandbox.interface_docs"

local M = {}

---@class seer.Served
local Served = {}
Served.__index = Served

function Served:close()
  if self.closed then return end
  self.closed = true
  if self.client then pcall(self.client.close, self.client) end
  if self.process then
    -- SIGTERM reaches the server through its __sandbox-exec parent, which then reaps it. Killing
    -- that parent outright would leave the server a zombie for the namespace teardown to find,
    -- which makes terminate() slow.
    local p = self.process
    pcall(p.kill, p, 15)
    if not pcall(task.timeout, 2, function() p:wait() end) then pcall(p.kill, p, 9) end
  end
end

local function check_opts(opts)
  for k in pairs(opts) do
    if k ~= "expose_as" and k ~= "name" and k ~= "timeout" and k ~= "call_timeout" then
      error(("serve: unknown option '%s' (valid: call_timeout, expose_as, name, timeout)"):format(tostring(k)), 4)
    end
  end
  local as = opts.expose_as or "library"
  if as ~= "library" and as ~= "prompt" and as ~= "skill" and as ~= "mcp" then
    error(("serve: expose_as must be \"library\", \"prompt\", \"skill\" or \"mcp\", got %q"):format(tostring(as)), 4)
  end
  return as
end

local STDERR_KEEP = 64 * 1024

--- One attempt to connect to the interface's socket in the sandbox-owned run directory. The
--- sandbox controls that name: anything but a socket there (a symlink to a host socket, say) is
--- refused, so the host never connects outside the sandbox. nil when nothing is listening yet.
local function try_connect(backend, host_sock, call_timeout)
  local rpc = require "seer.rpc"
  if fs.readlink(host_sock) then
    error(("serve: '%s' is a symlink; the sandbox replaced its socket, refusing to follow it"):format(host_sock), 0)
  end
  if not fs.exists(host_sock) then return nil end
  local ok, client = pcall(rpc.connect, "unix:" .. host_sock, {
    timeout = 2, close_grace = 1, call_timeout = call_timeout,
    -- When the connection drops, say why: the sandbox's own last word, or the server's exit.
    on_close_reason = function()
      if backend.exit_reason then return "sandbox exited: " .. backend.exit_reason end
      return nil
    end,
  })
  if ok then return client end
  return nil
end

function M.serve(sandbox, interface_path, opts)
  local expose_as = check_opts(opts)
  local source, err = fs.read(interface_path)
  if not source then error("serve: " .. err, 3) end
  local name = opts.name or path.basename(interface_path):gsub("%.lua$", "")
  if not name:match("^[%a_][%w_]*$") then
    error(("serve: name '%s' must be a Lua identifier (it becomes the library name)"):format(name), 3)
  end
  if sandbox.served[name] then error(("serve: an interface named '%s' is already served"):format(name), 3) end
  local backend = sandbox.backend
  if not backend.has_interpreter then
    error("serve: this sandbox has no seer-lua interpreter to run the interface (install seer-lua "
      .. "beside the seer-sandbox helper)", 3)
  end
  local inner_file = "/run/seer/iface/" .. name .. ".lua"
  -- The interface copy goes to the host-owned directory the sandbox sees read-only.
  assert(fs.write(backend:iface_path(name .. ".lua"), source))
  local sock = name .. ".sock"
  local host_sock = backend:run_path(sock)
  -- The server's output is the sandbox's to fill: stdout is dropped, stderr kept up to a bound for
  -- the error message if it fails to load.
  local stderr, stderr_len = {}, 0
  -- Errors and tracebacks from the interface name the user's file, not the copy inside.
  local host_path = path.abspath(interface_path)
  local p = backend:spawn({ "/.seer/seer-lua", "serve", inner_file, "--listen", "unix:/run/seer/" .. sock,
    "--source-name", host_path },
    { env = sandbox.env, stdin = true, on_stdout = function() end, on_stderr = function(chunk)
      if stderr_len < STDERR_KEEP then
        stderr[#stderr + 1] = chunk:sub(1, STDERR_KEEP - stderr_len)
        stderr_len = stderr_len + #chunk
      end
    end })
  -- Ready means a connection to the socket succeeds, never a line the sandbox prints: wait for
  -- that, the server's exit, or the deadline. If the whole sandbox ends meanwhile, stop at once.
  local client
  backend:on_exit(function() if not client then pcall(p.kill, p, 9) end end)
  local ok, werr = pcall(task.timeout, opts.timeout or 120, function()
    while not p.exited do
      client = try_connect(backend, host_sock, opts.call_timeout)
      if client then return end
      task.sleep(0.02)
    end
  end)
  if not client then
    if ok then -- the server exited before listening: its stderr says why (a syntax error, ...)
      local r = p:wait()
      local why = table.concat(stderr):gsub("%s+$", ""):gsub(inner_file:gsub("%p", "%%%0"), host_path)
      if why == "" then why = r.signal and ("killed by signal " .. r.signal) or ("exit status " .. tostring(r.code)) end
      if not backend.alive then why = why .. " (sandbox exited: " .. (backend.exit_reason or "?") .. ")" end
      error(("serve: interface '%s' failed to load: %s"):format(host_path, why), 3)
    end
    pcall(p.kill, p, 9)
    error(("serve: interface '%s' did not start listening: %s"):format(host_path, tostring(werr)), 3)
  end
  local served = setmetatable({ name = name, process = p, socket = host_sock,
                                expose_as = expose_as }, Served)
  served.address = "unix:" .. served.socket
  served.client = client
  -- A crash of the server or of the whole sandbox fails pending calls with the reason.
  task.spawn(function()
    local r = p:wait()
    if served.closed then return end
    local why
    if not backend.alive or backend.exit_reason then
      why = "sandbox exited: " .. (backend.exit_reason or "?")
    else
      why = ("interface server '%s' exited: %s"):format(name, r.signal and
        ("killed by signal %d (%s)"):format(r.signal, r.signal_name or "") or ("status " .. tostring(r.code)))
    end
    served.client:fail_pending(why)
  end).name = "serve-watch:" .. name
  backend:on_exit(function(reason)
    if not served.closed then served.client:fail_pending("sandbox exited: " .. reason) end
  end)
  sandbox.served[name] = served
  local description = served.client:describe()
  -- The description comes from the sandbox: check it before any of it is used.
  local cok, cerr = pcall(docs.check, description, ("serve: interface '%s'"):format(host_path))
  if not cok then
    sandbox.served[name] = nil
    served:close()
    error(cerr, 3)
  end
  served.description = description
  if expose_as == "library" then return docs.library(name, served.address, description, opts.call_timeout) end
  if expose_as == "prompt" then return docs.prompt(name, description) end
  if expose_as == "mcp" then
    -- A stdio MCP server entry, usable as it is in .mcp.json / mcpServers: `seer-lua mcp` proxying
    -- this socket. It works while the sandbox runs.
    local args = json.array({ "mcp", "--connect", served.address, "--name", name })
    if opts.call_timeout then
      args[#args + 1] = "--call-timeout"
      args[#args + 1] = tostring(opts.call_timeout)
    end
    return { [name] = { type = "stdio", command = require("seer.core").exe_path(), args = args,
                        env = json.object({}) } }
  end
  return docs.skill(name, served.address, description, opts.call_timeout)
end

return M
