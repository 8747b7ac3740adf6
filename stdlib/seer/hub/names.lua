--- seer.hub.names: what the hub client accepts as a repo id, revision, file name, commit and etag,
--- the URL quoting of each, and huggingface_hub's glob matching for allow_patterns. Everything a
--- server names (files, etags, commits) passes these checks before it becomes a path in the cache.
local M = {}

--- "org/name" with hub-legal characters, neither part "." or ".." nor longer than 96 characters.
---@param id any
---@return boolean ok, string|nil err
function M.check_id(id)
  if type(id) ~= "string" then return false, ("a model id must be a string, got %s"):format(type(id)) end
  local org, name = id:match("^([%w._-]+)/([%w._-]+)$")
  if not org or #org > 96 or #name > 96 or org:match("^%.+$") or name:match("^%.+$")
    or id:find("..", 1, true) or org:match("^[.-]") or name:match("^[.-]") then
    return false, ("'%s' is not a hub model id of the form 'org/name'"):format(id)
  end
  return true
end

--- A branch, tag, "refs/pr/N" or commit: becomes refs/<revision> in the cache.
---@return boolean ok, string|nil err
function M.check_revision(rev)
  if type(rev) ~= "string" or rev == "" or #rev > 255 or not rev:match("^[%w._/-]+$")
    or rev:find("..", 1, true) or rev:match("^/") or rev:match("/$") or rev:find("//", 1, true) then
    return false, ("revision '%s' is not a branch, tag or commit name"):format(tostring(rev))
  end
  return true
end

function M.is_commit(rev)
  return type(rev) == "string" and #rev == 40 and rev:match("^[0-9a-f]+$") ~= nil
end

--- A repository file name as the server lists it: a relative path whose parts are not empty, "."
--- or "..", without control characters or backslashes, at most 1024 bytes and 32 levels deep.
---@return boolean ok, string|nil err
function M.check_filename(name)
  if type(name) ~= "string" or name == "" then return false, "an empty file name" end
  local shown = name:gsub("[%c]", "?")
  if #name > 1024 then return false, ("file name '%s...' is longer than 1024 bytes"):format(shown:sub(1, 60)) end
  if name:find("[%c\\]") then return false, ("file name '%s' has control characters or backslashes"):format(shown) end
  if name:sub(1, 1) == "/" then return false, ("file name '%s' is an absolute path"):format(shown) end
  local depth = 0
  for part in (name .. "/"):gmatch("(.-)/") do
    depth = depth + 1
    if part == "" or part == "." or part == ".." then
      return false, ("file name '%s' has an empty, '.' or '..' part"):format(shown)
    end
  end
  if depth > 32 then return false, ("file name '%s' is more than 32 directories deep"):format(shown) end
  return true
end

--- An ETag as huggingface_hub normalizes it (W/ prefix and quotes dropped), checked to be a safe
--- blob file name: hex digits or [A-Za-z0-9_-] only, 8 to 128 characters.
---@return string|nil etag, string|nil err
function M.normalize_etag(raw)
  if not raw then return nil, "the server sent no ETag" end
  local e = raw:gsub("^W/", ""):gsub('^"', ""):gsub('"$', "")
  if #e < 8 or #e > 128 or not e:match("^[%w_-]+$") then
    return nil, ("the server sent an ETag that is not a blob name: '%s'"):format((raw:sub(1, 80):gsub("%c", "?")))
  end
  return e
end

local function quote(s, safe)
  return (s:gsub("[^%w_.~" .. safe .. "-]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--- A file path in a URL: each part percent-encoded, "/" kept.
function M.quote_path(s) return quote(s, "/") end
--- A revision in a URL: "/" encoded too, as huggingface_hub does.
function M.quote_all(s) return quote(s, "") end

--- fnmatch as Python's (what huggingface_hub's filter_repo_objects uses): `*` matches across "/",
--- `?` one character, `[...]` a set; a pattern ending in "/" matches everything below it.
---@param name string
---@param pattern string
---@return boolean
function M.fnmatch(name, pattern)
  if pattern:sub(-1) == "/" then pattern = pattern .. "*" end
  local out, i = { "^" }, 1
  while i <= #pattern do
    local c = pattern:sub(i, i)
    if c == "*" then
      out[#out + 1] = ".*"
    elseif c == "?" then
      out[#out + 1] = "."
    elseif c == "[" and pattern:find("]", i + 2, true) then
      local j = pattern:find("]", i + 2, true)
      local set = pattern:sub(i + 1, j - 1):gsub("%%", "%%%%")
      if set:sub(1, 1) == "!" then set = "^" .. set:sub(2) end
      out[#out + 1] = "[" .. set .. "]"
      i = j
    else
      out[#out + 1] = c:match("%w") and c or ("%" .. c)
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return name:match(table.concat(out)) ~= nil
end

--- True when `name` matches any of the patterns (a string or a list).
function M.allowed(name, patterns)
  if type(patterns) == "string" then patterns = { patterns } end
  for _, p in ipairs(patterns) do
    if M.fnmatch(name, p) then return true end
  end
  return false
end

--- The relative symlink target from snapshots/<commit>/<file> to blobs/<etag>.
function M.blob_link(file, etag)
  local _, depth = file:gsub("/", "")
  return ("../"):rep(depth + 2) .. "blobs/" .. etag
end

return M
