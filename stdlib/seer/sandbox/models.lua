--- seer.sandbox.models: how the configured models reach a sandbox. resolve() finds each ModelConfig
--- in the Hugging Face cache, pulling what is missing (progress on the host's stderr), and for a
--- PEFT adapter its base model too; mounts() turns them into read-only binds under /models.
--- A plain model: its cache folder at /models/.hub/models--org--name and /models/org--name linking
--- to the snapshot. A hidden model (or an adapter): its files bound one by one at /models/model-<n>
--- (or /models/org--name), with small text files replaced by copies in which the hub ids and the
--- *name_or_path fields are rewritten: a hidden model's identity never enters the sandbox, and an
--- adapter's base_model_name_or_path names where its base is mounted.
local fs = require "seer.fs"
local path = require "seer.path"
local json = require "seer.json"
local hf_cache = require "seer.hf_cache"
local hub = require "seer.hub"
local process = require "seer.process"

local M = {}

-- Text files rewritten in a view (at most this large; larger ones are bound as they are).
local SANITIZE_MAX = 64 * 1024 * 1024
local TEXT_FILE = { json = true, md = true, txt = true, yaml = true, yml = true, jinja = true, py = true }

local function fail(msg) error("sandbox.start: " .. msg, 0) end

-- The snapshot of id at revision: from the cache, else pulled (unless HF_HUB_OFFLINE, or
-- where.download == false).
local function resolve_one(id, revision, where)
  local r = hf_cache.resolve(id, revision, where.cache_dir)
  if r then return r end
  local cache = where.cache_dir or hub.cache_dir()
  if where.download == false then fail(("model '%s' is not in the Hugging Face cache (%s)"):format(id, cache)) end
  local ok, err = pcall(hub.download, id, { revision = revision, cache_dir = where.cache_dir,
                                            endpoint = where.endpoint, token = where.token })
  if not ok then
    fail(("model '%s' is not in the Hugging Face cache (%s) and could not be pulled: %s")
      :format(id, cache, tostring(err):gsub("^seer%.hub: ", "")))
  end
  return assert(hf_cache.resolve(id, revision, where.cache_dir))
end

--- Resolve (pulling when missing) the ModelConfigs of a sandbox. Each entry: id, repo_dir,
--- revision, snapshot_dir, name (what the sandbox calls it), mount, hidden, view (bind file by
--- file), listed (in SEER_MODELS), base (the entry of a PEFT adapter's base model).
---@param configs table[] ModelConfig records
---@param where table? {cache_dir, endpoint, token, download = false}: another cache than the
---  host's (a Slurm node's own), the hub to pull from, or no pulling at all
---@return table[] entries, in mount order (a base follows its adapter)
function M.resolve(configs, where)
  where = where or {}
  local entries, n = {}, 0
  local function add(id, revision, hidden, listed)
    local r = resolve_one(id, revision, where)
    n = n + 1
    r.hidden = hidden
    r.listed = listed
    r.view = hidden
    r.name = hidden and ("model-%d"):format(n) or id
    r.mount = hidden and ("/models/model-%d"):format(n) or ("/models/" .. hf_cache.sanitize(id))
    entries[#entries + 1] = r
    return r
  end
  for _, m in ipairs(configs or {}) do
    local e = add(m.name, m.revision, m.hidden, true)
    if m.is_peft then
      local base = m.base_model
      if not base then
        local text = fs.read(path.join(e.snapshot_dir, "adapter_config.json"))
        local ok, cfg = pcall(json.decode, text or "")
        base = ok and type(cfg) == "table" and cfg.base_model_name_or_path or nil
        if type(base) ~= "string" then
          fail(("'%s' is a PEFT adapter without adapter_config.json's base_model_name_or_path; set "
            .. "ModelConfig{base_model = 'org/name'}"):format(m.name))
        end
      end
      local okid, iderr = require("seer.hub.names").check_id(base)
      if not okid then fail(("the base model of '%s': %s"):format(m.name, iderr)) end
      e.view = true
      e.base = add(base, m.base_revision, m.hidden, false)
    end
  end
  return entries
end

-- Every file below dir, as paths relative to it.
local function walk(dir, prefix, out)
  for _, name in ipairs(fs.list(dir) or {}) do
    local p = path.join(dir, name)
    if fs.is_dir(p) then walk(p, prefix .. name .. "/", out) else out[#out + 1] = prefix .. name end
  end
  return out
end

-- A pattern matching s in any letter case, everything else literally.
local function anycase(s)
  return (s:gsub("%a", function(c) return "[" .. c:lower() .. c:upper() .. "]" end)
           :gsub("[%-%.%+%*%?%^%$%(%)%%]", "%%%0"))
end

-- Rewrites a text file of entry e for the sandbox: *name_or_path fields, then (hidden) every
-- spelling of the hub ids, JSON-escaped ("org\/name") or not.
local function sanitize(e, name, text)
  local function field(key, value)
    text = text:gsub('("' .. key .. '"%s*:%s*)"[^"]*"', function(pre) return pre .. json.encode(value) end)
  end
  if e.base then field("base_model_name_or_path", e.base.mount) end
  if e.hidden then
    field("_name_or_path", e.mount)
    field("name_or_path", e.mount)
    local ids = { { e.id, e.name } }
    if e.base then ids[#ids + 1] = { e.base.id, e.base.name } end
    for _, pair in ipairs(ids) do
      local id, neutral = pair[1], pair[2]
      text = text:gsub(anycase(id), neutral):gsub(anycase(id:gsub("/", "\\/")), neutral)
      if not name:match("%.json$") then -- prose (README, model cards): the bare names as well
        local org, repo = id:match("^(.-)/(.*)$")
        text = text:gsub(anycase(repo), neutral)
        if #org >= 3 then text = text:gsub(anycase(org), "org") end
      end
    end
  end
  return text
end

-- A neutral name for a hidden model's file: /proc/self/mountinfo shows a bind's source path, and
-- the blob's path names the repository. A hard link under the cache's .locks (same filesystem,
-- skipped by huggingface_hub's scan_cache_dir), else a copy in the sandbox's own directory.
local function neutral_link(src, links_dir, copy_dir, rel)
  local dst = path.join(links_dir, rel)
  assert(fs.mkdir(path.dirname(dst)))
  if process.run({ cmd = "ln", args = { "-L", "--", src, dst } }).ok then return dst end
  dst = path.join(copy_dir, rel)
  assert(fs.mkdir(path.dirname(dst)))
  local r = process.run({ cmd = "cp", args = { "-L", "--reflink=auto", "--", src, dst } })
  if not r.ok then fail(("cannot copy a hidden model's file: %s"):format(r.stderr)) end
  return dst
end

-- The binds that show entry e's snapshot file by file at e.mount; rewritten copies go to dir.
local function view_binds(e, dir, binds, links_dir)
  for _, rel in ipairs(walk(e.snapshot_dir, "", {})) do
    local src = path.join(e.snapshot_dir, rel)
    local ext = rel:match("%.([%w]+)$")
    local size = fs.size(src) or 0
    local rewrite = size <= SANITIZE_MAX and ((e.hidden and ext and TEXT_FILE[ext:lower()])
      or (e.base and rel == "adapter_config.json"))
    if rewrite or (e.hidden and rel:lower():match("^readme")) then
      local copy = path.join(dir, rel)
      assert(fs.mkdir(path.dirname(copy)))
      assert(fs.write(copy, sanitize(e, rel, assert(fs.read(src)))))
      src = copy
    elseif e.hidden then
      src = neutral_link(src, links_dir, dir, rel)
    end
    binds[#binds + 1] = { src = src, dst = e.mount .. "/" .. rel }
  end
end

--- The binds, links, SEER_MODELS list and MODEL_<SAN>_PATH variables for resolved entries, and
--- the directories to remove when the sandbox ends (hidden models' hard links).
--- state: a host directory of the sandbox's own for the rewritten copies.
---@return table binds, table links, string model_list, table env, table cleanup
function M.mounts(entries, state)
  local binds, links, list, env, cleanup = {}, {}, {}, {}, {}
  for i, e in ipairs(entries) do
    if e.view then
      local links_dir = path.join(path.dirname(e.repo_dir), ".locks", "seer-hidden", path.basename(state) .. "-" .. i)
      if e.hidden then cleanup[#cleanup + 1] = links_dir end
      view_binds(e, path.join(state, "models", tostring(i)), binds, links_dir)
    else
      local folder = hf_cache.repo_folder(e.id)
      binds[#binds + 1] = { src = e.repo_dir, dst = "/models/.hub/" .. folder }
      links[#links + 1] = { path = e.mount, target = ".hub/" .. folder .. "/snapshots/" .. e.revision }
    end
    if e.listed then list[#list + 1] = e.name .. "=" .. e.mount end
    if not e.hidden then env["MODEL_" .. e.id:upper():gsub("[^%w]", "_") .. "_PATH"] = e.mount end
  end
  return binds, links, table.concat(list, ","), env, cleanup
end

return M
