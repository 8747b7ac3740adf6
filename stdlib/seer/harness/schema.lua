--- seer.harness.schema: prepares tool schemas for JSON encoding; checking tool input against a
--- schema is seer.schema's (re-exported here as validate).
local json = require "seer.json"
local checker = require "seer.schema"

local M = {}

--- Check `value` against `schema` (seer.schema.validate): true, or false and every problem.
M.validate = checker.validate

local is_array = checker.is_array

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
