--- seer.sandbox.interface_docs: turn a served interface's description (from `seer.describe`) into
--- the forms `serve` offers: a Library whose stubs call the server, prompt markdown, or a Skill.
local workspace = require "seer.workspace"

local M = {}

local function functions(description)
  return (description and description.functions) or {}
end

local function param_list(fn)
  local names = {}
  for i, p in ipairs(fn.params or {}) do names[i] = p.name end
  return names
end

local function lua_doc_lines(fn)
  local out = {}
  for line in ((fn.description or "") .. "\n"):gmatch("([^\n]*)\n") do
    if line ~= "" then out[#out + 1] = "--- " .. line end
  end
  for _, p in ipairs(fn.params or {}) do
    out[#out + 1] = ("---@param %s%s %s%s"):format(p.name, p.optional and "?" or "", p.type or "any",
      p.description and p.description ~= "" and (" " .. p.description) or "")
  end
  if fn.returns then
    out[#out + 1] = ("---@return %s%s"):format(fn.returns.type or "any",
      fn.returns.description and fn.returns.description ~= "" and (" " .. fn.returns.description) or "")
  end
  return table.concat(out, "\n")
end

--- Generated module source: one stub per function, each carrying the function's annotations.
function M.library_source(name, address, description)
  local parts = {
    ("--- %s: functions served from a sandbox by seer-lua (generated; do not edit).\n"):format(name),
    ("--- Each call goes over msgpack-RPC to %s.\n"):format(address),
    'local rpc = require "seer.rpc"\n',
    ("local address = %q\n"):format(address),
    "local client\n",
    "local function conn()\n  if not client then client = rpc.connect(address) end\n  return client\nend\n\n",
    "local M = {}\n\n",
  }
  for _, fn in ipairs(functions(description)) do
    local params = table.concat(param_list(fn), ", ")
    parts[#parts + 1] = lua_doc_lines(fn) .. "\n"
    parts[#parts + 1] = ("function M.%s(%s)\n  return conn():call(%q%s)\nend\n\n"):format(
      fn.name, params, fn.name, params ~= "" and (", " .. params) or "")
  end
  parts[#parts + 1] = "--- Call with named arguments: M.call_named(\"fn\", {arg = value}).\n"
  parts[#parts + 1] = "function M.call_named(fn, args) return conn():call_named(fn, args) end\n\n"
  parts[#parts + 1] = "return M\n"
  return table.concat(parts)
end

--- Markdown documenting the functions, for a system prompt.
function M.prompt(name, description)
  local out = {
    ("# Library `%s`\n\n"):format(name),
    ("These functions run in an isolated sandbox. In Lua: `local %s = require(%q)`, then call "
      .. "`%s.<function>(...)`.\n\n"):format(name, name, name),
  }
  for _, fn in ipairs(functions(description)) do
    out[#out + 1] = ("## `%s(%s)`\n\n"):format(fn.name, table.concat(param_list(fn), ", "))
    if fn.description and fn.description ~= "" then out[#out + 1] = fn.description .. "\n\n" end
    for _, p in ipairs(fn.params or {}) do
      out[#out + 1] = ("- `%s` (%s%s)%s\n"):format(p.name, p.type or "any", p.optional and ", optional" or "",
        p.description and p.description ~= "" and (": " .. p.description) or "")
    end
    if fn.returns then
      out[#out + 1] = ("- returns %s%s\n"):format(fn.returns.type or "any",
        fn.returns.description and fn.returns.description ~= "" and (": " .. fn.returns.description) or "")
    end
    out[#out + 1] = "\n"
  end
  return table.concat(out)
end

function M.library(name, address, description)
  return workspace.Library.new({
    name = name, files = { [name .. ".lua"] = M.library_source(name, address, description) },
    docs = M.prompt(name, description),
  })
end

function M.skill(name, address, description)
  local names = {}
  for _, fn in ipairs(functions(description)) do names[#names + 1] = fn.name end
  return workspace.Skill.new({
    name = name,
    description = ("Functions served from a sandbox: %s."):format(table.concat(names, ", ")),
    content = M.prompt(name, description),
    files = { ["lib/" .. name .. ".lua"] = M.library_source(name, address, description) },
  })
end

return M
