--- seer.kernel.display: mime bundles for values shown in a notebook. Every value has text/plain
--- (as the REPL prints it); a metatable may add richer forms with `__repr_html`, `__repr_svg`,
--- `__repr_png` (raw PNG bytes), `__repr_markdown`, `__repr_latex`, `__repr_json` or
--- `__repr_mimebundle` (a table mime -> data); tensors render as an HTML table, truncated as the
--- REPL truncates them (3 leading and 3 trailing entries per dimension).
local pretty = require "seer.pretty"
local json = require "seer.json"

local M = {}

local HOOKS = {
  { "__repr_html", "text/html" },
  { "__repr_svg", "image/svg+xml" },
  { "__repr_png", "image/png" },
  { "__repr_markdown", "text/markdown" },
  { "__repr_latex", "text/latex" },
  { "__repr_json", "application/json" },
}
local BINARY = { ["image/png"] = true, ["image/jpeg"] = true }

local function html_escape(s)
  return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end
M.html_escape = html_escape

local tensor_lib
local function is_tensor(v)
  if type(v) ~= "userdata" then return false end
  tensor_lib = tensor_lib or require("seer.tensor")
  return tensor_lib.is_tensor(v)
end

-- Indices to show along a dimension of size n: all when n <= 6, else 1..3, a gap (false), n-2..n.
local function shown(n)
  local out = {}
  if n <= 6 then
    for i = 1, n do out[#out + 1] = i end
  else
    out = { 1, 2, 3, false, n - 2, n - 1, n }
  end
  return out
end

local function cell(v)
  if math.type and math.type(v) == "integer" then return tostring(v) end
  if v == math.floor(v) and math.abs(v) < 1e15 then return ("%d"):format(v) end
  return ("%.5g"):format(v)
end

--- An HTML table for a 0-, 1- or 2-D tensor (higher ranks: the REPL's text in a <pre>).
---@param t userdata a seer.tensor Tensor
---@return string
function M.tensor_html(t)
  local shape = t.shape
  local caption = ("<caption>Tensor{%s} %s</caption>"):format(table.concat(shape, ", "), t.dtype)
  if #shape > 2 or #shape == 0 then
    return ("<pre>%s</pre>"):format(html_escape(tostring(t)))
  end
  local rows = {}
  if #shape == 1 then
    local tds = {}
    for _, j in ipairs(shown(shape[1])) do tds[#tds + 1] = j and ("<td>%s</td>"):format(cell(t[j])) or "<td>…</td>" end
    rows[1] = "<tr>" .. table.concat(tds) .. "</tr>"
  else
    for _, i in ipairs(shown(shape[1])) do
      local tds = {}
      local row = i and t[i]
      for _, j in ipairs(shown(shape[2])) do
        tds[#tds + 1] = (i and j) and ("<td>%s</td>"):format(cell(row[j])) or "<td>…</td>"
      end
      rows[#rows + 1] = "<tr>" .. table.concat(tds) .. "</tr>"
    end
  end
  return ("<table class=\"seer-tensor\">%s%s</table>"):format(caption, table.concat(rows))
end

local function text(v)
  if type(v) == "string" then return v end
  return pretty.format(v)
end

local function add(data, mime, value)
  if value == nil then return end
  if BINARY[mime] then
    data[mime] = require("seer.mcp.tools").base64(tostring(value))
  elseif mime == "application/json" then
    data[mime] = value
  else
    data[mime] = tostring(value)
  end
end

--- The mime bundle of one value: `data` (mime -> string) and `metadata`.
---@param v any
---@return table data
---@return table metadata
function M.bundle(v)
  local data = { ["text/plain"] = text(v) }
  local tv = type(v)
  local mt = (tv == "table" or tv == "userdata") and getmetatable(v) or nil
  if type(mt) == "table" then
    for _, h in ipairs(HOOKS) do
      local fn = rawget(mt, h[1])
      if fn then
        local ok, r = pcall(fn, v)
        if ok then
          add(data, h[2], r)
        else
          data["text/plain"] = ("%s\n(%s failed: %s)"):format(data["text/plain"], h[1], tostring(r))
        end
      end
    end
    local fn = rawget(mt, "__repr_mimebundle")
    if fn then
      local ok, r = pcall(fn, v)
      if ok and type(r) == "table" then
        for mime, value in pairs(r) do add(data, mime, value) end
      end
    end
  end
  if is_tensor(v) then
    local ok, html = pcall(M.tensor_html, v)
    if ok then data["text/html"] = html end
  end
  return data, json.object({})
end

--- The bundle of several values returned by one cell: text/plain joined by tabs, as the REPL
--- prints them; rich forms only for a single value.
function M.results_bundle(n, values)
  if n == 1 then return M.bundle(values[1]) end
  local parts = {}
  for i = 1, n do parts[i] = text(values[i]) end
  return { ["text/plain"] = table.concat(parts, "\t") }, json.object({})
end

return M
