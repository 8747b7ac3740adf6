--- seer.repl: the language side of the REPL. `feed(line)` accumulates lines until they form a
--- complete chunk, runs it (expressions first, as `return <line>`), and pretty-prints the results.
--- `?name` shows the doc of name (as `help(name)` does); Tab completion is `complete_word`. Both
--- come from seer.introspect, which the Jupyter kernel uses too.
local pretty = require "seer.pretty"
local introspect = require "seer.introspect"

local M = {}

local pending = nil
local load_chunk = loadstring or load

local function is_incomplete(msg)
  return msg and (msg:find("<eof>$") or msg:find("'<eof>'$")) ~= nil
end

local function handle_results(ok, ...)
  if not ok then
    io.stderr:write(tostring((...)), "\n")
    return "error"
  end
  if select("#", ...) > 0 then
    local out = {}
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      out[i] = type(v) == "string" and v or pretty.format(v)
    end
    io.write(table.concat(out, "\t"), "\n")
  end
  return "ok"
end

local function traceback(err)
  if type(err) ~= "string" then
    local mt = getmetatable(err)
    if mt and mt.__tostring then return tostring(err) end
    return "(error object) " .. pretty.format(err)
  end
  -- Errors re-raised from tasks already carry the task's traceback; one is enough.
  if err:find("\nstack traceback:", 1, true) then return err end
  return debug.traceback(err, 2)
end

--- Print the doc comment and signature of a function, module or name: `help(seer.sleep)`,
--- `help "seer.tensor"`, `help(t.topk)`.
---@param v any
function M.help(v)
  if v == nil then
    print("help(f) or ?name shows the documentation of a function, module or name, e.g. help(seer.sleep), "
      .. "?seer.tensor.zeros; Tab completes names, fields and methods.")
    return
  end
  introspect.help(v)
end

-- The REPL's globals: help is installed unless the user's code has its own.
if rawget(_G, "help") == nil then rawset(_G, "help", M.help) end

local function utf8_prefix_len(s, bytes)
  local n = 0
  for i = 1, bytes do
    local c = s:byte(i)
    if c and (c < 0x80 or c >= 0xC0) then n = n + 1 end
  end
  return n
end

local function byte_offset(s, cps)
  local n = 0
  for i = 1, #s do
    local c = s:byte(i)
    if c < 0x80 or c >= 0xC0 then
      if n == cps then return i - 1 end
      n = n + 1
    end
  end
  return #s
end

--- Tab completion for line editing: the candidates that replace line's bytes [start, finish)
--- (0-based, as libedit gives them), from seer.introspect.complete at the cursor `finish`.
---@param line string
---@param start integer
---@param finish integer
---@return string[]
function M.complete_word(line, start, finish)
  local r = introspect.complete(line, utf8_prefix_len(line, finish), _G)
  local cs = byte_offset(line, r.cursor_start)
  local out = {}
  for _, m in ipairs(r.matches) do
    if cs <= start then
      local skip = line:sub(cs + 1, start)
      if m:sub(1, #skip) == skip then out[#out + 1] = m:sub(#skip + 1) end
    else
      out[#out + 1] = line:sub(start + 1, cs) .. m
    end
  end
  return out
end

--- Drop a partially entered statement (Ctrl-C at the prompt).
function M.reset() pending = nil end

--- Feed one line; returns "more" while the statement is incomplete, then "ok" or "error".
---@param line string
---@return "more"|"ok"|"error"
function M.feed(line)
  local asked = not pending and line:match("^%s*%?%s*(.-)%s*$")
  if asked then
    if asked == "" then
      M.help()
    else
      local text = introspect.inspect(asked, nil, _G, 1)
      if not text then
        -- Not a plain name: `?expr` evaluates expr, as typing it would, and documents its value.
        local fn = load_chunk("return " .. asked, "=stdin")
        local ok, v = false, nil
        if fn then ok, v = pcall(fn) end
        local d = ok and introspect.doc(v)
        text = d and introspect.format(d, 1)
      end
      print(text or ("no documentation for %s"):format(asked))
    end
    return "ok"
  end
  local code = pending and (pending .. "\n" .. line) or line
  if code:match("^%s*=") then code = "return " .. code:gsub("^%s*=", "") end
  local fn, err = load_chunk("return " .. code, "=stdin")
  if not fn then fn, err = load_chunk(code, "=stdin") end
  if not fn then
    if is_incomplete(err) then
      pending = code
      return "more"
    end
    pending = nil
    io.stderr:write(err, "\n")
    return "error"
  end
  pending = nil
  -- LuaJIT runs compiled loops without checking hooks, so Ctrl-C could not stop `while true do
  -- end`; statements typed at the REPL run interpreted (what they call is still compiled).
  if jit then jit.off(fn, true) end
  return handle_results(xpcall(fn, traceback))
end

return M
