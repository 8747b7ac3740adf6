--- seer.hf_cache: resolve a Hugging Face model id to a snapshot in the local cache, offline, with
--- huggingface_hub's layout: <cache>/models--<org>--<name>/{refs/<revision>, snapshots/<sha>, blobs}.
local fs = require "seer.fs"
local path = require "seer.path"

local M = {}

--- The hub cache directory: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
function M.cache_dir()
  local hub = os.getenv("HF_HUB_CACHE")
  if hub and hub ~= "" then return hub end
  local home = os.getenv("HF_HOME")
  if home and home ~= "" then return path.join(home, "hub") end
  return path.join(os.getenv("HOME") or "/root", ".cache/huggingface/hub")
end

--- "org/name" -> "models--org--name"
function M.repo_folder(id)
  return "models--" .. id:gsub("/", "--")
end

--- "org/name" -> "org--name", the form used for mount points and MODEL_<SAN>_PATH names.
function M.sanitize(id)
  return (id:gsub("/", "--"))
end

---@class seer.ResolvedModel
---@field id string
---@field repo_dir string   host path of models--org--name
---@field revision string   the commit hash
---@field snapshot_dir string host path of snapshots/<revision>

--- Resolve `id` at `revision` (a branch or tag name under refs/, or a commit hash; default "main")
--- in `cache` (default: cache_dir()).
---@return seer.ResolvedModel|nil, string|nil
function M.resolve(id, revision, cache)
  if type(id) ~= "string" or not id:match("^[%w._-]+/[%w._-]+$") then
    return nil, ("model id '%s' is not of the form 'org/name'"):format(tostring(id))
  end
  cache = cache or M.cache_dir()
  local repo = path.join(cache, M.repo_folder(id))
  if not fs.is_dir(repo) then
    return nil, ("model '%s' is not in the Hugging Face cache (looked for %s); download it first "
      .. "(set HF_HUB_CACHE or HF_HOME if your cache lives elsewhere)"):format(id, repo)
  end
  revision = revision or "main"
  local sha = revision
  local ref = fs.read(path.join(repo, "refs", revision))
  if ref then sha = ref:gsub("%s+$", "") end
  local snap = path.join(repo, "snapshots", sha)
  if not fs.is_dir(snap) then
    return nil, ("model '%s': revision '%s' has no snapshot in %s"):format(id, revision, repo)
  end
  return { id = id, repo_dir = repo, revision = sha, snapshot_dir = snap }
end

--- Put the files of a local model directory into a cache as `id` at `revision` (default
--- "local"), with refs/main pointing at it, so that sandboxes and get_model_path find it offline.
--- opts: cache (default M.cache_dir()), revision.
---@return seer.ResolvedModel
function M.install(id, src_dir, opts)
  opts = opts or {}
  local cache = opts.cache or M.cache_dir()
  local revision = opts.revision or "local"
  if not fs.is_dir(src_dir) then error(("hf_cache.install: '%s' is not a directory"):format(src_dir), 2) end
  local repo = path.join(cache, M.repo_folder(id))
  local snap = path.join(repo, "snapshots", revision)
  assert(fs.mkdir(snap))
  assert(fs.mkdir(path.join(repo, "refs")))
  for _, name in ipairs(assert(fs.list(src_dir))) do
    local src = path.join(src_dir, name)
    if fs.is_file(src) then assert(fs.write(path.join(snap, name), assert(fs.read(src)))) end
  end
  assert(fs.write(path.join(repo, "refs", "main"), revision))
  return assert(M.resolve(id, "main", cache))
end

return M
