--- seer.mcp.tools: a registry of MCP tools, the part of an MCP server that knows what can be called.
--- Any Lua table of tools can be served through it (an interface, a notebook's agent tools, ...):
---
---     local reg = tools.new({ max_result = 1 << 20 })
---     reg:add{ name = "add", description = "Add two numbers",
---              input_schema = { type = "object", properties = { a = { type = "number" },
---                               b = { type = "number" } }, required = { "a", "b" } },
---              call = function(args, ctx) return args.a + args.b end }
---
--- `call` returns a value (sent as JSON text content plus structuredContent), or `tools.result{...}`
--- for content of its own (images, several blocks). A raised error becomes a result with
--- isError = true: an error object {message, traceback} keeps its traceback.
local json = require "seer.json"
local schema = require "seer.harness.schema"
local task = require "seer.task"

local M = {}

local null = json.null
local MAX_RESULT = 1024 * 1024 -- bytes of JSON text in one tool result
local NAME_PATTERN = "^[%w_%-%.]+$"

---@class seer.mcp.Registry
local Registry = {}
Registry.__index = Registry
M.Registry = Registry

--- A new registry. Options: `max_result` (bytes of result text before it is truncated).
---@return seer.mcp.Registry
function M.new(opts)
  opts = opts or {}
  return setmetatable({ list = {}, by_name = {}, max_result = opts.max_result or MAX_RESULT }, Registry)
end

local Result = { __name = "seer.mcp.result" }

--- A tool result with content of its own: `{content = {{type = "text", text = ...}, {type = "image",
--- data = base64, mimeType = "image/png"}}, structured = value|nil, is_error = bool|nil}`.
function M.result(r)
  if type(r) ~= "table" or type(r.content) ~= "table" then
    error("seer.mcp.tools.result: expected {content = {...}, structured = ..., is_error = ...}", 2)
  end
  return setmetatable(r, Result)
end

--- Add a tool. `t`: name, description, input_schema (a JSON Schema object; default: no arguments),
--- output_schema (optional, an object schema), title, annotations, call = function(args, ctx).
function Registry:add(t)
  if type(t) ~= "table" then error("seer.mcp: add expects a tool table", 2) end
  if type(t.name) ~= "string" or not t.name:match(NAME_PATTERN) or #t.name > 128 then
    error(("seer.mcp: tool name '%s' must be 1-128 letters, digits, '_', '-' or '.'"):format(tostring(t.name)), 2)
  end
  if self.by_name[t.name] then error(("seer.mcp: two tools are named '%s'"):format(t.name), 2) end
  if type(t.call) ~= "function" then
    error(("seer.mcp: tool '%s' needs call = function(args, ctx)"):format(t.name), 2)
  end
  local input = t.input_schema or { type = "object", properties = json.object({}) }
  if type(input) ~= "table" or input.type ~= "object" then
    error(("seer.mcp: tool '%s': input_schema must be a JSON Schema of type 'object'"):format(t.name), 2)
  end
  if t.output_schema ~= nil and (type(t.output_schema) ~= "table" or t.output_schema.type ~= "object") then
    error(("seer.mcp: tool '%s': output_schema must be a JSON Schema of type 'object'"):format(t.name), 2)
  end
  local tool = { name = t.name, title = t.title, description = t.description, input_schema = input,
                 output_schema = t.output_schema, annotations = t.annotations, call = t.call,
                 wrap_result = t.wrap_result }
  self.list[#self.list + 1] = tool
  self.by_name[t.name] = tool
  return tool
end

--- The tools as MCP lists them, in the order they were added.
function Registry:describe()
  local out = {}
  for i, t in ipairs(self.list) do
    out[i] = {
      name = t.name, title = t.title, description = t.description,
      inputSchema = schema.to_json(t.input_schema),
      outputSchema = t.output_schema and schema.to_json(t.output_schema) or nil,
      annotations = t.annotations,
    }
  end
  return json.array(out)
end

-- ---------------------------------------------------------------------------------------------
-- Values -> JSON: tensors become nested lists, bytes that are not UTF-8 become U+FFFD, NaN and
-- infinities become strings; functions and cycles are refused.

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local d1, d2 = math.floor(n / 262144) % 64, math.floor(n / 4096) % 64
    local d3, d4 = math.floor(n / 64) % 64, n % 64
    out[#out + 1] = B64:sub(d1 + 1, d1 + 1) .. B64:sub(d2 + 1, d2 + 1)
      .. (b and B64:sub(d3 + 1, d3 + 1) or "=") .. (c and B64:sub(d4 + 1, d4 + 1) or "=")
  end
  return table.concat(out)
end
M.base64 = base64

local function is_utf8(s)
  if utf8 and utf8.len then return utf8.len(s) ~= nil end
  -- LuaJIT has no utf8 library: check the byte sequences by hand.
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local len = c < 0x80 and 1 or (c >= 0xC2 and c < 0xE0) and 2 or (c >= 0xE0 and c < 0xF0) and 3
      or (c >= 0xF0 and c < 0xF5) and 4 or nil
    if not len or i + len - 1 > n then return false end
    for j = i + 1, i + len - 1 do
      local cc = s:byte(j)
      if cc < 0x80 or cc > 0xBF then return false end
    end
    i = i + len
  end
  return true
end

--- `s` as valid UTF-8: bytes that are not part of a valid sequence become U+FFFD (JSON carries
--- only text; Lua strings are bytes, and a sandbox's may be anything).
function M.utf8_safe(s)
  s = tostring(s)
  if is_utf8(s) then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = s:byte(i)
    local len = c < 0x80 and 1 or (c >= 0xC2 and c < 0xE0) and 2 or (c >= 0xE0 and c < 0xF0) and 3
      or (c >= 0xF0 and c < 0xF5) and 4 or nil
    local piece = len and s:sub(i, i + len - 1)
    if piece and #piece == len and is_utf8(piece) then
      out[#out + 1] = piece
      i = i + len
    else
      out[#out + 1] = "\239\191\189" -- U+FFFD REPLACEMENT CHARACTER
      i = i + 1
    end
  end
  return table.concat(out)
end

local function plain(v, seen, depth)
  local tv = type(v)
  if tv == "string" then
    return M.utf8_safe(v) -- a string stays a string, as its schema says
  elseif tv == "number" then
    if v ~= v then return "NaN" end
    if v == math.huge then return "Infinity" end
    if v == -math.huge then return "-Infinity" end
    return v
  elseif tv == "boolean" or v == nil or v == null then
    return v == nil and null or v
  elseif tv == "userdata" then
    local ok, list = pcall(function() return v:totable() end) -- a tensor
    if ok and type(list) == "table" then return plain(list, seen, depth) end
    error(("cannot send a %s as JSON"):format(tostring(v)), 0)
  elseif tv == "table" then
    if depth > 100 then error("the result is nested more than 100 levels deep", 0) end
    if seen[v] then error("the result contains a cycle", 0) end
    seen[v] = true
    local mt = getmetatable(v)
    local out
    local n = #v
    local count = 0
    for _ in pairs(v) do count = count + 1 end
    if (n > 0 and count == n) or (mt and mt == getmetatable(json.array())) then
      out = json.array()
      for i = 1, n do out[i] = plain(v[i], seen, depth + 1) end
    elseif mt and mt.__name == "msgpack.ext" then
      out = json.object({ type = "msgpack-ext", ext = v.type, base64 = base64(v.data or "") })
    else
      out = json.object()
      for k in pairs(v) do
        if type(k) ~= "string" and type(k) ~= "number" then error("the result has a key of type " .. type(k), 0) end
      end
      for _, k in ipairs(json.keys(v)) do out[tostring(k)] = plain(v[k], seen, depth + 1) end -- in v's key order
    end
    seen[v] = nil
    return out
  end
  error(("cannot send a %s as JSON"):format(tv), 0)
end

--- A JSON-ready copy of a Lua value (tensors as nested lists).
function M.plain(v) return plain(v, {}, 0) end

local function cut_utf8(s, n)
  if #s <= n then return s end
  local i = n
  -- Back off to the start of a UTF-8 sequence so the text stays valid.
  while i > 0 and s:byte(i + 1) and s:byte(i + 1) >= 0x80 and s:byte(i + 1) < 0xC0 do i = i - 1 end
  return s:sub(1, i)
end

local function is_object(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  if mt == getmetatable(json.array()) then return false end
  return mt == getmetatable(json.object()) or (next(v) ~= nil and #v == 0)
end

--- Shape a tool's return value into an MCP CallToolResult.
function Registry:success(tool, value)
  if getmetatable(value) == Result then
    return { content = json.array(value.content), structuredContent = value.structured,
             isError = value.is_error and true or nil }
  end
  local ok, p = pcall(plain, value, {}, 0)
  if not ok then return self:failure(("the result of '%s' cannot be sent: %s"):format(tool.name, tostring(p))) end
  local text = type(p) == "string" and p or json.encode(p)
  if #text > self.max_result then
    local note = ("\n... [truncated: the result is %d bytes of JSON, more than this server's limit of %d]"):format(
      #text, self.max_result)
    return { content = json.array({ { type = "text", text = cut_utf8(text, self.max_result) .. note } }),
             structuredContent = { truncated = { bytes = #text, limit = self.max_result } } }
  end
  local structured
  if tool.output_schema and tool.wrap_result then
    structured = p == null and json.object({}) or { result = p } -- nothing returned: no result
  elseif is_object(p) then
    structured = p
  else
    structured = { result = p }
  end
  return { content = json.array({ { type = "text", text = text } }), structuredContent = structured }
end

--- An isError result with `message` (and a traceback when there is one).
function Registry:failure(message, traceback)
  local text = M.utf8_safe(message)
  if traceback and traceback ~= "" then text = text .. "\n" .. M.utf8_safe(traceback) end
  if #text > self.max_result then text = cut_utf8(text, self.max_result) .. "\n... [truncated]" end
  return { content = json.array({ { type = "text", text = text } }), isError = true }
end

--- Validate `args` against the tool's input schema: true, or false and the problems.
function Registry.check_args(_, tool, args)
  local is_object_table = type(args) == "table" and getmetatable(args) ~= getmetatable(json.array()) and #args == 0
  if args ~= nil and args ~= null and not is_object_table then return false, "arguments must be a JSON object" end
  return schema.validate(tool.input_schema, (args == nil or args == null) and {} or args)
end

--- Run a tool. Returns a CallToolResult; an unknown tool returns nil and a message (a protocol
--- error, -32602). Argument errors are results with isError unless `strict_args`, which returns
--- nil, message, "args" instead (the 2025-06-18 behaviour). Never raises, except when the task is
--- cancelled.
function Registry:call(name, args, ctx, strict_args)
  local tool = self.by_name[name]
  if not tool then
    local names = {}
    for i, t in ipairs(self.list) do names[i] = t.name end
    return nil, ("unknown tool '%s' (available: %s)"):format(tostring(name), table.concat(names, ", "))
  end
  local ok, why = self:check_args(tool, args)
  if not ok then
    local msg = ("invalid arguments for tool '%s': %s"):format(name, why)
    if strict_args then return nil, msg, "args" end
    return self:failure(msg)
  end
  if args == nil or args == null then args = json.object({}) end
  local cok, value = xpcall(tool.call, function(e)
    if e == task.CANCELLED then return e end
    if type(e) == "table" then return e end
    local tb = debug.traceback("", 2):gsub("^\n", ""):gsub("\n%s*%[C%]: in function 'xpcall'.*$", "")
    return { message = tostring(e), traceback = tb }
  end, args, ctx or {})
  if cok then return self:success(tool, value) end
  if value == task.CANCELLED then error(value, 0) end
  local e = value
  if type(e) == "table" and getmetatable(e) and getmetatable(e).__tostring and not e.message then
    return self:failure(tostring(e))
  end
  local msg = type(e) == "table" and (e.message or e[1]) or e
  if type(e) == "table" and e.type and e.type ~= "RuntimeError" then msg = e.type .. ": " .. tostring(msg) end
  return self:failure(tostring(msg), type(e) == "table" and e.traceback or nil)
end

return M
