--- seer.path: POSIX path string helpers (no filesystem access except `abspath`, which reads the cwd).
local M = {}

M.sep = "/"

--- Join segments; an absolute segment restarts the path, as Python's os.path.join does.
function M.join(...)
  local out = ""
  for i = 1, select("#", ...) do
    local part = select(i, ...)
    if type(part) ~= "string" then
      error(("seer.path.join: argument %d must be a string, got %s"):format(i, type(part)), 2)
    end
    if part:sub(1, 1) == "/" or out == "" then
      out = part
    elseif part ~= "" then
      out = (out:sub(-1) == "/" and out or out .. "/") .. part
    end
  end
  return out
end

--- Collapse "//", "." and ".." lexically.
function M.normalize(p)
  local abs = p:sub(1, 1) == "/"
  local parts = {}
  for seg in p:gmatch("[^/]+") do
    if seg == ".." then
      if #parts > 0 and parts[#parts] ~= ".." then
        parts[#parts] = nil
      elseif not abs then
        parts[#parts + 1] = ".."
      end
    elseif seg ~= "." then
      parts[#parts + 1] = seg
    end
  end
  local s = table.concat(parts, "/")
  if abs then return "/" .. s end
  return s == "" and "." or s
end

function M.is_abs(p) return p:sub(1, 1) == "/" end

function M.abspath(p)
  if M.is_abs(p) then return M.normalize(p) end
  return M.normalize(M.join(assert(require("seer.fs").cwd()), p))
end

function M.dirname(p)
  local d = p:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

function M.basename(p) return p:match("([^/]*)/*$") end

--- The extension including the dot ("" when there is none).
function M.extname(p)
  local base = M.basename(p)
  return base:match("^.+(%.[^.]+)$") or ""
end

--- Split into directory and base name.
function M.split(p) return M.dirname(p), M.basename(p) end

--- `p` relative to `base` (both made absolute first).
function M.relative(p, base)
  local a, b = {}, {}
  for s in M.abspath(p):gmatch("[^/]+") do a[#a + 1] = s end
  for s in M.abspath(base or "."):gmatch("[^/]+") do b[#b + 1] = s end
  local i = 1
  while i <= #a and i <= #b and a[i] == b[i] do i = i + 1 end
  local out = {}
  for _ = i, #b do out[#out + 1] = ".." end
  for j = i, #a do out[#out + 1] = a[j] end
  return #out == 0 and "." or table.concat(out, "/")
end

--- True when `p`, made absolute and normalized, lies inside `root`.
function M.is_within(p, root)
  local ap, ar = M.abspath(p), M.abspath(root)
  return ap == ar or ap:sub(1, #ar + 1) == (ar == "/" and "/" or ar .. "/")
end

return M
