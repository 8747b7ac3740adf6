--- seer.hub: models from the Hugging Face hub, in huggingface_hub's own cache layout
--- (models--org--name/{blobs/<etag>, refs/<revision>, snapshots/<commit>/<file> -> ../../blobs/<etag>}),
--- so that Python and seer-lua share one cache and nothing is downloaded twice.
--- Environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN (or the token file $HF_TOKEN_PATH,
--- else $HF_HOME/token), HF_HUB_OFFLINE, HF_HUB_DOWNLOAD_TIMEOUT.
local C = require "seer._hub"
local fs = require "seer.fs"
local json = require "seer.json"
local path = require "seer.path"
local task = require "seer.task"
local hf_cache = require "seer.hf_cache"
local names = require "seer.hub.names"
local remote = require "seer.hub.remote"
local progress = require "seer.hub.progress"
local version = require("seer.core").version

local M = {}

--- The files download() fetches unless allow_patterns says otherwise.
M.DEFAULT_PATTERNS = { "*.json", "*.safetensors", "tokenizer*" }
-- Bounds on what a server may list and answer.
local MAX_FILES = 100000
local MAX_INFO_BYTES = 32 * 1024 * 1024
local MAX_FILE_BYTES = 2 ^ 50
-- What huggingface_hub writes at the top of a cache so that backup tools skip it.
local CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n"
  .. "# This file is a cache directory tag created by huggingface_hub.\n"
  .. "# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n"

local function env(name)
  local v = os.getenv(name)
  return v ~= nil and v ~= "" and v or nil
end

--- The hub cache directory: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
---@return string
function M.cache_dir() return hf_cache.cache_dir() end

--- $HF_ENDPOINT without a trailing slash, else https://huggingface.co.
---@return string
function M.endpoint() return ((env("HF_ENDPOINT") or "https://huggingface.co"):gsub("/+$", "")) end

--- True when HF_HUB_OFFLINE is 1, ON, YES or TRUE: nothing is fetched, only the cache is read.
---@return boolean
function M.offline()
  local v = (env("HF_HUB_OFFLINE") or ""):upper()
  return v == "1" or v == "ON" or v == "YES" or v == "TRUE"
end

--- The token: $HF_TOKEN, else the token file ($HF_TOKEN_PATH, else $HF_HOME/token, else
--- ~/.cache/huggingface/token), else nil.
---@return string|nil
function M.token()
  local t = env("HF_TOKEN")
  if not t then
    local home = env("HF_HOME") or path.join(os.getenv("HOME") or "/root", ".cache/huggingface")
    t = fs.read(env("HF_TOKEN_PATH") or path.join(home, "token"))
  end
  t = t and t:gsub("^%s+", ""):gsub("%s+$", "")
  return t ~= "" and t or nil
end

local function repo_paths(cache, id)
  local folder = hf_cache.repo_folder(id)
  local repo = path.join(cache, folder)
  return {
    repo = repo, blobs = path.join(repo, "blobs"), snapshots = path.join(repo, "snapshots"),
    refs = path.join(repo, "refs"), locks = path.join(cache, ".locks", folder),
  }
end

local function fail(msg) error("seer.hub: " .. msg, 0) end

--- The snapshot directory of `id` at opts.revision (default "main") in the cache, or nil and why.
--- Never touches the network.
---@param id string
---@param opts table? {revision = string, cache_dir = string}
---@return string|nil path, string|nil err
function M.cached_path(id, opts)
  opts = opts or {}
  local ok, err = names.check_id(id)
  if not ok then return nil, err end
  local r, rerr = hf_cache.resolve(id, opts.revision, opts.cache_dir)
  if not r then return nil, rerr end
  return r.snapshot_dir
end

--- The local directory of model `id`: the cached snapshot when there is one (offline first),
--- else a download() unless HF_HUB_OFFLINE is set or opts.download is false.
---@param id string
---@param opts table? {revision, allow_patterns, token, cache_dir, download = bool, quiet}
---@return string snapshot directory
function M.model_path(id, opts)
  opts = opts or {}
  local ok, err = names.check_id(id)
  if not ok then fail(err) end
  local cached, why = M.cached_path(id, opts)
  if cached then return cached end
  if M.offline() or opts.download == false then
    fail(("'%s' (revision '%s') is not in the cache and downloads are off (%s): %s; unset HF_HUB_OFFLINE "
      .. "and run `seer-lua model pull %s`, or point HF_HUB_CACHE at the cache that has it")
      :format(id, opts.revision or "main", M.offline() and "HF_HUB_OFFLINE is set" or "download = false",
        why, id))
  end
  return M.download(id, opts)
end

-- GET the model info at a revision: its commit and file names.
local function repo_info(ctx, opts)
  local url = ("%s/api/models/%s/revision/%s"):format(ctx.endpoint, ctx.id, names.quote_all(ctx.revision))
  local res = remote.run({ { url = url, max_body = MAX_INFO_BYTES } }, opts)[1]
  ctx.what = "the file list"
  if res.error or res.status ~= 200 then fail(remote.describe(ctx, res)) end
  local okj, info = pcall(json.decode, res.body)
  if not okj or type(info) ~= "table" then fail(("the model info of '%s' is not JSON"):format(ctx.id)) end
  local sha = info.sha
  if not names.is_commit(sha) then
    fail(("the model info of '%s' has no commit hash ('sha' is %s)"):format(ctx.id, tostring(sha):sub(1, 60)))
  end
  local files = {}
  local siblings = info.siblings
  if type(siblings) ~= "table" then fail(("the model info of '%s' lists no files"):format(ctx.id)) end
  if #siblings > MAX_FILES then fail(("'%s' lists %d files, more than %d"):format(ctx.id, #siblings, MAX_FILES)) end
  for _, s in ipairs(siblings) do
    local name = type(s) == "table" and s.rfilename
    local okn, nerr = names.check_filename(name)
    if not okn then fail(("the file list of '%s' was refused: %s"):format(ctx.id, nerr)) end
    files[#files + 1] = name
  end
  -- A name that is also another's directory could never be placed as both.
  local set = {}
  for _, f in ipairs(files) do set[f] = true end
  for _, f in ipairs(files) do
    local dir = f:match("^(.*)/[^/]+$")
    while dir do
      if set[dir] then
        fail(("the file list of '%s' names '%s' both as a file and as a directory"):format(ctx.id, dir))
      end
      dir = dir:match("^(.*)/[^/]+$")
    end
  end
  return sha, files
end

-- HEAD each file at the commit: its etag (the blob name), size and, for LFS files, sha256.
local function file_metadata(ctx, sha, files, opts)
  local meta, pending = {}, {}
  for _, f in ipairs(files) do
    local url = ("%s/%s/resolve/%s/%s"):format(ctx.endpoint, ctx.id, sha, names.quote_path(f))
    pending[#pending + 1] = { file = f, url = url }
  end
  for _ = 1, 4 do -- the first answer and up to three relative redirects (a renamed repo)
    if #pending == 0 then break end
    local jobs = {}
    for i, p in ipairs(pending) do jobs[i] = { url = p.url, head = true, max_body = 65536 } end
    local results = remote.run(jobs, opts)
    local again = {}
    for i, res in ipairs(results) do
      local p = pending[i]
      local h = remote.parse_headers(res.headers)
      local redirect = res.status >= 300 and res.status < 400
      local loc = h.location or ""
      local host = loc:match("^https?://([^/:?#]+)")
      -- Followed as huggingface_hub does: on the hub's own host (a renamed repo); a redirect that
      -- carries X-Linked-Etag (an LFS file's storage) holds the metadata itself.
      if not res.error and redirect and not h["x-linked-etag"]
        and (loc:match("^/[^/]") or (host and host:lower() == ctx.endpoint:match("^%a+://([^/:?#]+)"):lower())) then
        again[#again + 1] = { file = p.file, url = host and loc or (ctx.endpoint .. loc) }
      else
        ctx.what, ctx.file = ("file '%s'"):format(p.file), p.file
        if res.error or (res.status ~= 200 and not redirect) then fail(remote.describe(ctx, res)) end
        local etag, eerr = names.normalize_etag(h["x-linked-etag"] or h.etag)
        if not etag then fail(("'%s' file '%s': %s"):format(ctx.id, p.file, eerr)) end
        local size = tonumber(h["x-linked-size"] or (not redirect and h["content-length"]) or nil)
        if not size or size < 0 or size ~= math.floor(size) or size > MAX_FILE_BYTES then
          fail(("'%s' file '%s': the server did not say how large it is (no valid X-Linked-Size or "
            .. "Content-Length)"):format(ctx.id, p.file))
        end
        local lfs = h["x-linked-etag"] ~= nil and etag:match("^[0-9a-f]+$") and #etag == 64
        meta[p.file] = { etag = etag, size = size, sha256 = lfs and etag or nil }
      end
    end
    pending = again
  end
  if #pending > 0 then fail(("'%s' file '%s': too many redirects"):format(ctx.id, pending[1].file)) end
  return meta
end

local function sleep(s) task.sleep(s) end

-- Fetches the blobs in `todo` (etag -> meta) into blobs/, each under its lock. Blobs another
-- process is fetching are waited for, then fetched here only if that process gave up.
local function fetch_blobs(ctx, p, todo, opts, show)
  local mine, theirs = {}, {}
  for etag, m in pairs(todo) do
    if not fs.exists(path.join(p.blobs, etag)) then
      local fd, lerr = C.lock(path.join(p.locks, etag .. ".lock"), false)
      if fd then
        if fs.exists(path.join(p.blobs, etag)) then C.unlock(fd) -- finished while we looked
        else mine[#mine + 1] = { etag = etag, meta = m, fd = fd } end
      elseif lerr == "busy" then
        theirs[#theirs + 1] = { etag = etag, meta = m }
      else
        fail(lerr)
      end
    end
  end
  local function release() for _, b in ipairs(mine) do if b.fd then C.unlock(b.fd) b.fd = nil end end end
  local okall, err = pcall(function()
    if #mine > 0 then
      local need = 0
      for _, b in ipairs(mine) do
        b.partial = path.join(p.blobs, b.etag .. ".incomplete")
        need = need + b.meta.size - (fs.size(b.partial) or 0)
      end
      local free = C.free_bytes(p.blobs)
      if free and need > free then
        fail(("disk full: '%s' needs %s more but %s has only %s free; free some space or set HF_HUB_CACHE "
          .. "to a larger disk"):format(ctx.id, progress.human(need), p.blobs, progress.human(free)))
      end
      local jobs = {}
      for i, b in ipairs(mine) do
        jobs[i] = {
          url = ("%s/%s/resolve/%s/%s"):format(ctx.endpoint, ctx.id, ctx.sha, names.quote_path(b.meta.file)),
          dest = b.partial, size = b.meta.size, sha256 = b.meta.sha256,
        }
      end
      local results = remote.run(jobs, opts, function(t)
        local bytes, total, done = t:progress()
        show:update(bytes, total, done, #jobs)
      end)
      local first
      for i, res in ipairs(results) do
        local b = mine[i]
        if not res.error and res.status >= 200 and res.status < 300 then
          local moved, merr = C.rename(b.partial, path.join(p.blobs, b.etag))
          if not moved then first = first or merr end
          show:file_done(b.meta.file, b.meta.size)
          ctx.fetched = ctx.fetched + 1
          ctx.bytes = ctx.bytes + b.meta.size
        else
          ctx.what, ctx.file = ("file '%s'"):format(b.meta.file), b.meta.file
          first = first or remote.describe(ctx, res)
        end
      end
      if first then fail(first) end
    end
  end)
  release()
  if not okall then error(err, 0) end
  for _, b in ipairs(theirs) do
    local lock = path.join(p.locks, b.etag .. ".lock")
    show:note(("waiting for another process that is downloading %s"):format(b.meta.file))
    local fd
    repeat
      fd = C.lock(lock, false)
      if not fd then sleep(0.1) end
    until fd
    C.unlock(fd)
    if not fs.exists(path.join(p.blobs, b.etag)) then -- it gave up: fetch it here
      fetch_blobs(ctx, p, { [b.etag] = b.meta }, opts, show)
    end
  end
end

local function write_ref(p, revision, sha)
  local ref = path.join(p.refs, revision)
  assert(fs.mkdir(path.dirname(ref)))
  local tmp = ref .. ".tmp-" .. tostring(C.getpid())
  assert(fs.write(tmp, sha))
  assert(C.rename(tmp, ref))
end

--- Download model `id` into the cache and return its snapshot directory.
--- Resolves opts.revision (default "main") to a commit, lists its files (the hub's model info),
--- keeps those matching opts.allow_patterns (default DEFAULT_PATTERNS; fnmatch as huggingface_hub)
--- and fetches the missing ones in parallel through resolve/<commit>/<file>, resuming partial
--- downloads and checking LFS files against their sha256. Raises with what to do on failure.
---@param id string "org/name"
---@param opts table? {revision, allow_patterns, token (string, or false: none), cache_dir, endpoint, quiet,
---  timeout, retries, backoff, parallel}
---@return string snapshot directory
function M.download(id, opts)
  opts = opts or {}
  local ok, err = names.check_id(id)
  if not ok then fail(err) end
  local revision = opts.revision or "main"
  ok, err = names.check_revision(revision)
  if not ok then fail(err) end
  if M.offline() then
    local cached = M.cached_path(id, opts)
    if cached then return cached end
    fail(("HF_HUB_OFFLINE is set and '%s' (revision '%s') is not in the cache at %s; unset HF_HUB_OFFLINE "
      .. "to download it"):format(id, revision, opts.cache_dir or M.cache_dir()))
  end
  local token = opts.token
  if token == nil then token = M.token() end
  local timeout = opts.timeout or tonumber(env("HF_HUB_DOWNLOAD_TIMEOUT") or "") or 30
  local topts = {
    authorization = token and ("Bearer " .. token) or nil, timeout = timeout,
    retries = opts.retries, backoff = opts.backoff, parallel = opts.parallel,
    user_agent = ("seer-lua/%s; hf_hub/compatible"):format(version or "0"),
  }
  local ctx = { id = id, revision = revision, endpoint = opts.endpoint or M.endpoint(), token_sent = token ~= nil,
                timeout = timeout, fetched = 0, bytes = 0 }
  local sha, files = repo_info(ctx, topts)
  ctx.sha = sha
  local wanted = {}
  for _, f in ipairs(files) do
    if names.allowed(f, opts.allow_patterns or M.DEFAULT_PATTERNS) then wanted[#wanted + 1] = f end
  end
  local p = repo_paths(opts.cache_dir or M.cache_dir(), id)
  local snap = path.join(p.snapshots, sha)
  for _, d in ipairs({ p.blobs, snap, p.refs, p.locks }) do
    local made, merr = fs.mkdir(d)
    if not made then fail(("cannot create %s: %s"):format(d, tostring(merr))) end
  end
  ctx.dir = p.blobs
  local tag = path.join(opts.cache_dir or M.cache_dir(), "CACHEDIR.TAG")
  if not fs.exists(tag) then fs.write(tag, CACHEDIR_TAG) end
  local missing = {}
  for _, f in ipairs(wanted) do
    if not fs.exists(path.join(snap, f)) then missing[#missing + 1] = f end
  end
  local show = progress.new(id, { quiet = opts.quiet })
  if #missing > 0 then
    local meta = file_metadata(ctx, sha, missing, topts)
    local todo = {}
    for _, f in ipairs(missing) do
      local m = meta[f]
      m.file = f
      todo[m.etag] = todo[m.etag] or m
    end
    fetch_blobs(ctx, p, todo, topts, show)
    -- Blob first (done), then the snapshot's symlinks, then the ref.
    for _, f in ipairs(missing) do
      local dst = path.join(snap, f)
      assert(fs.mkdir(path.dirname(dst)))
      local linked, lerr = C.symlink(names.blob_link(f, meta[f].etag), dst)
      if not linked then fail(lerr) end
    end
  end
  if revision ~= sha then write_ref(p, revision, sha) end
  if #missing > 0 then show:finish(ctx.fetched, ctx.bytes) end
  return snap
end

--- One cached model: id, repo_dir, size (bytes of its blobs), revisions ({name = commit}),
--- snapshots (commit hashes), files (in the newest snapshot).
---@class seer.hub.CachedModel

local function dir_bytes(dir)
  local total = 0
  for _, name in ipairs(fs.list(dir) or {}) do
    local kind, size = C.lstat(path.join(dir, name))
    if kind == "file" then total = total + size end
  end
  return total
end

local function list_refs(dir, prefix, out)
  for _, name in ipairs(fs.list(dir) or {}) do
    local p = path.join(dir, name)
    if C.lstat(p) == "directory" then list_refs(p, prefix .. name .. "/", out)
    else out[prefix .. name] = ((fs.read(p) or ""):gsub("%s+$", "")) end
  end
  return out
end

--- The models in the cache, sorted by id.
---@param cache string? default cache_dir()
---@return seer.hub.CachedModel[]
function M.list(cache)
  cache = cache or M.cache_dir()
  local out = {}
  for _, folder in ipairs(fs.list(cache) or {}) do
    local org, name = folder:match("^models%-%-(.-)%-%-(.+)$")
    if org then
      local repo = path.join(cache, folder)
      out[#out + 1] = {
        id = org .. "/" .. name, repo_dir = repo, size = dir_bytes(path.join(repo, "blobs")),
        revisions = list_refs(path.join(repo, "refs"), "", {}),
        snapshots = fs.list(path.join(repo, "snapshots")) or {},
      }
    end
  end
  table.sort(out, function(a, b) return a.id < b.id end)
  return out
end

--- Remove model `id` (every revision) from the cache. Returns the bytes freed.
---@param id string
---@param opts table? {cache_dir}
---@return integer bytes freed
function M.remove(id, opts)
  opts = opts or {}
  local ok, err = names.check_id(id)
  if not ok then fail(err) end
  local cache = opts.cache_dir or M.cache_dir()
  local p = repo_paths(cache, id)
  if not fs.is_dir(p.repo) then fail(("'%s' is not in the cache at %s"):format(id, cache)) end
  local freed = dir_bytes(p.blobs)
  local removed, rerr = fs.remove(p.repo)
  if not removed then fail(rerr) end
  fs.remove(p.locks)
  return freed
end

return M
