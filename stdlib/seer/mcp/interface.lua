--- seer.mcp.interface: MCP tools for the exposed functions of an interface file, either loaded in
--- this process (seer.interface) or served elsewhere and reached over msgpack-RPC (a sandbox's
--- socket, `seer-lua serve`). Names, descriptions and schemas come from the interface's
--- annotations, in definition order; a `@return` annotation becomes an outputSchema whose
--- `result` property holds the value.
local json = require "seer.json"
local tools = require "seer.mcp.tools"

local M = {}

-- A deep copy that keeps arrays arrays and objects in their key order (json.keys).
local function copy(v)
  if type(v) ~= "table" then return v end
  if getmetatable(v) == getmetatable(json.array()) then
    local out = json.array()
    for i = 1, #v do out[i] = copy(v[i]) end
    return out
  end
  local out = json.object()
  for _, k in ipairs(json.keys(v)) do out[k] = copy(v[k]) end
  return out
end

-- The input schema as the interface describes it; an argument the function does not have is
-- refused by the interface, so the schema says so.
local function input_schema(f)
  if f.input_schema ~= nil and type(f.input_schema) ~= "table" then
    error(("the input schema of '%s' is not an object"):format(f.name), 0)
  end
  local s = copy(f.input_schema or { type = "object" })
  s.type = "object"
  s.properties = s.properties or json.object({})
  s.additionalProperties = false
  return s
end

local function output_schema(f)
  if not f.returns then return nil end
  local result = type(f.returns.schema) == "table" and copy(f.returns.schema) or json.object()
  if f.returns.description then result.description = f.returns.description end
  return json.ordered({
    { "type", "object" },
    { "properties", json.ordered({
      { "result", result },
      { "truncated", { type = "object", description = "present instead of result when the result was larger "
        .. "than the server's limit; the text content then holds its beginning" } },
    }) },
  })
end

--- A registry with one tool per function of `description` (the seer.describe format).
--- `call(name, args)` runs a function with named arguments and returns its result or raises.
---@return seer.mcp.Registry
function M.registry(description, call, opts)
  local reg = tools.new(opts)
  for _, f in ipairs(description.functions or {}) do
    local name = f.name
    reg:add({
      name = name, description = f.description ~= "" and f.description and tools.utf8_safe(f.description) or nil,
      input_schema = input_schema(f), output_schema = output_schema(f), wrap_result = true,
      call = function(args) return call(name, args) end,
    })
  end
  return reg
end

--- Tools for an interface loaded in this process (seer.interface.load).
function M.from_interface(iface, opts)
  return M.registry(iface:describe(), function(name, args) return iface:call(name, nil, args) end, opts)
end

--- Tools for an interface served at the other end of a seer.rpc client.
function M.from_rpc(client, opts)
  local description = client:describe()
  -- The description may come from a sandbox: checked like the host checks it before using it.
  require("seer.sandbox.interface_docs").check(description, "seer-lua mcp")
  return M.registry(description, function(name, args)
    local ok, result = pcall(client.call_named, client, name, args)
    if ok then return result end
    local e = result
    if type(e) == "table" and e.type == "ConnectionClosed" then
      error({ message = ("the interface server at %s is gone (did its sandbox exit?): %s"):format(client.address,
        tostring(e.message)) }, 0)
    end
    error(e, 0)
  end, opts), description
end

return M
