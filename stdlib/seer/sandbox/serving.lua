--- seer.sandbox.serving: `sandbox:serve(interface.lua, {expose_as, name})`. The interface runs in
--- the sandbox under `seer-lua serve`, listening on a Unix socket in the sandbox's private run
--- directory; the host connects to it and turns the interface's description into what expose_as
--- asks for: a Library, markdown for a prompt, or a Skill.
local fs = require "seer.fs"
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
    if k ~= "expose_as" and k ~= "name" and k ~= "timeout" then
      error(("serve: unknown option '%s' (valid: expose_as, name, timeout)"):format(tostring(k)), 4)
    end
  end
  local as = opts.expose_as or "library"
  if as ~= "library" and as ~= "prompt" and as ~= "skill" and as ~= "mcp" then
    error(("serve: expose_as must be \"library\", \"prompt\", \"skill\" or \"mcp\", got %q"):format(tostring(as)), 4)
  end
  if as == "mcp" then
    error("serve: expose_as = \"mcp\" is not yet available (it arrives with the MCP server); "
      .. "use \"library\", \"prompt\" or \"skill\"", 4)
  end
  return as
end

--- Collect everything a finished process wrote to one of its streams.
local function drain(p, which)
  local parts = {}
  for chunk in function() return p:read(which) end do parts[#parts + 1] = chunk end
  return table.concat(parts)
end

function M.serve(sandbox, interface_path, opts)
  local rpc = require "seer.rpc"
  local expose_as = check_opts(opts)
  local source, err = fs.read(interface_path)
  if not source then error("serve: " .. err, 3) end
  local name = opts.name or path.basename(interface_path):gsub("%.lua$", "")
  if not name:match("^[%a_][%w_]*$") then
    error(("serve: name '%s' must be a Lua identifier (it becomes the library name)"):format(name), 3)
  end
  if sandbox.served[name] then error(("serve: an interface named '%s' is already served"):format(name), 3) end
  local backend = sandbox.backend
  local inner_file = "/run/seer/iface/" .. name .. ".lua"
  assert(fs.write(backend:run_path("iface/" .. name .. ".lua"), source))
  local sock = name .. ".sock"
  fs.remove(backend:run_path(sock))
  local p = backend:spawn({ "/.seer/seer-lua", "serve", inner_file, "--listen", "unix:/run/seer/" .. sock },
    { env = sandbox.env, stdin = true, stream = true })
  -- Wait for the server's ready line, its exit, or the deadline. If the whole sandbox ends
  -- meanwhile, stop waiting at once.
  local host_path = path.abspath(interface_path)
  local ready = false
  backend:on_exit(function() if not ready then pcall(p.kill, p, 9) end end)
  local ok, werr = pcall(task.timeout, opts.timeout or 120, function()
    for line in p:lines() do
      if line:match("^listening on ") then ready = true return end
    end
  end)
  if not ready then
    if ok then -- the server exited before listening: its stderr says why (a syntax error, ...)
      local stderr = drain(p, "stderr")
      local r = p:wait()
      local why = stderr:gsub("%s+$", ""):gsub(inner_file:gsub("%p", "%%%0"), host_path)
      if why == "" then why = r.signal and ("killed by signal " .. r.signal) or ("exit status " .. tostring(r.code)) end
      if not backend.alive then why = why .. " (sandbox exited: " .. (backend.exit_reason or "?") .. ")" end
      error(("serve: interface '%s' failed to load: %s"):format(host_path, why), 3)
    end
    pcall(p.kill, p, 9)
    error(("serve: interface '%s' did not start listening: %s"):format(host_path, tostring(werr)), 3)
  end
  local served = setmetatable({ name = name, process = p, socket = backend:run_path(sock),
                                expose_as = expose_as }, Served)
  served.address = "unix:" .. served.socket
  -- When the connection drops, say why: the sandbox's own last word, or the server's exit.
  served.client = rpc.connect(served.address, {
    close_grace = 1,
    on_close_reason = function()
      if backend.exit_reason then return "sandbox exited: " .. backend.exit_reason end
      return nil
    end,
  })
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
  served.description = description
  if expose_as == "library" then return docs.library(name, served.address, description) end
  if expose_as == "prompt" then return docs.prompt(name, description) end
  return docs.skill(name, served.address, description)
end

return M
