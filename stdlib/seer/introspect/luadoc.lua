--- seer.introspect.luadoc: reads LuaLS doc comments out of Lua source text. The project's docs
--- convention: a `---` comment block directly above `function M.f(...)` (or `function Class:m`,
--- `M.f = function(...)`) holds the description and `---@param name[?] type description` /
--- `---@return type [name] description` lines; `---@class` names a table, `---@field` lists its
--- fields, and a `---@meta <module>` file documents functions written in C. The source is only
--- read as text here, never run.
local M = {}

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local OPEN = { ["("] = ")", ["{"] = "}", ["<"] = ">", ["["] = "]" }
local CLOSE = { [")"] = true, ["}"] = true, [">"] = true, ["]"] = true }

--- Split "type rest" where the type may hold balanced brackets and `|` alternatives with spaces
--- around them (`fun(x: integer): string`, `table<string, number>`, `string | nil`).
--- Returns the type and the rest (trimmed), or nil when the text starts with no type.
function M.split_type(text)
  text = text:gsub("^%s+", "")
  if text == "" then return nil, "" end
  local depth, i, n = 0, 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if OPEN[c] then
      depth = depth + 1
    elseif CLOSE[c] then
      depth = depth - 1
    elseif c:match("%s") and depth <= 0 then
      -- "a | b": the type goes on across a `|` with spaces around it; "fun(): T" across ": ".
      local after = text:match("^%s*|%s*()", i)
      local prev = text:sub(i - 1, i - 1)
      if after then
        i = after
      elseif prev == ":" or prev == "," then
        i = text:match("^%s*()", i)
      else
        break
      end
      i = i - 1
    end
    i = i + 1
  end
  return text:sub(1, i - 1), trim(text:sub(i))
end

local function parse_param(text)
  local name, rest = text:match("^@param%s+([%a_][%w_]*%??)%s*(.*)$")
  if not name then
    name, rest = text:match("^@param%s+(%.%.%.)%s*(.*)$")
  end
  if not name then return nil end
  local optional = name:sub(-1) == "?"
  if optional then name = name:sub(1, -2) end
  local ptype, desc = M.split_type(rest)
  ptype = ptype or "any"
  if ptype:sub(-1) == "?" or ptype:find("|%s*nil") or ptype:find("^nil%s*|") then optional = true end
  return { name = name, type = ptype, optional = optional, description = desc ~= "" and desc or nil }
end

local function parse_return(text)
  local rest = text:match("^@return%s*(.*)$")
  local rtype, after = M.split_type(rest or "")
  if not rtype then return { type = "any" } end
  local rname, desc = after:match("^([%a_][%w_]*)%s*(.*)$")
  -- "@return T name desc" (LuaLS) vs "@return T desc": a lone first word that is followed by more
  -- text and looks like a name is taken as the name only when a `#` or nothing follows it.
  if rname and (desc == "" or desc:sub(1, 1) == "#") then
    desc = desc:gsub("^#%s*", "")
  else
    rname, desc = nil, after:gsub("^#%s*", "")
  end
  return { type = rtype, name = rname, description = desc ~= "" and desc or nil }
end

-- The definition forms a documented function can take: what precedes the name, and its params.
local DEFS = {
  { "^%s*function%s+([%a_][%w_]*)([%.:])([%a_][%w_]*)%s*%(([^)]*)%)", "table" },
  { "^%s*([%a_][%w_]*)%.([%a_][%w_]*)%s*=%s*function%s*%(([^)]*)%)", "assign" },
  { "^%s*local%s+function%s+([%a_][%w_]*)%s*%(([^)]*)%)", "local" },
  { "^%s*function%s+([%a_][%w_]*)%s*%(([^)]*)%)", "global" },
}

local function match_def(line)
  for _, d in ipairs(DEFS) do
    local a, b, c, e = line:match(d[1])
    if a then
      if d[2] == "table" then return { owner = a, sep = b, name = c, arglist = e } end
      if d[2] == "assign" then return { owner = a, sep = ".", name = b, arglist = c } end
      return { name = a, arglist = b, kind = d[2] }
    end
  end
end

local function arg_names(arglist)
  local names = {}
  for a in arglist:gmatch("[^,]+") do
    a = trim(a)
    if a ~= "" then names[#names + 1] = a end
  end
  return names
end

-- The `---` block ending just above line i (stops at a blank or code line).
local function block_above(lines, i)
  local first = i
  while first > 1 and lines[first - 1]:match("^%s*%-%-%-") do first = first - 1 end
  local out = {}
  for j = first, i - 1 do out[#out + 1] = lines[j]:gsub("^%s*%-%-%-%s?", "") end
  return out, first
end

--- Parse one `---` block (the lines without their `---`) into {description, params, returns,
--- tags}. params is a list in order (each {name, type, optional, description}); returns a list.
function M.parse_block(block)
  local doc = { params = {}, returns = {}, tags = {} }
  local desc = {}
  for _, text in ipairs(block) do
    if text:match("^@param") then
      local p = parse_param(text)
      if p then doc.params[#doc.params + 1] = p end
    elseif text:match("^@return") then
      doc.returns[#doc.returns + 1] = parse_return(text)
    elseif text:match("^@") then
      local tag, rest = text:match("^@([%w_]+)%s*(.*)$")
      if tag then doc.tags[#doc.tags + 1] = { tag = tag, text = rest } end
    else
      desc[#desc + 1] = text
    end
  end
  doc.description = trim(table.concat(desc, "\n"))
  return doc
end

local function signature(qualified, args, doc)
  local optional = {}
  for _, p in ipairs(doc.params) do if p.optional then optional[p.name] = true end end
  local shown = {}
  for i, a in ipairs(args) do shown[i] = a .. (optional[a] and "?" or "") end
  local sig = qualified .. "(" .. table.concat(shown, ", ") .. ")"
  if #doc.returns > 0 then
    local rs = {}
    for i, r in ipairs(doc.returns) do rs[i] = r.type end
    sig = sig .. " -> " .. table.concat(rs, ", ")
  end
  return sig
end

--- Parse a Lua source text. `module` is its module name (for `M.f` -> `module.f`); a `---@meta
--- <name>` line overrides it. Returns {module, description, functions, by_line, by_name, classes}:
--- functions in source order, each {name, signature, description, params, returns, line, public};
--- classes[name] = {name, description, fields = {{name, type, description}}, methods = {names}}.
function M.parse(source, module)
  local lines = {}
  for line in (source .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  local info = { module = module, functions = {}, by_line = {}, by_name = {}, classes = {}, class_list = {} }
  local meta = lines[1] and lines[1]:match("^%-%-%-@meta%s*([%w_.]*)")
  if meta and meta ~= "" then info.module = meta end
  -- The module header: the first `---` block, when the file opens with one.
  local head, start = {}, meta and 2 or 1
  for j = start, #lines do
    local t = lines[j]:match("^%-%-%-%s?(.*)$")
    if not t or t:match("^@") then break end
    head[#head + 1] = t
  end
  info.description = trim(table.concat(head, "\n"))
  -- Which local names stand for the module table and for classes.
  local owners = {}
  local returned = "M"
  for j = #lines, 1, -1 do
    local r = lines[j]:match("^return%s+([%a_][%w_]*)%s*$")
      or lines[j]:match("^return%s+setmetatable%(%s*([%a_][%w_]*)")
    if r then returned = r break end
    if lines[j]:match("%S") then break end
  end
  owners[returned] = info.module
  for j = 1, #lines do
    local cname = lines[j]:match("^%s*%-%-%-@class%s+([%w_.]+)")
    if cname then
      -- The whole `---` block around the @class line: LuaLS puts @field lines below it.
      local last = j
      while lines[last + 1] and lines[last + 1]:match("^%s*%-%-%-") do last = last + 1 end
      local block = block_above(lines, last + 1)
      local cls = info.classes[cname] or { name = cname, fields = {}, methods = {} }
      local desc = {}
      for _, t in ipairs(block) do
        local fname, rest = t:match("^@field%s+([%a_][%w_]*%??)%s*(.*)$")
        if fname then
          local ftype, fdesc = M.split_type(rest)
          cls.fields[#cls.fields + 1] = { name = (fname:gsub("%?$", "")), type = ftype or "any",
            description = fdesc ~= "" and fdesc or nil }
        elseif not t:match("^@") then
          desc[#desc + 1] = t
        end
      end
      if #desc > 0 and cls.description == nil then cls.description = trim(table.concat(desc, "\n")) end
      if not info.classes[cname] then
        info.classes[cname] = cls
        info.class_list[#info.class_list + 1] = cls
      end
      -- `---@class seer.Tensor` followed by `local Tensor = ...`: the local names the class.
      local k = j + 1
      while lines[k] and lines[k]:match("^%s*%-%-%-") do k = k + 1 end
      local var = lines[k] and lines[k]:match("^%s*local%s+([%a_][%w_]*)%s*=")
      if var and var ~= returned then owners[var] = cname end
    end
  end
  for i = 1, #lines do
    local def = match_def(lines[i])
    if def then
      local block = block_above(lines, i)
      local doc = M.parse_block(block)
      local qualified, public
      if def.owner then
        local owner = owners[def.owner]
        qualified = (owner or def.owner) .. def.sep .. def.name
        public = owner ~= nil and def.name:sub(1, 1) ~= "_" and (#block > 0 or meta ~= nil)
        local cls = owner and info.classes[owner]
        if cls then cls.methods[#cls.methods + 1] = def.name end
      else
        qualified, public = def.name, false
      end
      local args = arg_names(def.arglist)
      local entry = {
        name = qualified, signature = signature(qualified, args, doc), description = doc.description,
        params = doc.params, returns = doc.returns, line = i, public = public, documented = #block > 0,
        args = args,
      }
      info.functions[#info.functions + 1] = entry
      info.by_line[i] = entry
      info.by_name[qualified] = info.by_name[qualified] or entry
    end
  end
  return info
end

return M
