--- seer.pretty: a readable rendering of any Lua value for the REPL and logs: nested tables with
--- sorted keys, cycles shown as <cycle>, and truncation of long tables, strings and output.
local NULL = require("seer.json").null

local M = {}

local DEFAULTS = { depth = 6, items = 50, width = 80, max_chars = 8000, string_chars = 400 }

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function quote(s, limit)
  local cut = #s > limit
  if cut then s = s:sub(1, limit) end
  local q = string.format("%q", s):gsub("\\\n", "\\n")
  if cut then q = q .. "..." end
  return q
end

local render

local function render_table(t, opts, level, seen, indent)
  if seen[t] then return "<cycle>" end
  local mt = getmetatable(t)
  if mt and mt.__tostring and not mt.__name then return tostring(t) end
  if level > opts.depth then return "{...}" end
  seen[t] = true
  local n = #t
  local parts = {}
  local count = 0
  for i = 1, n do
    count = count + 1
    if count > opts.items then break end
    parts[#parts + 1] = render(t[i], opts, level + 1, seen, indent .. "  ")
  end
  local keys = {}
  for k in pairs(t) do
    if not (type(k) == "number" and k >= 1 and k <= n and k % 1 == 0) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_order)
  for _, k in ipairs(keys) do
    count = count + 1
    if count > opts.items then break end
    local ks = is_identifier(k) and k or "[" .. render(k, opts, level + 1, seen, indent) .. "]"
    parts[#parts + 1] = ks .. " = " .. render(t[k], opts, level + 1, seen, indent .. "  ")
  end
  seen[t] = nil
  local total = n + #keys
  if total > opts.items then parts[#parts + 1] = ("... (%d more)"):format(total - opts.items) end
  if #parts == 0 then return "{}" end
  local one_line = "{ " .. table.concat(parts, ", ") .. " }"
  if #one_line + #indent <= opts.width and not one_line:find("\n", 1, true) then return one_line end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
end

render = function(v, opts, level, seen, indent)
  local tv = type(v)
  if tv == "string" then return quote(v, opts.string_chars) end
  if tv == "table" then return render_table(v, opts, level, seen, indent) end
  if tv == "number" then
    if math.type and math.type(v) == "float" and v == math.floor(v) and v > -1e15 and v < 1e15 then
      return string.format("%.1f", v)
    end
    return tostring(v)
  end
  if v == NULL then return "null" end
  return tostring(v)
end

--- Render `v` as a string. Options: depth, items (per table), width, max_chars, string_chars.
function M.format(v, opts)
  local o = {}
  for k, d in pairs(DEFAULTS) do o[k] = (opts and opts[k]) or d end
  local s = render(v, o, 1, {}, "")
  if #s > o.max_chars then s = s:sub(1, o.max_chars) .. ("\n... (%d more characters)"):format(#s - o.max_chars) end
  return s
end

--- Print each value rendered, separated by tabs.
function M.print(...)
  local n = select("#", ...)
  local out = {}
  for i = 1, n do out[i] = M.format((select(i, ...))) end
  io.write(table.concat(out, "\t"), "\n")
end

return M
