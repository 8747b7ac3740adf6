--- seer.session.files: the file tools of a session (read_file, write_file, list_files), confined
--- to its workspace. In a sandboxed session they run inside the session sandbox, where the
--- workspace is all there is of the host; in-process they run on the host. Errors are raised as
--- plain messages ("read_file: ...") that the harness hands back to the model.
local fs = require "seer.fs"
local path = require "seer.path"

local M = {}

local MAX_LINKS = 40 -- symlinks followed while resolving one path, as the kernel's ELOOP limit

local function split(rel)
  local parts = {}
  for part in rel:gmatch("[^/]+") do parts[#parts + 1] = part end
  return parts
end

--- Resolve `p` (relative to the workspace `root`, or absolute) and refuse anything outside it:
--- lexically (`..`), and through symlinks, which are followed one component at a time, whether
--- or not their targets exist. `root` must itself be free of symlinks. Returns the resolved path.
function M.confine(root, p, what)
  if type(p) ~= "string" or p == "" then error(what .. ": 'path' must be a non-empty string", 0) end
  if not fs.is_dir(root) then
    error(("%s: the workspace directory '%s' does not exist"):format(what, root), 0)
  end
  local full = path.normalize(path.is_abs(p) and p or path.join(root, p))
  if not path.is_within(full, root) then
    error(("%s: '%s' is outside the workspace"):format(what, p), 0)
  end
  local todo = split(full:sub(#root + 2))
  local cur, links, i = root, 0, 1
  while i <= #todo do
    local nxt = path.join(cur, todo[i])
    local target = fs.readlink(nxt)
    if target then
      links = links + 1
      if links > MAX_LINKS then error(("%s: '%s': too many levels of symlinks"):format(what, p), 0) end
      local resolved = path.normalize(path.is_abs(target) and target or path.join(cur, target))
      if not path.is_within(resolved, root) then
        error(("%s: '%s' resolves outside the workspace (through a symlink)"):format(what, p), 0)
      end
      local rest = split(resolved:sub(#root + 2))
      for j = i + 1, #todo do rest[#rest + 1] = todo[j] end
      todo, cur, i = rest, root, 1
    else
      cur, i = nxt, i + 1
    end
  end
  return cur
end

function M.read(root, p)
  local full = M.confine(root, p, "read_file")
  local data, err = fs.read(full)
  if not data then error("read_file: " .. err, 0) end
  return data
end

function M.write(root, p, content)
  if type(content) ~= "string" then error("write_file: 'content' must be a string", 0) end
  local full = M.confine(root, p, "write_file")
  local ok, err = fs.mkdir(path.dirname(full))
  if not ok then error("write_file: " .. err, 0) end
  ok, err = fs.write(full, content)
  if not ok then error("write_file: " .. err, 0) end
  return #content
end

--- Names in a directory, directories with a trailing '/'.
function M.list(root, p)
  local full = M.confine(root, p or ".", "list_files")
  local names, err = fs.list(full)
  if not names then error("list_files: " .. err, 0) end
  local out = {}
  for i, n in ipairs(names) do out[i] = fs.is_dir(path.join(full, n)) and (n .. "/") or n end
  return out
end

return M
