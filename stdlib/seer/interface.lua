--- seer.interface: loads an interface file (DESIGN §4). Functions defined on the global `expose`
--- table are exposed in definition order; the LuaLS annotations (`---` lines) directly above each
--- definition become its description and JSON Schemas. Calls are checked against the schema and
--- serialised (one at a time); module state persists between calls.
local task = require "seer.task"
local json = require "seer.json"
local checker = require "seer.schema"

local unpack = table.unpack or unpack
local null = json.null
local M = {}

local function ierror(etype, fmt, ...)
  error({ type = etype, message = fmt:format(...) }, 0)
end

-- ---------------------------------------------------------------------------------------------
-- Types: LuaLS type strings -> a checker spec and a JSON Schema.

local BASE = {
  string = { type = "string" }, number = { type = "number" }, integer = { type = "integer" },
  boolean = { type = "boolean" }, table = { type = { "object", "array" } }, any = {},
}

--- Parse a LuaLS type ("string", "number[]", "integer?", "string|number") into a spec
--- { kind, items?, alts?, optional } plus a JSON Schema.
local function parse_type(t)
  t = t:gsub("^%s+", ""):gsub("%s+$", "")
  local optional = false
  if t:sub(-1) == "?" then
    optional = true
    t = t:sub(1, -2)
  end
  if t:find("|", 1, true) then
    local alts, schemas = {}, {}
    for part in t:gmatch("[^|]+") do
      part = part:gsub("^%s+", ""):gsub("%s+$", "")
      if part == "nil" then
        optional = true
      else
        local s = parse_type(part)
        alts[#alts + 1] = s
        schemas[#schemas + 1] = s.schema
      end
    end
    if #alts == 1 then
      alts[1].optional = alts[1].optional or optional
      return alts[1]
    end
    return { kind = "union", alts = alts, optional = optional, name = t, schema = { anyOf = json.array(schemas) } }
  end
  if t:sub(-2) == "[]" then
    local items = parse_type(t:sub(1, -3))
    return { kind = "array", items = items, optional = optional, name = t,
      schema = { type = "array", items = items.schema } }
  end
  local base = BASE[t]
  if base then
    local schema = {}
    for k, v in pairs(base) do schema[k] = type(v) == "table" and json.array({ unpack(v) }) or v end
    return { kind = t, optional = optional, name = t, schema = schema }
  end
  -- A class name (seer.Tensor, a user type): not checked; its Lua type is kept for readers.
  return { kind = "any", optional = optional, name = t, schema = { ["x-lua-type"] = t } }
end
M.parse_type = parse_type

-- ---------------------------------------------------------------------------------------------
-- Annotations: the `---` block directly above `function expose.NAME(` (or `expose.NAME = function`).

local function parse_annotations(source, path)
  local lines = {}
  for line in (source .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local docs = {}
  for i = 1, #lines do
    local name = lines[i]:match("^%s*function%s+expose%.([%a_][%w_]*)%s*%(")
      or lines[i]:match("^%s*expose%.([%a_][%w_]*)%s*=%s*function%s*%(")
    if name then
      local first = i
      while first > 1 and lines[first - 1]:match("^%s*%-%-%-") do first = first - 1 end
      local doc = { line = i, description = {}, params = {}, param_order = {} }
      for j = first, i - 1 do
        local text = lines[j]:gsub("^%s*%-%-%-%s?", "")
        local pname, ptype, pdesc = text:match("^@param%s+([%a_][%w_]*%??)%s+(%S+)%s*(.*)$")
        if not pname then pname = text:match("^@param%s+([%a_][%w_]*%??)%s*$") end
        if pname then
          local optional = pname:sub(-1) == "?"
          if optional then pname = pname:sub(1, -2) end
          local spec = parse_type(ptype or "any")
          if optional then spec.optional = true end
          doc.params[pname] = { spec = spec, description = pdesc ~= "" and pdesc or nil, line = j }
          doc.param_order[#doc.param_order + 1] = pname
        elseif text:match("^@return") then
          local rtype, rdesc = text:match("^@return%s+(%S+)%s*(.*)$")
          doc.returns = { spec = parse_type(rtype or "any"), description = rdesc ~= "" and rdesc or nil }
        elseif not text:match("^@") then -- other LuaLS tags (@nodiscard, ...) are not ours
          doc.description[#doc.description + 1] = text
        end
      end
      doc.description = table.concat(doc.description, "\n"):gsub("^%s+", ""):gsub("%s+$", "")
      docs[name] = doc
    end
  end
  return docs, path
end

-- ---------------------------------------------------------------------------------------------
-- Models the sandbox configured: SEER_MODELS="org/name=path,..." and MODEL_<SAN>_PATH.

local function sanitize(name) return (name:upper():gsub("[^%w]", "_")) end

local function configured_models(override)
  local list = {}
  if override then
    for name, path in pairs(override) do list[#list + 1] = { name = name, path = path } end
    table.sort(list, function(a, b) return a.name < b.name end)
    return list
  end
  local spec = os.getenv("SEER_MODELS") or ""
  for item in spec:gmatch("[^,]+") do
    local name, path = item:match("^%s*(.-)%s*=%s*(.-)%s*$")
    if name and name ~= "" then list[#list + 1] = { name = name, path = path } end
  end
  return list
end

local function model_globals(override)
  local function list_configured_models()
    local names = {}
    for _, m in ipairs(configured_models(override)) do names[#names + 1] = m.name end
    return json.array(names)
  end
  local function get_model_path(name)
    if type(name) ~= "string" then error("get_model_path: expected a model name such as 'org/name'", 2) end
    for _, m in ipairs(configured_models(override)) do
      if m.name == name then return m.path end
    end
    local env = not override and os.getenv("MODEL_" .. sanitize(name) .. "_PATH")
    if env and env ~= "" then return env end
    local names = list_configured_models()
    error(("get_model_path: model '%s' is not configured for this sandbox (configured: %s); "
      .. "add ModelConfig{name = '%s'} to the SandboxConfig's models"):format(
      name, #names > 0 and table.concat(names, ", ") or "none", name), 2)
  end
  return get_model_path, list_configured_models
end

-- ---------------------------------------------------------------------------------------------
-- Loading

local STD_GLOBALS = {
  "assert", "collectgarbage", "dofile", "error", "getmetatable", "ipairs", "load", "loadfile", "next",
  "pairs", "pcall", "print", "rawequal", "rawget", "rawlen", "rawset", "require", "select",
  "setmetatable", "tonumber", "tostring", "type", "xpcall", "_VERSION", "coroutine", "debug", "io",
  "math", "os", "package", "string", "table", "utf8", "bit", "jit", "unpack", "loadstring",
  "getfenv", "setfenv", "newproxy",
}

---@class seer.Interface
---@field path string
---@field functions table[] in definition order: {name, fn, description, params, returns, ...}
local Interface = {}
Interface.__index = Interface
M.Interface = Interface

local function new_env(exposed, models)
  local env = {}
  for _, k in ipairs(STD_GLOBALS) do env[k] = _G[k] end
  env._G = env
  env.seer = require "seer"
  env.get_model_path, env.list_configured_models = model_globals(models)
  local expose = setmetatable({}, {
    __newindex = function(_, name, fn)
      if type(name) ~= "string" then error("expose: names must be strings", 2) end
      if type(fn) ~= "function" then
        error(("expose.%s: only functions can be exposed, got a %s"):format(name, type(fn)), 2)
      end
      exposed:add(name, fn, nil)
    end,
    __index = function(_, name) return exposed.by_name[name] and exposed.by_name[name].fn end,
    __call = function(_, name, fn, meta)
      if type(name) ~= "string" or type(fn) ~= "function" then
        error("expose(name, fn, {description=, params=}): expected a name and a function", 2)
      end
      if meta ~= nil and type(meta) ~= "table" then error("expose: meta must be a table", 2) end
      exposed:add(name, fn, meta or {})
    end,
  })
  env.expose = expose
  return env
end

-- Parameter names and arity come from the function itself.
local function real_params(fn)
  local info = debug.getinfo(fn, "u")
  local names = {}
  local i = 1
  while true do
    local n = debug.getlocal(fn, i)
    if not n then break end
    names[i] = n
    i = i + 1
  end
  if info.nparams and info.nparams < #names then
    for j = #names, info.nparams + 1, -1 do names[j] = nil end
  end
  return names, info.isvararg
end

local function build_function(path, name, fn, meta, doc)
  local names, vararg = real_params(fn)
  local index = {}
  for i, n in ipairs(names) do index[n] = i end
  local info = debug.getinfo(fn, "S")
  local f = { name = name, fn = fn, vararg = vararg, param_index = index, params = {} }
  local pdocs, description, returns = {}, "", nil
  if meta then -- programmatic: expose(name, fn, {description=, params={name = "type desc" | {type=, description=}}})
    description = meta.description or ""
    for pname, p in pairs(meta.params or {}) do
      local ptype, pdesc = p, nil
      if type(p) == "table" then ptype, pdesc = p.type or "any", p.description
      elseif type(p) == "string" then ptype, pdesc = p:match("^(%S+)%s*(.*)$") end
      local optional = pname:sub(-1) == "?"
      if optional then pname = pname:sub(1, -2) end
      local spec = parse_type(ptype or "any")
      if optional then spec.optional = true end
      if not index[pname] then
        error(("seer.interface: %s: expose('%s', ...) describes parameter '%s', which the function does not have "
          .. "(its parameters: %s)"):format(path, name, pname, #names > 0 and table.concat(names, ", ") or "none"), 0)
      end
      pdocs[pname] = { spec = spec, description = pdesc ~= "" and pdesc or nil }
    end
    if meta.returns then returns = { spec = parse_type(meta.returns), description = nil } end
  elseif doc then
    description = doc.description
    for _, pname in ipairs(doc.param_order) do
      if not index[pname] then
        error(("seer.interface: %s:%d: @param '%s' names no parameter of expose.%s (its parameters: %s)"):format(
          path, doc.params[pname].line, pname, name, #names > 0 and table.concat(names, ", ") or "none"), 0)
      end
    end
    pdocs = doc.params
    returns = doc.returns
  end
  -- An ordered object: properties are written in parameter declaration order.
  local properties, required = json.object(), {}
  for i, pname in ipairs(names) do
    local pd = pdocs[pname]
    -- Unannotated parameters take anything and may be left out: Lua cannot say more.
    local spec = pd and pd.spec or { kind = "any", optional = true, name = "any", schema = {} }
    local p = { name = pname, spec = spec, description = pd and pd.description or nil,
      required = not spec.optional }
    f.params[i] = p
    local schema = {}
    for k, v in pairs(spec.schema) do schema[k] = v end
    schema.description = p.description
    properties[pname] = schema
    if p.required then required[#required + 1] = pname end
  end
  f.description = description
  f.returns = returns
  f.line = info.linedefined
  f.input_schema = json.ordered { { "type", "object" }, { "properties", properties },
    { "required", json.array(required) } }
  return f
end

--- Load an interface file. Options: `models` (a table org/name -> path, instead of reading
--- SEER_MODELS / MODEL_<SAN>_PATH from the environment), `globals` (extra globals), `source_name`
--- (the path that messages and tracebacks name instead of `path`: a sandbox serves a copy of the
--- user's file, and errors should point at the user's file).
---@return seer.Interface
function M.load(path, opts)
  opts = opts or {}
  if type(path) ~= "string" then error("seer.interface.load: expected the path of an interface file", 2) end
  if opts.source_name ~= nil and type(opts.source_name) ~= "string" then
    error("seer.interface.load: source_name must be a string", 2)
  end
  local fh, ferr = io.open(path, "rb")
  if not fh then error(("seer.interface: cannot read %s"):format(ferr), 2) end
  local source = fh:read("*a")
  fh:close()
  path = opts.source_name or path
  local docs = parse_annotations(source, path)
  local self = setmetatable({ path = path, functions = {}, by_name = {}, busy = false, queue = {} }, Interface)
  local pending = {} -- functions in definition order, built once loading finished
  local registry = {
    by_name = {},
    add = function(reg, name, fn, meta)
      -- The host turns each name into a library function: only identifiers can be one.
      if not name:match("^[%a_][%w_]*$") then
        error(("expose: %q is not a Lua identifier (names must match ^[%%a_][%%w_]*$)"):format(name), 3)
      end
      if reg.by_name[name] then
        error(("expose.%s is defined twice in %s"):format(name, path), 3)
      end
      reg.by_name[name] = { fn = fn }
      pending[#pending + 1] = { name = name, fn = fn, meta = meta }
    end,
  }
  local env = new_env(registry, opts.models)
  for k, v in pairs(opts.globals or {}) do env[k] = v end
  local chunk, lerr = load(source, "@" .. path, "t", env)
  if not chunk then
    error(("seer.interface: syntax error in %s"):format(tostring(lerr)), 2)
  end
  local ok, rerr = xpcall(chunk, function(e) return debug.traceback(tostring(e), 2) end)
  if not ok then error(("seer.interface: error while loading %s: %s"):format(path, rerr), 2) end
  if #pending == 0 then
    error(("seer.interface: %s exposes no functions: define them on the global `expose` table, e.g. "
      .. "`function expose.hello(name) return 'hi ' .. name end`"):format(path), 2)
  end
  for i, p in ipairs(pending) do
    local f = build_function(path, p.name, p.fn, p.meta, not p.meta and docs[p.name] or nil)
    self.functions[i] = f
    self.by_name[p.name] = f
  end
  -- help() and the kernel's inspect show exposed functions as the agent's side describes them.
  local interface_docs, introspect = require "seer.sandbox.interface_docs", require "seer.introspect"
  for i, fd in ipairs(self:describe().functions) do
    introspect.register(self.functions[i].fn, interface_docs.doc(fd, "expose"))
  end
  return self
end

-- ---------------------------------------------------------------------------------------------
-- Calls

local function acquire(self)
  if not self.busy then
    self.busy = true
    return
  end
  task.await(function(done)
    local q = self.queue
    q[#q + 1] = done
    return function()
      for i = #q, 1, -1 do if q[i] == done then table.remove(q, i) end end
    end
  end)
end

local function release(self)
  local q = self.queue
  if q[1] == nil then
    self.busy = false
    return
  end
  table.remove(q, 1)() -- the lock passes straight to the next caller
end

local function names_of(self)
  local names = {}
  for i, f in ipairs(self.functions) do names[i] = f.name end
  return table.concat(names, ", ")
end

local function signature(f)
  local parts = {}
  for i, p in ipairs(f.params) do parts[i] = p.name .. (p.required and "" or "?") end
  return f.name .. "(" .. table.concat(parts, ", ") .. ")"
end

--- Check and order the arguments of a call: positional `args` (an array, msgpack nil as
--- seer.json.null) plus named `kwargs`. Returns the argument list and its length.
function Interface:bind(name, args, kwargs)
  local f = self.by_name[name]
  if not f then
    ierror("MethodNotFound", "%s has no exposed function '%s' (available: %s)", self.path, tostring(name),
      names_of(self))
  end
  -- Plain positional arguments are used as they are; a copy is made only to fill in nulls or
  -- named arguments (the caller's table is never changed).
  local out = args or {}
  local n = #out
  local copy = kwargs ~= nil
  if not copy then
    for i = 1, n do
      if out[i] == null then copy = true break end
    end
  end
  if copy then
    local c = {}
    for i = 1, n do
      local v = out[i]
      if v == null then v = nil end
      c[i] = v
    end
    out = c
  end
  local params = f.params
  local nparams = #params
  if n > nparams and not f.vararg then
    ierror("ArgumentError", "%s takes %d argument%s, got %d", signature(f), nparams, nparams == 1 and "" or "s", n)
  end
  if kwargs then
    for k, v in pairs(kwargs) do
      local i = f.param_index[k]
      if not i then
        ierror("ArgumentError", "%s: unknown argument '%s' (parameters: %s)", signature(f), tostring(k),
          nparams > 0 and signature(f):match("%((.*)%)") or "none")
      end
      if out[i] ~= nil then
        ierror("ArgumentError", "%s: argument '%s' given both by position and by name", signature(f), k)
      end
      if v == null then v = nil end
      out[i] = v
      if i > n then n = i end
    end
  end
  for i = 1, nparams do
    local p, v = params[i], out[i]
    if v == nil then
      if p.required then
        ierror("ArgumentError", "%s: missing argument '%s' (%s)", signature(f), p.name, p.spec.name)
      end
    else
      local ok, why = checker.validate(p.spec.schema, v, p.name)
      if not ok then
        -- The argument's own type in the annotation's words; a problem deeper inside (an item of
        -- an array) is added in the checker's words, which say where it lies.
        local detail = why:find("^" .. p.name .. ": expected ") and "" or " (" .. why .. ")"
        ierror("ArgumentError", "%s: argument '%s' must be %s, got %s%s", signature(f), p.name, p.spec.name,
          checker.describe(v), detail)
      end
    end
  end
  return f, out, n > nparams and n or nparams
end

local function call_handler(e)
  if type(e) == "table" then return e end
  local tb = debug.traceback("", 2):gsub("^\n", ""):gsub("\n%s*%[C%]: in function 'xpcall'.*$", "")
  return { type = "RuntimeError", message = tostring(e), traceback = tb }
end

--- Call an exposed function (serialised with every other call into this interface). Raises an
--- error object {type, message, traceback} on a bad call or when the function raises.
function Interface:call(name, args, kwargs)
  local f, argv, n = self:bind(name, args, kwargs)
  -- The uncontended lock is taken and given back inline (acquire/release do the same).
  if self.busy then acquire(self) else self.busy = true end
  local ok, result
  if n == 0 then
    ok, result = xpcall(f.fn, call_handler)
  else
    ok, result = xpcall(f.fn, call_handler, unpack(argv, 1, n))
  end
  if self.queue[1] == nil then self.busy = false else release(self) end
  if not ok then
    if type(result) == "table" and result.message then
      result.type = result.type or "RuntimeError"
      error(result, 0)
    end
    error({ type = "RuntimeError", message = tostring(result), traceback = "" }, 0)
  end
  return result
end

--- The description served as seer.describe: functions in order with their schemas.
function Interface:describe()
  local fns = {}
  for i, f in ipairs(self.functions) do
    local params = {}
    for j, p in ipairs(f.params) do
      params[j] = { name = p.name, type = p.spec.name, required = p.required, description = p.description,
        schema = p.spec.schema }
    end
    fns[i] = {
      name = f.name, description = f.description, params = json.array(params), input_schema = f.input_schema,
      returns = f.returns and { type = f.returns.spec.name, schema = f.returns.spec.schema,
        description = f.returns.description } or nil,
    }
  end
  return { server = "seer-lua", version = require("seer").version, interface = self.path, functions = json.array(fns) }
end

return M
