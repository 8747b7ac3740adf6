--- seer.harness.schema: checks tool input against a tool's JSON Schema (the subset tools use:
--- type, properties, required, additionalProperties = false, items, anyOf, enum, minimum/maximum,
--- minLength/maxLength, minItems/maxItems) and prepares schemas for JSON encoding.
local json = require "seer.json"

local M = {}

local null = json.null

local ARRAY_MT, OBJECT_MT = getmetatable(json.array()), getmetatable(json.object())

local function is_array(v)
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

local function is_integer(v)
  return type(v) == "number" and v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53
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

local function describe(v)
  local t = type_of(v)
  if t == "string" then return ("string %q"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  if t == "number" or t == "integer" or t == "boolean" then return t .. " " .. tostring(v) end
  return t
end

local function check(schema, v, path, errs)
  if type(schema) ~= "table" then return end
  local where = path == "" and "input" or path
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
      check(sub, v, path, sub_errs)
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
        if v[k] ~= nil then check(sub, v[k], path == "" and k or (path .. "." .. k), errs) end
      end
      if schema.additionalProperties == false then
        for k in pairs(v) do
          if props[k] == nil then errs[#errs + 1] = ("%s: unexpected property '%s'"):format(where, tostring(k)) end
        end
      end
    end
    if schema.items and (schema.type == "array" or is_array(v)) then
      for i = 1, #v do check(schema.items, v[i], ("%s[%d]"):format(path == "" and "input" or path, i), errs) end
    end
    if schema.minItems and #v < schema.minItems then errs[#errs + 1] = ("%s: fewer than %d items"):format(where,
      schema.minItems) end
    if schema.maxItems and #v > schema.maxItems then errs[#errs + 1] = ("%s: more than %d items"):format(where,
      schema.maxItems) end
  end
end

--- Validate `value` against `schema`; returns true, or false and a message listing every problem.
function M.validate(schema, value)
  local errs = {}
  check(schema, value, "", errs)
  if #errs == 0 then return true end
  return false, table.concat(errs, "; ")
end

local ARRAY_KEYS = { required = true, enum = true, anyOf = true, oneOf = true, allOf = true, type = true,
                     prefixItems = true }

--- A deep copy of a schema ready for json.encode: list-valued keywords stay arrays even when empty,
--- and `properties` stays an object. `keep` (optional) is a set of keywords to keep (others are
--- dropped, recursively), for providers that accept only a subset.
function M.to_json(schema, keep)
  -- Objects are copied in the source's key order (json.keys), so properties keep their
  -- declaration order in request bodies.
  local function copy(s, key)
    if type(s) ~= "table" then return s end
    if ARRAY_KEYS[key] or (key ~= "properties" and is_array(s)) then
      local out = {}
      for i = 1, #s do out[i] = copy(s[i]) end
      return json.array(out)
    end
    local out = json.object()
    for _, k in ipairs(json.keys(s)) do
      if key == "properties" then
        out[k] = copy(s[k])
      elseif not keep or keep[k] then
        out[k] = copy(s[k], k)
      end
    end
    return out
  end
  return copy(schema or { type = "object" })
end

return M
