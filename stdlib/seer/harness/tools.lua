--- seer.harness.tools: the tools an agent gets: explicit Lua tools, and a session's own tools
--- (run_lua, read_file, write_file, list_files confined to the workspace; a sandboxed session runs
--- them in its sandbox). Calls are checked against the tool's schema, and every failure (invalid
--- input, an unknown tool, an error raised by the tool) becomes an is_error result instead of an
--- error in the agent loop.
local json = require "seer.json"
local schema = require "seer.harness.schema"
local files = require "seer.session.files"
local fs = require "seer.fs"

local M = {}

local NAME_PATTERN = "^[%w_%-]+$"
local MAX_RESULT = 100000 -- characters of a tool result passed back to the model

--- Check a user-supplied tool list; returns a list of normalized tools.
function M.check_tools(tools, where)
  where = where or "seer.harness.run_agent"
  if tools == nil then return {} end
  if type(tools) ~= "table" then
    error(where .. ": 'tools' must be a list of {name, description, input_schema, fn}", 3)
  end
  local out, seen = {}, {}
  for i, t in ipairs(tools) do
    if type(t) ~= "table" then error(("%s: tools[%d] must be a table"):format(where, i), 3) end
    if type(t.name) ~= "string" or not t.name:match(NAME_PATTERN) or #t.name > 64 then
      error(("%s: tools[%d].name must be 1-64 letters, digits, '_' or '-' (got %s)"):format(where, i,
        tostring(t.name)), 3)
    end
    if seen[t.name] then error(("%s: two tools are named '%s'"):format(where, t.name), 3) end
    seen[t.name] = true
    if type(t.fn) ~= "function" then error(("%s: tool '%s' needs fn = function(input, ctx)"):format(where,
      t.name), 3) end
    local s = t.input_schema or { type = "object", properties = {} }
    if type(s) ~= "table" or (s.type ~= nil and s.type ~= "object") then
      error(("%s: tool '%s': input_schema must be a JSON Schema of type 'object'"):format(where, t.name), 3)
    end
    out[#out + 1] = { name = t.name, description = t.description or "", input_schema = s, fn = t.fn }
  end
  return out
end

-- ---- the session's tools ----

local realpath = fs.realpath

-- The file tools of a session object that brings none of its own (only workspace_dir and
-- run_lua): seer.session.files on the host.
local function host_file_ops(root)
  return {
    read_file = function(_, p) return files.read(root, p) end,
    write_file = function(_, p, content) return files.write(root, p, content) end,
    list_files = function(_, p) return files.list(root, p) end,
  }
end

local function format_run_lua(r)
  if type(r) ~= "table" then return tostring(r), false end
  local parts = {}
  if r.output and r.output ~= "" then parts[#parts + 1] = (r.output:gsub("\n$", "")) end
  if r.error then
    parts[#parts + 1] = tostring(r.error)
    return table.concat(parts, "\n"), true
  end
  local n = r.values and (r.values.n or #r.values) or 0
  if n > 0 then
    local list = json.array()
    for i = 1, n do
      local v = r.values[i]
      if v == nil then v = json.null end
      list[i] = v
    end
    local shown = list
    if n == 1 then shown = list[1] end -- (not `n == 1 and list[1] or list`: list[1] may be false)
    local ok, enc = pcall(json.encode, shown)
    parts[#parts + 1] = "returned: " .. (ok and enc or tostring(r.values[1]))
  end
  if #parts == 0 then return "(no output)", false end
  return table.concat(parts, "\n"), false
end

--- The tools a session gives: run_lua and confined file access.
function M.session_tools(session)
  if type(session) ~= "table" or type(session.workspace_dir) ~= "string" then
    error("seer.harness.run_agent: 'session' must be a session (with workspace_dir and run_lua)", 3)
  end
  local root = realpath(session.workspace_dir)
  if not root then
    error(("seer.harness.run_agent: the session's workspace_dir '%s' does not exist"):format(session.workspace_dir), 3)
  end
  -- A session's own file methods run where its code runs (in its sandbox, for a sandboxed one).
  local ops = type(session.read_file) == "function" and session or host_file_ops(root)
  return {
    {
      name = "run_lua",
      description = "Run Lua code in the session's persistent Lua state, where the workspace's libraries can be "
        .. "loaded with require. Returns what the code prints and the values it returns; errors come back "
        .. "with their traceback.",
      input_schema = { type = "object", properties = { code = { type = "string", description = "Lua source to run" } },
                       required = { "code" } },
      fn = function(input)
        if type(session.run_lua) ~= "function" then error("run_lua: this session cannot run Lua code", 0) end
        local content, is_error = format_run_lua(session:run_lua(input.code))
        if is_error then error(content, 0) end
        return content
      end,
    },
    {
      name = "read_file",
      description = "Read a text file from the workspace. Paths are relative to the workspace directory.",
      input_schema = { type = "object", properties = { path = { type = "string" } }, required = { "path" } },
      fn = function(input) return ops.read_file(session, input.path) end,
    },
    {
      name = "write_file",
      description = "Write (create or replace) a text file in the workspace, creating parent directories.",
      input_schema = { type = "object", properties = { path = { type = "string" }, content = { type = "string" } },
                       required = { "path", "content" } },
      fn = function(input)
        ops.write_file(session, input.path, input.content)
        return ("wrote %d bytes to %s"):format(#input.content, input.path)
      end,
    },
    {
      name = "list_files",
      description = "List a directory of the workspace (default: its root); directories end with '/'.",
      input_schema = { type = "object", properties = { path = { type = "string" } } },
      fn = function(input)
        local out = ops.list_files(session, input.path or ".")
        return #out > 0 and table.concat(out, "\n") or "(empty)"
      end,
    },
  }
end

-- ---- calling ----

local function to_content(v)
  if v == nil then return "" end
  if type(v) == "string" then return v end
  if type(v) == "table" then
    local ok, enc = pcall(json.encode, v)
    if ok then return enc end
  end
  return tostring(v)
end

local function truncate(s)
  if #s <= MAX_RESULT then return s end
  return s:sub(1, MAX_RESULT) .. ("\n... [truncated %d characters]"):format(#s - MAX_RESULT)
end

--- Run one tool call; never raises. Returns content (string) and is_error.
function M.call(by_name, call, ctx)
  local tool = by_name[call.name]
  if not tool then
    local names = {}
    for n in pairs(by_name) do names[#names + 1] = n end
    table.sort(names)
    return ("unknown tool '%s' (available: %s)"):format(tostring(call.name), table.concat(names, ", ")), true
  end
  if call.input_error then return ("invalid input for tool '%s': %s"):format(call.name, call.input_error), true end
  local ok, why = schema.validate(tool.input_schema, call.input)
  if not ok then return ("invalid input for tool '%s': %s"):format(call.name, why), true end
  local ok2, result = pcall(tool.fn, call.input, ctx)
  if not ok2 then
    if result == require("seer.task").CANCELLED then error(result, 0) end
    return truncate(to_content(result)), true
  end
  return truncate(to_content(result)), false
end

return M
