--- seer.sandbox.interface_docs: turn a served interface's description (from `seer.describe`, which
--- the sandbox sends and so may be hostile) into the forms `serve` offers: a Library whose stubs
--- call the server, prompt markdown, or a Skill. The description is checked first (M.check), and
--- nothing in it is ever turned into Lua source (see seer.sandbox.served_library).
local workspace = require "seer.workspace"
local lib = require "seer.sandbox.served_library"

local M = {}

local function functions(description)
  return (description and description.functions) or {}
end

local function param_list(fn)
  local names = {}
  for i, p in ipairs(fn.params or {}) do names[i] = p.name end
  return names
end

--- Check a description from `seer.describe` (sent by the sandbox, so not trusted) before any of it
--- is used: every function name must be a Lua identifier (no keyword, unique), every parameter
--- name too, and the texts strings. Returns the function names in order; raises naming the bad
--- entry otherwise.
function M.check(description, who)
  who = who or "serve"
  if type(description) ~= "table" or type(description.functions) ~= "table" then
    error(("%s: the interface server's description has no functions list"):format(who), 0)
  end
  local names, seen = {}, {}
  for i, fn in ipairs(description.functions) do
    if type(fn) ~= "table" then error(("%s: function %d of the description is not a table"):format(who, i), 0) end
    local good, why = lib.check_name(fn.name)
    if not good then
      error(("%s: the interface exposes a function named %s, which cannot be a library function: %s"):format(
        who, lib.show(fn.name), why), 0)
    end
    if seen[fn.name] then error(("%s: the interface exposes '%s' twice"):format(who, fn.name), 0) end
    seen[fn.name] = true
    if fn.description ~= nil and type(fn.description) ~= "string" then
      error(("%s: the description of '%s' is not a string"):format(who, fn.name), 0)
    end
    if fn.params ~= nil and type(fn.params) ~= "table" then
      error(("%s: the params of '%s' are not a list"):format(who, fn.name), 0)
    end
    for j, p in ipairs(fn.params or {}) do
      if type(p) ~= "table" or type(p.name) ~= "string" or not p.name:match("^[%a_][%w_]*$") then
        error(("%s: parameter %d of '%s' has no Lua identifier as its name (%s)"):format(who, j, fn.name,
          lib.show(type(p) == "table" and p.name or p)), 0)
      end
      for _, k in ipairs({ "type", "description" }) do
        if p[k] ~= nil and type(p[k]) ~= "string" then
          error(("%s: the %s of parameter '%s' of '%s' is not a string"):format(who, k, p.name, fn.name), 0)
        end
      end
    end
    local r = fn.returns
    if r ~= nil and (type(r) ~= "table" or (r.type ~= nil and type(r.type) ~= "string")
        or (r.description ~= nil and type(r.description) ~= "string")) then
      error(("%s: the returns of '%s' are not {type, description} strings"):format(who, fn.name), 0)
    end
    names[#names + 1] = fn.name
  end
  return names
end

--- The doc of one function of a (checked) description, in the shape `seer.introspect.doc`
--- returns, so `help()` and the kernel's inspect show interface functions like stdlib ones.
--- `owner` (e.g. the library's name) prefixes the signature.
---@param fn table one entry of description.functions
---@param owner string?
---@return table {name, signature, description, params, returns}
function M.doc(fn, owner)
  local name = (owner and owner ~= "" and (owner .. ".") or "") .. fn.name
  local params, shown = {}, {}
  for i, p in ipairs(fn.params or {}) do
    local optional = p.required == false or p.optional == true
    params[i] = { name = p.name, type = p.type or "any", optional = optional, description = p.description }
    shown[i] = p.name .. (optional and "?" or "")
  end
  local returns = {}
  if fn.returns then returns[1] = { type = fn.returns.type or "any", description = fn.returns.description } end
  return {
    name = name, description = fn.description or "", params = params, returns = returns,
    signature = name .. "(" .. table.concat(shown, ", ") .. ")" .. (returns[1] and (" -> " .. returns[1].type) or ""),
  }
end

local function docs_of(name, description)
  local out = {}
  for i, fn in ipairs(functions(description)) do out[i] = M.doc(fn, name) end
  return out
end

--- The files of a served library: the fixed loader `<name>.lua` and its data `<name>.rpc.json`
--- (under `dir`, e.g. "lib/" for a skill). No text from the interface enters Lua source.
function M.library_files(name, address, description, dir, call_timeout)
  dir = dir or ""
  return {
    [dir .. name .. ".lua"] = lib.SOURCE,
    [dir .. name .. lib.DATA_SUFFIX] = lib.data(address, M.check(description), call_timeout,
      docs_of(name, description)),
  }
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

function M.library(name, address, description, call_timeout)
  return workspace.Library.new({
    name = name, files = M.library_files(name, address, description, "", call_timeout),
    docs = M.prompt(name, description), address = address,
  })
end

function M.skill(name, address, description, call_timeout)
  local names = M.check(description)
  return workspace.Skill.new({
    name = name,
    description = ("Functions served from a sandbox: %s."):format(table.concat(names, ", ")),
    content = M.prompt(name, description),
    files = M.library_files(name, address, description, "lib/", call_timeout), address = address,
  })
end

return M
