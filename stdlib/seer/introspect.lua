--- seer.introspect: documentation and completion for the REPL, the Jupyter kernel and `seer-lua doc`,
--- from one source: the LuaLS doc comments of the stdlib (read from the sources embedded in the
--- binary, or from SEER_PATH), the `---@meta` stubs in stdlib/seer/meta/ for functions written in C,
--- the doc comments of any Lua file a function was loaded from (a user's interface.lua, a script),
--- and docs registered for functions that have no source here (interface functions served from a
--- sandbox). Cursor positions are counted in Unicode code points, as Jupyter counts them.
local luadoc = require "seer.introspect.luadoc"
local stdlib = require "seer._stdlib"

local M = {}

local registered = setmetatable({}, { __mode = "k" })

--- The largest Lua file read for doc comments (a source named by a function we were handed).
M.MAX_SOURCE = 4 * 1024 * 1024

-- ---------------------------------------------------------------------------------------------
-- Sources

local function read_file(path)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local data = fh:read(M.MAX_SOURCE + 1)
  fh:close()
  if not data or #data > M.MAX_SOURCE then return nil end
  return data
end

local function dir_modules(dir)
  local fs = require "seer.fs"
  local names = {}
  local function walk(rel)
    local entries = fs.list(rel == "" and dir or (dir .. "/" .. rel)) or {}
    table.sort(entries)
    for _, e in ipairs(entries) do
      local sub = rel == "" and e or (rel .. "/" .. e)
      if fs.is_dir(dir .. "/" .. sub) then
        walk(sub)
      elseif e:match("%.lua$") then
        names[#names + 1] = (sub:gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", "."))
      end
    end
  end
  walk("")
  return names
end

local names_cache
--- The stdlib's module names, sorted (those in SEER_PATH when it is set, else the embedded ones).
function M.modules()
  if not names_cache then
    local dir = stdlib.dir()
    names_cache = dir and dir_modules(dir) or stdlib.names()
    table.sort(names_cache)
  end
  return names_cache
end

--- The source and chunk name of a stdlib module, or nil.
function M.source(name)
  local dir = stdlib.dir()
  if not dir then return stdlib.source(name) end
  local rel = name:gsub("%.", "/")
  for _, form in ipairs({ "%s/%s.lua", "%s/%s/init.lua" }) do
    local path = form:format(dir, rel)
    local src = read_file(path)
    if src then return src, "@" .. path end
  end
end

-- ---------------------------------------------------------------------------------------------
-- The index: parsed modules, with the meta stubs merged into the modules they document.

local parsed, by_chunk, meta_for, all_indexed = {}, nil, nil, false

local function meta_stubs()
  if meta_for then return meta_for end
  meta_for = {}
  for _, name in ipairs(M.modules()) do
    if name:match("^seer%.meta%.") then
      local src = M.source(name)
      local target = src and src:match("^%-%-%-@meta%s+([%w_.]+)")
      if target then
        meta_for[target] = meta_for[target] or {}
        table.insert(meta_for[target], name)
      end
    end
  end
  return meta_for
end

local function merge(into, from)
  if into.description == "" then into.description = from.description end
  for _, f in ipairs(from.functions) do
    into.functions[#into.functions + 1] = f
    into.by_name[f.name] = into.by_name[f.name] or f
  end
  for _, c in ipairs(from.class_list) do
    if not into.classes[c.name] then
      into.classes[c.name] = c
      into.class_list[#into.class_list + 1] = c
    end
  end
end

--- The parsed docs of a stdlib module (its own source merged with any `---@meta` stub for it):
--- {module, description, functions, by_name, classes, class_list}, or nil when there is none.
function M.module_info(name)
  if parsed[name] ~= nil then return parsed[name] or nil end
  local src, chunk = M.source(name)
  local info
  if src and not name:match("^seer%.meta%.") then
    info = luadoc.parse(src, name)
    info.chunkname = chunk
  end
  for _, stub in ipairs(meta_stubs()[name] or {}) do
    local s, c = M.source(stub)
    local m = luadoc.parse(s, name)
    m.chunkname = c
    if info then merge(info, m) else info = m end
  end
  parsed[name] = info or false
  return info
end

local function chunk_index()
  if by_chunk then return by_chunk end
  by_chunk = {}
  for _, name in ipairs(M.modules()) do
    local _, chunk = M.source(name)
    if chunk then by_chunk[chunk] = name end
  end
  return by_chunk
end

local function index_all()
  if all_indexed then return end
  for _, name in ipairs(M.modules()) do M.module_info(name) end
  for target in pairs(meta_stubs()) do M.module_info(target) end -- C modules have only a stub
  all_indexed = true
end

local function find_entry(qualified)
  index_all()
  for _, info in pairs(parsed) do
    if info and info.by_name[qualified] then return info.by_name[qualified], info end
  end
end

local function find_class(cname)
  index_all()
  for _, info in pairs(parsed) do
    if info and info.classes[cname] then return info.classes[cname], info end
  end
end

-- Functions written in C have no source to look at: the meta stubs name them, and this finds the
-- values behind those names (module fields, and methods of classes registered by metatable name).
local c_names
local function methods_of(mt)
  local out = {}
  if type(mt) ~= "table" then return out end
  local idx = rawget(mt, "__index")
  if type(rawget(mt, "methods")) == "table" then out[#out + 1] = rawget(mt, "methods") end
  if type(idx) == "table" then
    out[#out + 1] = idx
  elseif type(idx) == "function" then
    for i = 1, 8 do
      local name, v = debug.getupvalue(idx, i)
      if name == nil then break end
      if type(v) == "table" then out[#out + 1] = v end
    end
  end
  return out
end

local function c_function_names()
  if c_names then return c_names end
  c_names = {}
  local registry = debug.getregistry()
  for target in pairs(meta_stubs()) do
    local info = M.module_info(target)
    local ok, mod = pcall(require, target)
    if info and ok and type(mod) == "table" then
      for _, f in ipairs(info.functions) do
        local fname = f.name:match("^" .. target:gsub("%.", "%%.") .. "%.([%a_][%w_]*)$")
        if fname and type(rawget(mod, fname)) == "function" then c_names[rawget(mod, fname)] = f end
      end
    end
    for _, cls in ipairs(info and info.class_list or {}) do
      for _, tbl in ipairs(methods_of(registry[cls.name])) do
        for _, mname in ipairs(cls.methods) do
          local v = rawget(tbl, mname)
          if type(v) == "function" and not c_names[v] then
            c_names[v] = info.by_name[cls.name .. ":" .. mname] or info.by_name[cls.name .. "." .. mname]
          end
        end
      end
    end
  end
  return c_names
end

-- ---------------------------------------------------------------------------------------------
-- doc()

local function public_doc(e, where)
  if not e then return nil end
  return { name = e.name, signature = e.signature, description = e.description, params = e.params,
    returns = e.returns, source = where }
end

--- Attach documentation to a function that has no readable source here (e.g. a stub that calls a
--- function served from a sandbox). `doc` has the shape `doc()` returns.
---@param fn function
---@param doc table {name, signature, description, params, returns}
function M.register(fn, doc)
  registered[fn] = doc
end

local function module_doc(name)
  local info = M.module_info(name)
  if not info then return nil end
  local lines = {}
  for _, f in ipairs(info.functions) do if f.public then lines[#lines + 1] = "  " .. f.signature end end
  local desc = info.description
  if #lines > 0 then desc = desc .. (desc ~= "" and "\n\n" or "") .. "Functions:\n" .. table.concat(lines, "\n") end
  return { name = name, signature = name, description = desc, params = {}, returns = {}, module = true }
end

local function doc_of_function(fn)
  local info = debug.getinfo(fn, "S")
  if info.what == "C" then return public_doc(c_function_names()[fn]) end
  local src = info.source
  if src:sub(1, 1) ~= "@" then return nil end
  local mod = chunk_index()[src]
  local parsed_file
  if mod then
    parsed_file = M.module_info(mod)
  else
    local text = read_file(src:sub(2))
    parsed_file = text and luadoc.parse(text, nil)
  end
  local e = parsed_file and parsed_file.by_line[info.linedefined]
  if e and not e.documented and not e.public then return nil end
  return public_doc(e, src:sub(2) .. ":" .. info.linedefined)
end

local function loaded_module_name(v)
  for name, mod in pairs(package.loaded) do
    if mod == v and type(name) == "string" and name:match("^seer") then return name end
  end
end

local resolve -- forward

--- The documentation of a function, a module table, or a name ("seer.tensor.zeros",
--- "seer.Tensor:narrow", "seer.task"): {name, signature, description, params, returns, source?},
--- or nil when there is none. Names not found in the docs are looked up in `env` (default _G).
---@param v any a value, or a dotted name
---@param env table? where names are looked up
---@return table|nil
function M.doc(v, env)
  if type(v) == "string" then
    local e = find_entry(v)
    if e then return public_doc(e) end
    local info = M.module_info(v)
    if info then return module_doc(v) end
    local ok, value = resolve(v, env)
    if ok and value ~= nil then return M.doc(value, env) end
    return nil
  end
  if registered[v] then return registered[v] end
  if type(v) == "function" then return doc_of_function(v) end
  if type(v) == "table" then
    local name = loaded_module_name(v)
    if name then return module_doc(name) end
  end
  return nil
end

--- Plain text for a doc (as help() prints it and the kernel's inspect shows it).
---@param d table a doc from M.doc
---@param detail integer? 0 (default) or 1 (adds where it is defined)
---@return string
function M.format(d, detail)
  local out = { d.signature }
  if d.description and d.description ~= "" then out[#out + 1] = "\n" .. d.description end
  if d.params and #d.params > 0 then
    out[#out + 1] = "\nParameters:"
    for _, p in ipairs(d.params) do
      local ptype = p.type or "any"
      out[#out + 1] = ("  %s%s %s%s"):format(p.name, p.optional and not ptype:match("%?$") and "?" or "", ptype,
        p.description and ("  " .. p.description) or "")
    end
  end
  if d.returns and #d.returns > 0 then
    out[#out + 1] = "\nReturns:"
    for _, r in ipairs(d.returns) do
      out[#out + 1] = ("  %s%s%s"):format(r.type or "any", r.name and (" " .. r.name) or "",
        r.description and ("  " .. r.description) or "")
    end
  end
  if (detail or 0) > 0 and d.source then out[#out + 1] = "\nDefined at " .. d.source end
  return table.concat(out, "\n")
end

-- ---------------------------------------------------------------------------------------------
-- Names in code

local KEYWORDS = {}
for k in ([[and break do else elseif end false for function goto if in local nil not or repeat
  return then true until while]]):gmatch("%a+") do KEYWORDS[k] = true end

-- Byte offset (0-based) of code point `cp` in s, and back.
local function cp_to_byte(s, cp)
  local b, n = 0, 0
  while n < cp and b < #s do
    local c = s:byte(b + 1)
    b = b + (c < 0x80 and 1 or c >= 0xF0 and 4 or c >= 0xE0 and 3 or c >= 0xC0 and 2 or 1)
    n = n + 1
  end
  return math.min(b, #s)
end

local function byte_to_cp(s, b)
  local n = 0
  for i = 1, math.min(b, #s) do
    local c = s:byte(i)
    if c < 0x80 or c >= 0xC0 then n = n + 1 end
  end
  return n
end

local function index(v, k)
  local ok, r = pcall(function() return v[k] end)
  if ok then return r end
end

-- Resolve "a.b:c" in env: ok, value. The root may also be a stdlib module name prefix
-- ("seer.tensor.zeros" when `seer` is not a global).
function resolve(path, env)
  env = env or _G
  local parts = {}
  for _, name in ("." .. path):gmatch("([%.:])([%a_][%w_]*)") do parts[#parts + 1] = name end
  if #parts == 0 or table.concat(parts, "."):gsub("[%.]", "") ~= path:gsub("[%.:]", "") then return false end
  local v = index(env, parts[1])
  local first = 2
  if v == nil then
    for n = #parts, 1, -1 do
      local modname = table.concat(parts, ".", 1, n)
      if M.module_info(modname) or package.loaded[modname] then
        local ok, mod = pcall(require, modname)
        if ok then
          v, first = mod, n + 1
          break
        end
      end
    end
  end
  for i = first, #parts do
    if v == nil then return false end
    v = index(v, parts[i])
  end
  return v ~= nil, v
end

-- The names a value offers after `.` (or `:` when methods_only): its fields, its metatables'
-- __index tables, and the methods and fields its class's docs list.
local function members(v, methods_only)
  local out, seen = {}, {}
  local function add(k, val)
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k] and not seen[k]
        and (not methods_only or type(val) == "function") then
      seen[k] = true
      out[#out + 1] = k
    end
  end
  local depth = 0
  local function walk(x)
    depth = depth + 1
    if depth > 8 then return end
    if type(x) == "table" then
      for k, val in pairs(x) do add(k, val) end
    end
    local mt = (type(x) == "table" or type(x) == "userdata" or type(x) == "string") and debug.getmetatable(x)
    if type(mt) ~= "table" then return end
    local cname = rawget(mt, "__name")
    local cls = type(cname) == "string" and find_class(cname)
    if cls then
      for _, m in ipairs(cls.methods) do add(m, function() end) end
      if not methods_only then for _, f in ipairs(cls.fields) do add(f.name, true) end end
    end
    local idx = rawget(mt, "__index")
    if type(idx) == "table" then
      walk(idx)
    else
      for _, t in ipairs(methods_of(mt)) do for k, val in pairs(t) do add(k, val) end end
    end
  end
  walk(v)
  return out
end

local function global_names(env)
  local out, seen = {}, {}
  local function add(k)
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not seen[k] then
      seen[k] = true
      out[#out + 1] = k
    end
  end
  local e, depth = env, 0
  while type(e) == "table" and depth < 8 do
    for k in pairs(e) do add(k) end
    local mt = getmetatable(e)
    e = type(mt) == "table" and rawget(mt, "__index") or nil
    depth = depth + 1
  end
  if env ~= _G then for k in pairs(_G) do add(k) end end
  for k in pairs(KEYWORDS) do add(k) end
  return out
end

local function filter(names, prefix)
  local out = {}
  for _, n in ipairs(names) do if n:sub(1, #prefix) == prefix then out[#out + 1] = n end end
  table.sort(out)
  return out
end

local function module_candidates()
  local out, seen = {}, {}
  local function add(n)
    if type(n) == "string" and not seen[n] and not n:match("^seer%.meta%.") and not n:match("^seer%._")
        and not n:match("%._") then
      seen[n] = true
      out[#out + 1] = n
    end
  end
  for _, n in ipairs(M.modules()) do add(n) end
  for n in pairs(package.preload) do add(n) end
  for n in pairs(package.loaded) do add(n) end
  return out
end

--- Completions at a cursor: Lua globals and keywords, fields after `.`, methods after `:` (through
--- metatables and __index), and module names inside `require "`. cursor_pos counts code points
--- from 0 (Jupyter's convention); the matches replace code[cursor_start, cursor_end).
---@param code string
---@param cursor_pos integer? defaults to the end of code
---@param env table? the environment names are looked up in (default _G)
---@return table {matches = string[], cursor_start = integer, cursor_end = integer}
function M.complete(code, cursor_pos, env)
  env = env or _G
  local cursor = cursor_pos and cp_to_byte(code, cursor_pos) or #code
  local before = code:sub(1, cursor)
  local function result(matches, prefix_bytes)
    local cp = byte_to_cp(code, cursor)
    return { matches = matches, cursor_start = cp - byte_to_cp(before:sub(-prefix_bytes), prefix_bytes),
      cursor_end = cp }
  end
  local modprefix = before:match("require%s*%(?%s*[\"']([%w_.%-]*)$")
  if modprefix then return result(filter(module_candidates(), modprefix), #modprefix) end
  -- Inside a string or comment there is nothing to complete.
  local chain = before:match("[%a_][%w_%.:]*$") or ""
  if before:sub(-1):match("[%.:]") and chain == "" then chain = before:match("[%w_%.:]*$") or "" end
  local head, sep, word = chain:match("^(.-)([%.:])([%w_]*)$")
  if not head then return result(filter(global_names(env), chain), #chain) end
  if head == "" or head:find("[%.:]$") or head:find(":", 1, true) then return result({}, #word) end
  local ok, base = resolve(head, env)
  if not ok then return result({}, #word) end
  return result(filter(members(base, sep == ":"), word), #word)
end

-- The name around the cursor ("a.b.c", extending to the right over the word under it), or the
-- function whose call the cursor is inside: "seer.sleep(1|" names seer.sleep.
local function name_at(code, cursor)
  local right = code:sub(cursor + 1):match("^[%w_]*")
  local before = code:sub(1, cursor) .. right
  local chain = before:match("[%a_][%w_%.:]*$")
  if chain and chain:match("[%w_]$") then return chain end
  -- Inside a call: find the nearest unclosed "(".
  local depth = 0
  for i = cursor, 1, -1 do
    local c = code:sub(i, i)
    if c == ")" then
      depth = depth + 1
    elseif c == "(" then
      if depth == 0 then
        local fn = code:sub(1, i - 1):match("([%a_][%w_%.:]*)%s*$")
        if fn and fn:match("[%w_]$") then return fn end
        return nil
      end
      depth = depth - 1
    end
  end
end

--- What the kernel's inspect and the REPL's `?name` show: the doc of the name at the cursor
--- (formatted by M.format), a line naming its type and value when it has no doc, or nil when
--- the cursor is on no name that resolves.
---@param code string
---@param cursor_pos integer? code points from 0 (default: the end)
---@param env table? default _G
---@param detail_level integer? 0 or 1
---@return string|nil
function M.inspect(code, cursor_pos, env, detail_level)
  env = env or _G
  local cursor = cursor_pos and cp_to_byte(code, cursor_pos) or #code
  local name = name_at(code, cursor)
  if not name then return nil end
  local ok, value = resolve((name:gsub(":", ".")), env)
  local d
  if ok and value ~= nil then
    d = M.doc(value, env)
  else
    d = M.doc((name:gsub(":", ".")), env)
    if not d then return nil end
  end
  if d then return M.format(d, detail_level) end
  local shown = type(value) == "string" and ("%q"):format(#value > 200 and value:sub(1, 200) .. "..." or value)
    or tostring(value)
  local text = ("%s: %s %s"):format(name, type(value), shown)
  if type(value) == "function" and (detail_level or 0) > 0 then
    local info = debug.getinfo(value, "S")
    if info.what ~= "C" then text = text .. "\nDefined at " .. info.short_src .. ":" .. info.linedefined end
  end
  return text
end

--- Print the documentation of a value or name (the REPL's and the kernel's `help`).
---@param v any a function, a module table or a dotted name
---@param env table? where names are looked up
function M.help(v, env)
  local d = M.doc(v, env)
  if d then
    print(M.format(d, 1))
  else
    print(("no documentation for %s (documented: stdlib functions, C bindings, interface functions and "
      .. "functions with --- doc comments in a readable file)"):format(type(v) == "string" and v or tostring(v)))
  end
end

return M
