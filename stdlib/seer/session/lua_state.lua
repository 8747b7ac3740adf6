--- seer.session.lua_state: the Lua environment agent code runs in. One state per session: fresh
--- copies of the standard library tables, `print` captured into the call's output, and a `require`
--- that looks in the session's libraries first. Variables persist from one `run` to the next. The
--- same state runs in the host process (isolation = "none") or in a session sandbox's executor
--- (seer.session.server).
local fs = require "seer.fs"
local path = require "seer.path"
local pretty = require "seer.pretty"

local M = {}

local load_chunk = loadstring or load
local setfenv = setfenv -- luacheck: ignore 113 (LuaJIT only)
local pack = table.pack or function(...) return { n = select("#", ...), ... } end

local SAFE_GLOBALS = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawlen", "rawset",
  "select", "setmetatable", "getmetatable", "tonumber", "tostring", "type", "xpcall", "unpack",
  "_VERSION", "collectgarbage", "load", "loadstring", "dofile",
}
local LIBS = { "string", "table", "math", "os", "io", "coroutine", "utf8", "debug", "bit", "jit" }

-- Each state gets fresh copies of the library tables, so agent code that patches them
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

local function tostring_all(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  return parts
end

---@class seer.session.LuaState
local State = {}
State.__index = State
M.State = State

local function make_env(self, opts)
  local env = {}
  for _, name in ipairs(SAFE_GLOBALS) do env[name] = _G[name] end
  for _, name in ipairs(LIBS) do if _G[name] then env[name] = copy(_G[name]) end end
  env._G = env
  env.seer = require("seer")
  local output = self.output
  env.print = function(...) output[#output + 1] = table.concat(tostring_all(...), "\t") .. "\n" end
  if opts.capture_io_write then
    -- In a sandbox nobody reads the process's stdout, so io.write goes where print goes.
    env.io.write = function(...)
      for _, s in ipairs(tostring_all(...)) do output[#output + 1] = s end
      return env.io
    end
  end
  -- require: the session's own libraries first, then whatever the process can load.
  local loaded = {}
  local lib_dir = self.lib_dir
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
    local src = assert(fs.read(path.join(self.workspace_dir, file)))
    local fn = assert(load_in(env, src, "@" .. file))
    return fn()
  end
  return env
end

--- new{workspace_dir, lib_dir, capture_io_write}
---@return seer.session.LuaState
function M.new(opts)
  local self = setmetatable({ workspace_dir = opts.workspace_dir, lib_dir = opts.lib_dir, output = {} }, State)
  self.env = make_env(self, opts)
  return self
end

local function traceback(err)
  if type(err) ~= "string" then return err end
  if err:find("\nstack traceback:", 1, true) then return err end
  return debug.traceback(err, 2)
end

--- Run code; never raises. Expressions work too ("1 + 1" returns 2). Returns {output = printed
--- text, values = {n = count, ...}, error = message with traceback, or nil}.
function State:run(code)
  if type(code) ~= "string" then
    return { output = "", values = { n = 0 }, error = "run_lua: code must be a string" }
  end
  local fn, err = load_in(self.env, "return " .. code, "=run_lua")
  if not fn then fn, err = load_in(self.env, code, "=run_lua") end
  local output = self.output
  for i = #output, 1, -1 do output[i] = nil end
  if not fn then return { output = "", values = { n = 0 }, error = err } end
  local res = pack(xpcall(fn, traceback))
  local out = table.concat(output)
  for i = #output, 1, -1 do output[i] = nil end
  if not res[1] then
    local e = res[2]
    return { output = out, values = { n = 0 }, error = type(e) == "string" and e or pretty.format(e) }
  end
  local values = { n = res.n - 1 }
  for i = 2, res.n do values[i - 1] = res[i] end
  return { output = out, values = values }
end

return M
