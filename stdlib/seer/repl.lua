--- seer.repl: the language side of the REPL. `feed(line)` accumulates lines until they form a
--- complete chunk, runs it (expressions first, as `return <line>`), and pretty-prints the results.
local pretty = require "seer.pretty"

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

--- Drop a partially entered statement (Ctrl-C at the prompt).
function M.reset() pending = nil end

--- Feed one line; returns "more" while the statement is incomplete, then "ok" or "error".
---@param line string
---@return "more"|"ok"|"error"
function M.feed(line)
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
