--- seer.execution: agent sessions, as in Seer. A local session owns a workspace directory and a
--- Lua environment of its own where agent-written code runs (`session:exec`, and the harness's
--- `run_lua` tool through `session:run_lua`); workspace libraries are `require`-able from it.
local fs = require "seer.fs"
local path = require "seer.path"
local pretty = require "seer.pretty"
local Workspace = require("seer.workspace").Workspace

local M = {}

local load_chunk = loadstring or load
local setfenv = setfenv -- luacheck: ignore 113 (LuaJIT only)
local unpack = table.unpack or unpack
local pack = table.pack or function(...) return { n = select("#", ...), ... } end

---@class seer.Session
---@field name string
---@field workspace_dir string absolute host path
local Session = {}
Session.__index = Session
M.Session = Session

local SAFE_GLOBALS = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawlen", "rawset",
  "select", "setmetatable", "getmetatable", "tonumber", "tostring", "type", "xpcall", "unpack",
  "_VERSION", "collectgarbage", "load", "loadstring", "dofile",
}
local LIBS = { "string", "table", "math", "os", "io", "coroutine", "utf8", "debug", "bit", "jit" }

-- Each session gets fresh copies of the library tables, so agent code that patches them
-- (string.foo = ...) cannot reach the host's or another session's.
local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function load_in(env, code, chunkname)
  if setfenv then
    local fn, err = load_chunk(code, chunkname)
    if fn then setfenv(fn, env) end
    return fn, err
  end
  return load(code, chunkname, "t", env)
end

local function make_env(session)
  local env = {}
  for _, name in ipairs(SAFE_GLOBALS) do env[name] = _G[name] end
  for _, name in ipairs(LIBS) do if _G[name] then env[name] = copy(_G[name]) end end
  env._G = env
  env.seer = require("seer")
  env.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    session.output[#session.output + 1] = table.concat(parts, "\t") .. "\n"
  end
  -- require: the session's own libraries first, then whatever the host can load.
  local loaded = {}
  local lib_dir = session.lib_dir
  env.package = { loaded = loaded, path = path.join(lib_dir, "?.lua") .. ";" .. path.join(lib_dir, "?/init.lua") }
  env.require = function(name)
    if loaded[name] ~= nil then return loaded[name] end
    local rel = name:gsub("%.", "/")
    for _, candidate in ipairs({ path.join(lib_dir, rel .. ".lua"), path.join(lib_dir, rel, "init.lua") }) do
      if fs.is_file(candidate) then
        local src = assert(fs.read(candidate))
        local fn, err = load_in(env, src, "@" .. candidate)
        if not fn then error(err, 2) end
        local mod = fn(name, candidate)
        if mod == nil then mod = true end
        loaded[name] = mod
        return mod
      end
    end
    local mod = require(name)
    loaded[name] = mod
    return mod
  end
  env.dofile = function(file)
    local src = assert(fs.read(path.join(session.workspace_dir, file)))
    local fn = assert(load_in(env, src, "@" .. file))
    return fn()
  end
  return env
end

local function traceback(err)
  if type(err) ~= "string" then return err end
  if err:find("\nstack traceback:", 1, true) then return err end
  return debug.traceback(err, 2)
end

--- Run code in the session and return what it returns; raises with the traceback on error.
--- Expressions work too: "1 + 1" returns 2.
function Session:exec(code)
  local r = self:run_lua(code)
  if r.error then error(r.error, 0) end
  return unpack(r.values, 1, r.values.n)
end

--- Run code for an agent: never raises. Returns {output = printed text, values = {...}, error =
--- message with traceback or nil}.
function Session:run_lua(code)
  if type(code) ~= "string" then
    return { output = "", values = { n = 0 }, error = "run_lua: code must be a string" }
  end
  local fn, err = load_in(self.env, "return " .. code, "=run_lua")
  if not fn then fn, err = load_in(self.env, code, "=run_lua") end
  self.output = {}
  if not fn then return { output = "", values = { n = 0 }, error = err } end
  local res = pack(xpcall(fn, traceback))
  local out = table.concat(self.output)
  self.output = {}
  if not res[1] then
    local e = res[2]
    return { output = out, values = { n = 0 }, error = type(e) == "string" and e or pretty.format(e) }
  end
  local values = { n = res.n - 1 }
  for i = 2, res.n do values[i - 1] = res[i] end
  return { output = out, values = values }
end

--- Write custom init code, libraries, skills and files into the session's workspace.
local function install(self, ws)
  for _, lib in ipairs(ws.libraries) do lib:install(self.lib_dir) end
  local skills_dir = path.join(self.workspace_dir, ".claude", "skills")
  for _, skill in ipairs(ws.skills) do skill:write(skills_dir) end
  local function copy_tree(src, dst)
    assert(fs.mkdir(dst))
    for _, e in ipairs(assert(fs.list(src))) do
      local s, d = path.join(src, e), path.join(dst, e)
      if fs.is_dir(s) then copy_tree(s, d) else assert(fs.write(d, assert(fs.read(s)))) end
    end
  end
  for _, dir in ipairs(ws.skill_dirs) do copy_tree(dir, path.join(skills_dir, path.basename(dir))) end
  for _, pair in ipairs(ws.local_files) do
    local dst = path.join(self.workspace_dir, pair[2] or path.basename(pair[1]))
    assert(fs.mkdir(path.dirname(dst)))
    local data, err = fs.read(pair[1])
    if not data then error("create_local_session: local_files: " .. err, 3) end
    assert(fs.write(dst, data))
  end
  for _, pair in ipairs(ws.local_dirs) do
    copy_tree(pair[1], path.join(self.workspace_dir, pair[2] or path.basename(pair[1])))
  end
end

--- create_local_session{workspace, workspace_dir, name}
---@return seer.Session
function M.create_local_session(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "workspace" and k ~= "workspace_dir" and k ~= "name" then
      error(("create_local_session: unknown option '%s' (valid: name, workspace, workspace_dir)"):format(k), 2)
    end
  end
  local ws = opts.workspace or Workspace({})
  if getmetatable(ws) ~= Workspace then ws = Workspace(ws) end
  local dir = opts.workspace_dir or assert(fs.tmpdir("seer-session"))
  dir = path.abspath(dir)
  local ok, err = fs.mkdir(dir)
  if not ok then error("create_local_session: " .. err, 2) end
  local self = setmetatable({ name = opts.name or "session", workspace_dir = dir,
                              lib_dir = path.join(dir, ".seer", "lib"), output = {} }, Session)
  assert(fs.mkdir(self.lib_dir))
  install(self, ws)
  self.env = make_env(self)
  if ws.custom_init_code then
    local r = self:run_lua(ws.custom_init_code)
    if r.error then error("create_local_session: custom_init_code failed: " .. r.error, 2) end
  end
  return self
end

local function not_yet(name)
  return function() error(name .. " is not available in seer-lua yet; use create_local_session", 2) end
end
M.create_notebook_session = not_yet("create_notebook_session")
M.create_local_notebook_session = not_yet("create_local_notebook_session")
M.create_cli_session = not_yet("create_cli_session")

return M
