--- seer.schema: the one argument checker. Checks a value against a JSON Schema (the subset tools
--- and interfaces use: type, properties, required, additionalProperties = false, items, anyOf, enum,
--- minimum/maximum, minLength/maxLength, minItems/maxItems). Harness tools (seer.harness.tools), MCP
--- tools (seer.mcp.tools) and interface calls (seer.interface, from the schema its LuaLS
--- annotations give) all check their arguments with it.
local json = require "seer.json"

local M = {}

local null = json.null

local ARRAY_MT, OBJECT_MT = getmetatable(json.array()), getmetatable(json.object())

--- Whether a table is a JSON array: marked by json.array, or a non-empty sequence 1..n with no other
--- keys (an unmarked empty table is neither, and matches both array and object types).
---@param v any
---@return boolean
function M.is_array(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  if mt and mt == ARRAY_MT then return true end
  if mt and mt == OBJECT_MT then return false end
  local n = #v
  if n == 0 then return false end
  local count = 0
  for _ in pairs(v) do count = count + 1 end
  return count == n
end
local is_array = M.is_array

-- A Lua integer of any size, or a float with no fractional part that a double holds exactly.
local function is_integer(v)
  if type(v) ~= "number" then return false end
  if math.type and math.type(v) == "integer" then return true end
  return v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53
end

local function type_of(v)
  if v == nil or v == null then return "null" end
  local t = type(v)
  if t == "table" then return is_array(v) and "array" or "object" end
  if t == "number" then return is_integer(v) and "integer" or "number" end
  return t -- string, boolean
end

local function matches_type(v, want)
  local got = type_of(v)
  if want == got then return true end
  if want == "number" and got == "integer" then return true end
  -- An empty Lua table is both an empty array and an empty object.
  if type(v) == "table" and next(v) == nil and (want == "array" or want == "object") then return true end
  return false
end

--- A short description of a value for error messages: its JSON type, and the value itself when it
--- is a scalar (strings cut at 40 bytes), e.g. `string "x"`, `integer 3`, `array`.
---@param v any
---@return string
function M.describe(v)
  local t = type_of(v)
  if t == "string" then return ("string %q"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  if t == "number" or t == "integer" or t == "boolean" then return t .. " " .. tostring(v) end
  return t
end

local describe = M.describe

-- Appends to errs a message for every way v breaks schema; `path` names v ("" for the root, which
-- messages call `root`).
local function check(schema, v, path, errs, root)
  if type(schema) ~= "table" then return end
  local where = path == "" and root or path
  local want = schema.type
  if want ~= nil then
    local ok = false
    if type(want) == "table" then
      for _, w in ipairs(want) do if matches_type(v, w) then ok = true break end end
      want = table.concat(want, " or ")
    else
      ok = matches_type(v, want)
    end
    if not ok then
      errs[#errs + 1] = ("%s: expected %s, got %s"):format(where, want, describe(v))
      return
    end
  end
  if schema.anyOf ~= nil then
    local matched = false
    for _, sub in ipairs(schema.anyOf) do
      local sub_errs = {}
      check(sub, v, path, sub_errs, root)
      if #sub_errs == 0 then matched = true break end
    end
    if not matched then
      errs[#errs + 1] = ("%s: matches none of the allowed types, got %s"):format(where, describe(v))
      return
    end
  end
  if schema.enum ~= nil then
    local found = false
    for _, e in ipairs(schema.enum) do if e == v then found = true break end end
    if not found then
      local vals = {}
      for i, e in ipairs(schema.enum) do vals[i] = json.encode(e) end
      errs[#errs + 1] = ("%s: must be one of %s, got %s"):format(where, table.concat(vals, ", "), describe(v))
    end
  end
  local t = type_of(v)
  if (t == "number" or t == "integer") then
    if schema.minimum and v < schema.minimum then errs[#errs + 1] = ("%s: must be >= %s"):format(where,
      schema.minimum) end
    if schema.maximum and v > schema.maximum then errs[#errs + 1] = ("%s: must be <= %s"):format(where,
      schema.maximum) end
  elseif t == "string" then
    if schema.minLength and #v < schema.minLength then errs[#errs + 1] = ("%s: shorter than %d"):format(where,
      schema.minLength) end
    if schema.maxLength and #v > schema.maxLength then errs[#errs + 1] = ("%s: longer than %d"):format(where,
      schema.maxLength) end
  elseif type(v) == "table" then
    if schema.properties or schema.required or schema.additionalProperties == false then
      if is_array(v) then
        if schema.type == "object" then errs[#errs + 1] = ("%s: expected object, got array"):format(where) end
        return
      end
      for _, name in ipairs(schema.required or {}) do
        if v[name] == nil then
          errs[#errs + 1] = ("%s: missing required property '%s'"):format(where, name)
        end
      end
      local props = schema.properties or {}
      for k, sub in pairs(props) do
        if v[k] ~= nil then check(sub, v[k], path == "" and k or (path .. "." .. k), errs, root) end
      end
      if schema.additionalProperties == false then
        for k in pairs(v) do
          if props[k] == nil then errs[#errs + 1] = ("%s: unexpected property '%s'"):format(where, tostring(k)) end
        end
      end
    end
    if schema.items and (schema.type == "array" or is_array(v)) then
      for i = 1, #v do check(schema.items, v[i], ("%s[%d]"):format(where, i), errs, root) end
    end
    if schema.minItems and #v < schema.minItems then errs[#errs + 1] = ("%s: fewer than %d items"):format(where,
      schema.minItems) end
    if schema.maxItems and #v > schema.maxItems then errs[#errs + 1] = ("%s: more than %d items"):format(where,
      schema.maxItems) end
  end
end

--- Check `value` against `schema`. Returns true, or false and a message listing every problem, each
--- prefixed by where it lies (`root` for the value itself, `root[2]`, `name.field`, ...).
---@param schema table a JSON Schema (the subset above)
---@param value any
---@param root? string what messages call the value itself (default "input")
---@return boolean ok
---@return string? problems
function M.validate(schema, value, root)
  local errs = {}
  check(schema, value, "", errs, root or "input")
  if #errs == 0 then return true end
  return false, table.concat(errs, "; ")
end

--- Check an options table against the names a function takes: nil gives a fresh empty table, a
--- non-table or a key outside `valid` raises, naming the function and the valid names. The error
--- points at the line that called `fn` (level 3 from here: call check_options directly from `fn`,
--- and not as a tail call).
---@param fn string the function's public name, for messages
---@param opts table|nil
---@param valid string[] the option names `fn` takes
---@return table opts
function M.check_options(fn, opts, valid)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("%s: options must be a table, got %s"):format(fn, type(opts)), 3)
  end
  for k in pairs(opts) do
    local known = false
    for _, name in ipairs(valid) do
      if k == name then known = true break end
    end
    if not known then
      error(("%s: unknown option '%s' (valid: %s)"):format(fn, tostring(k), table.concat(valid, ", ")), 3)
    end
  end
  return opts
end

return M
