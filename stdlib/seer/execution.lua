--- seer.execution: agent sessions, as in Seer. A local session owns a workspace directory and a
--- Lua state where agent-written code runs (`session:exec`, and the harness's `run_lua` tool
--- through `session:run_lua`); workspace libraries are `require`-able from it, and variables
--- persist from one call to the next.
---
--- By default the agent's code runs in a session sandbox of its own (seer.session.sandboxed): no
--- models, no network, nothing of the host's files but the workspace, and of the interfaces only
--- those given in `workspace.libraries`. `isolation = "none"` runs it in this process instead, with
--- everything this process can reach: for trusted code only.
local fs = require "seer.fs"
local path = require "seer.path"
local Workspace = require("seer.workspace").Workspace
local files = require "seer.session.files"
local lua_state = require "seer.session.lua_state"
local sandboxed = require "seer.session.sandboxed"
local config = require "seer.sandbox.config"

local M = {}

local unpack = table.unpack or unpack

---@class seer.Session
---@field name string
---@field workspace_dir string absolute host path
local Session = {}
Session.__index = Session
M.Session = Session
M.SandboxedSession = sandboxed.Session

--- Run code in the session and return what it returns; raises with the traceback on error.
--- Expressions work too: "1 + 1" returns 2.
function Session:exec(code)
  local r = self:run_lua(code)
  if r.error then error(r.error, 0) end
  return unpack(r.values, 1, r.values.n)
end

--- Run code for an agent: never raises. Returns {output = printed text, values = {...}, error =
--- message with traceback or nil}.
function Session:run_lua(code) return self.state:run(code) end

--- The file tools, confined to the workspace.
function Session:read_file(p) return files.read(self.workspace_dir, p) end
function Session:write_file(p, content) return files.write(self.workspace_dir, p, content) end
function Session:list_files(p) return files.list(self.workspace_dir, p) end

--- Nothing to release for an in-process session; here so both kinds can be closed alike.
function Session.close() end

-- What a workspace puts into the session's directory: {relative path, contents} pairs.
local function workspace_files(ws)
  local out = {}
  local function add(rel, data) out[#out + 1] = { rel, data } end
  for _, lib in ipairs(ws.libraries) do
    local names = {}
    for rel in pairs(lib.files) do names[#names + 1] = rel end
    table.sort(names)
    for _, rel in ipairs(names) do add(".seer/lib/" .. rel, lib.files[rel]) end
  end
  for _, skill in ipairs(ws.skills) do
    local base = ".claude/skills/" .. skill.name .. "/"
    add(base .. "SKILL.md", skill:markdown())
    for rel, data in pairs(skill.files) do add(base .. rel, data) end
  end
  local function add_tree(src, dst)
    local entries, err = fs.list(src)
    if not entries then error("create_local_session: " .. err, 0) end
    for _, e in ipairs(entries) do
      local s = path.join(src, e)
      if fs.is_dir(s) then add_tree(s, dst .. "/" .. e) else add(dst .. "/" .. e, assert(fs.read(s))) end
    end
  end
  for _, dir in ipairs(ws.skill_dirs) do add_tree(dir, ".claude/skills/" .. path.basename(dir)) end
  for _, pair in ipairs(ws.local_files) do
    local data, err = fs.read(pair[1])
    if not data then error("create_local_session: local_files: " .. err, 0) end
    add(pair[2] or path.basename(pair[1]), data)
  end
  for _, pair in ipairs(ws.local_dirs) do add_tree(pair[1], pair[2] or path.basename(pair[1])) end
  return out
end

-- The addresses of the served interfaces a workspace gives (a Library or Skill made by serve()).
local function interface_addresses(ws)
  local out, seen = {}, {}
  for _, list in ipairs({ ws.libraries, ws.skills }) do
    for _, item in ipairs(list) do
      local a = item.address
      if a and not seen[a] then
        seen[a] = true
        out[#out + 1] = a
      end
    end
  end
  return out
end

local OPTIONS = { workspace = true, workspace_dir = true, name = true, isolation = true, sandbox = true,
                  run_timeout = true }
local SANDBOX_FIELDS = { memory = true, pids = true, nofile = true, cpus = true }

-- The `sandbox` option: limits of the session sandbox over seer.session.sandboxed's defaults.
local function session_limits(given)
  local limits = {}
  for k, v in pairs(sandboxed.DEFAULT_LIMITS) do limits[k] = v end
  if given == nil then return limits end
  if type(given) ~= "table" then
    error("create_local_session: 'sandbox' must be a table {memory, pids, nofile, cpus}", 3)
  end
  for k, v in pairs(given) do
    if not SANDBOX_FIELDS[k] then
      error(("create_local_session: sandbox: unknown field '%s' (valid: cpus, memory, nofile, pids; a session "
        .. "has no models, network, env or secrets)"):format(tostring(k)), 3)
    end
    if k ~= "memory" and (type(v) ~= "number" or v < 0) then
      error(("create_local_session: sandbox.%s must be a number >= 0"):format(k), 3)
    end
  end
  if given.memory ~= nil then
    limits.memory_bytes = config.parse_bytes(given.memory, "create_local_session: sandbox.memory")
  end
  for _, k in ipairs({ "pids", "nofile", "cpus" }) do if given[k] ~= nil then limits[k] = given[k] end end
  return limits
end

--- create_local_session{workspace, workspace_dir, name, isolation = "sandbox" | "none", sandbox = {memory,
--- pids, nofile, cpus}, run_timeout = seconds}. `sandbox` sets the session sandbox's limits (default
--- 4G, 256 processes, 1024 files); `run_timeout` bounds each run_lua call (default none): past it
--- the session's Lua process is stopped and the next call starts a fresh one.
---@return seer.Session|seer.SandboxedSession
function M.create_local_session(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if not OPTIONS[k] then
      error(("create_local_session: unknown option '%s' (valid: isolation, name, run_timeout, sandbox, workspace, "
        .. "workspace_dir)")
        :format(tostring(k)), 2)
    end
  end
  local isolation = opts.isolation or "sandbox"
  if isolation ~= "sandbox" and isolation ~= "none" then
    error(("create_local_session: isolation must be \"sandbox\" (the default) or \"none\" (trusted code, run "
      .. "in this process), got %s"):format(tostring(isolation)), 2)
  end
  local limits = session_limits(opts.sandbox)
  if opts.run_timeout ~= nil and (type(opts.run_timeout) ~= "number" or opts.run_timeout ~= opts.run_timeout
      or opts.run_timeout <= 0) then
    error("create_local_session: run_timeout must be a positive number of seconds", 2)
  end
  if isolation == "none" and (opts.sandbox or opts.run_timeout) then
    error("create_local_session: 'sandbox' and 'run_timeout' need isolation = \"sandbox\" (in-process code "
      .. "has no sandbox to limit or stop)", 2)
  end
  local ws = opts.workspace or Workspace({})
  if getmetatable(ws) ~= Workspace then ws = Workspace(ws) end
  -- The default: a directory in a state directory (removed at exit), below its owner marker so
  -- that the agent neither sees nor touches the marker.
  local dir = opts.workspace_dir or path.join(require("seer.sandbox.state_dirs").create("seer-session"), "workspace")
  dir = path.abspath(dir)
  local ok, err = fs.mkdir(dir)
  if not ok then error("create_local_session: " .. err, 2) end
  -- The workspace is confined by its real path: symlinks above it would defeat the checks.
  dir = assert(fs.realpath(dir))
  local pok, items = pcall(workspace_files, ws)
  if not pok then error(items, 2) end
  local name = opts.name or "session"
  if isolation == "sandbox" then
    local addresses = interface_addresses(ws)
    for _, a in ipairs(addresses) do
      local _, why = require("seer.session.proxy").unix_path(a)
      if why then error("create_local_session: a library " .. why, 2) end
    end
    local sok, session = pcall(sandboxed.start, { name = name, workspace_dir = dir, addresses = addresses,
                                                  files = items, init_code = ws.custom_init_code, limits = limits,
                                                  run_timeout = opts.run_timeout })
    if not sok then
      error(("create_local_session: cannot start the session sandbox: %s (isolation = \"none\" runs trusted "
        .. "code in this process instead)"):format(tostring(session)), 2)
    end
    return session
  end
  local self = setmetatable({ name = name, workspace_dir = dir, lib_dir = path.join(dir, ".seer", "lib"),
                              isolation = "none" }, Session)
  assert(fs.mkdir(self.lib_dir))
  for _, f in ipairs(items) do
    local wok, werr = pcall(files.write, dir, f[1], f[2])
    if not wok then error("create_local_session: " .. tostring(werr), 2) end
  end
  self.state = lua_state.new({ workspace_dir = dir, lib_dir = self.lib_dir })
  if ws.custom_init_code then
    local r = self:run_lua(ws.custom_init_code)
    if r.error then error("create_local_session: custom_init_code failed: " .. r.error, 2) end
  end
  return self
end

local function not_yet(name)
  return function() error(name .. " is not available in seer-lua yet; use create_local_session", 2) end
end
--- create_notebook_session(sandbox, workspace, opts): a live notebook whose kernel runs in a sandbox
--- started with execution_mode = "notebook" (seer.session.notebook).
---@return seer.NotebookSession
function M.create_notebook_session(sandbox, workspace, opts)
  return require("seer.session.notebook").create(sandbox, workspace, opts)
end
M.create_local_notebook_session = not_yet("create_local_notebook_session")
--- create_cli_session(sandbox, workspace): shell and Lua execution in a running sandbox (`exec`,
--- `exec_shell`), with `mcp_config` giving the agent the same two tools (seer.session.cli).
---@return seer.CliSession
function M.create_cli_session(sandbox, workspace)
  return require("seer.session.cli").create(sandbox, workspace)
end

return M
