--- seer.sandbox.served_library: the library `serve(..., {expose_as = "library"})` installs. What a
--- sandbox says about its interface (function names, descriptions) is data from a peer the host
--- does not trust, so it never becomes Lua source: the installed `<name>.lua` is the same fixed
--- line for every interface, and it calls `load` here, which reads `<name>.rpc.json` next to it
--- and builds one closure per validated function name.
local json = require "seer.json"
local fs = require "seer.fs"

local M = {}

--- The fixed source of every served library file.
M.SOURCE = "-- Functions served from a sandbox by seer-lua (generated; do not edit). The same line for\n"
  .. "-- every served interface: the names and the address are data, in the .rpc.json file next to it.\n"
  .. "return require(\"seer.sandbox.served_library\").load(...)\n"

M.DATA_SUFFIX = ".rpc.json"

local IDENT = "^[%a_][%w_]*$"
local KEYWORDS = {}
for k in ([[and break do else elseif end false for function goto if in local nil not or repeat
  return then true until while]]):gmatch("%a+") do KEYWORDS[k] = true end
-- Names the library itself defines.
local RESERVED = { call_named = true }
M.MAX_NAME = 128

--- Whether `name` may name a library function: a Lua identifier, not a keyword, not ours.
--- Returns true, or false and why.
function M.check_name(name)
  if type(name) ~= "string" then return false, "a function name must be a string, got a " .. type(name) end
  if #name > M.MAX_NAME then return false, ("a function name is longer than %d bytes"):format(M.MAX_NAME) end
  if not name:match(IDENT) then return false, "it is not a Lua identifier (names must match ^[%a_][%w_]*$)" end
  if KEYWORDS[name] then return false, "it is a Lua keyword" end
  if RESERVED[name] then return false, "the library defines that name itself" end
  return true
end

-- A name shown in an error: quoted, with control bytes escaped, and cut short.
function M.show(v)
  local s = tostring(v)
  if #s > 80 then s = s:sub(1, 80) .. "..." end
  return ("%q"):format(s):gsub("\n", "n")
end

--- The data file's contents: the server's address and the function names, in order, and their
--- docs (from interface_docs.doc) for help() and completion.
function M.data(address, names, call_timeout, docs)
  return json.encode({ address = address, functions = json.array(names), call_timeout = call_timeout,
    docs = docs and json.array(docs) or nil })
end

-- A doc from the data file is only text to show; anything not shaped like one is dropped.
local function usable_doc(d, name)
  if type(d) ~= "table" or type(d.name) ~= "string" or type(d.signature) ~= "string"
      or (d.description ~= nil and type(d.description) ~= "string") or type(d.params) ~= "table"
      or type(d.returns) ~= "table" or not d.name:match("%.?" .. name .. "$") then
    return nil
  end
  for _, list in ipairs({ d.params, d.returns }) do
    for _, p in ipairs(list) do
      if type(p) ~= "table" then return nil end
      for _, k in ipairs({ "name", "type", "description" }) do
        if p[k] ~= nil and type(p[k]) ~= "string" then return nil end
      end
    end
  end
  return d
end

local function fail(file, fmt, ...)
  error(("served library %s: " .. fmt):format(file, ...), 3)
end

--- Build the library from its data file. `modname` and `file` are what `require` passes (Lua 5.4
--- passes the file; LuaJIT only the name, so the file is searched the way require found it).
function M.load(modname, file)
  file = file or package.searchpath(modname, package.path)
  if not file then error(("served library %s: cannot find its file on package.path"):format(tostring(modname)), 2) end
  local data_path = file:gsub("%.lua$", "") .. M.DATA_SUFFIX
  local text, err = fs.read(data_path)
  if not text then fail(file, "cannot read %s: %s", data_path, tostring(err)) end
  local ok, spec = pcall(json.decode, text)
  if not ok or type(spec) ~= "table" or type(spec.address) ~= "string" or type(spec.functions) ~= "table" then
    fail(file, "%s is not {address, functions}", data_path)
  end
  local rpc = require "seer.rpc"
  local address, client = spec.address, nil
  local opts = { call_timeout = type(spec.call_timeout) == "number" and spec.call_timeout or nil }
  local function conn()
    if not client or client.closed then client = rpc.connect(address, opts) end
    return client
  end
  local lib = {}
  for i, name in ipairs(spec.functions) do
    local good, why = M.check_name(name)
    if not good then fail(file, "function %d, %s: %s", i, M.show(name), why) end
    lib[name] = function(...) return conn():call(name, ...) end
    local doc = type(spec.docs) == "table" and usable_doc(spec.docs[i], name)
    if doc then require("seer.introspect").register(lib[name], doc) end
  end
  --- Call with named arguments: lib.call_named("fn", {arg = value}).
  function lib.call_named(fn, args) return conn():call_named(fn, args) end
  return lib
end

return M
