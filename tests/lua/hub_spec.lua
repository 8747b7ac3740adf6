-- seer.hub against a hub-like server on loopback (tests/peers/hub_server.py): the cache layout
-- huggingface_hub writes, resumed and verified transfers, the errors that say what to do, hostile
-- names and heads, two processes pulling at once, offline mode, model.load("org/name") and the
-- `seer-lua model` commands.
local seer = require "seer"
local core = require "seer.core"
local fs = require "seer.fs"
local path = require "seer.path"
local hub = require "seer.hub"
local C = require "seer._hub"
local peers = require "hub_peer"

local FIX = os.getenv("SEER_FIXTURES") or "tests/fixtures"
local LUA = os.getenv("SEER_LUA_BIN") or core.exe_path()
local LLAMA = FIX .. "/models/llama"

local function fresh_cache() return assert(fs.tmpdir("seer-hub-cache")) end

-- Starts seer-lua in a child process with extra environment variables (false: unset), and no
-- token file of the host's: HF_HOME is a fresh directory.
local function spawn(args, extra)
  local env = {}
  for k, v in pairs(core.environ()) do env[k] = v end
  env.HF_HOME = assert(fs.tmpdir("seer-hub-home"))
  for k, v in pairs(extra or {}) do env[k] = v or nil end
  return seer.process.spawn({ cmd = LUA, args = args, env = env, timeout = 120 })
end
local function child(args, extra) return spawn(args, extra):wait() end

local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("seer.hub", function()
  local peer, nested, secret, adapter
  setup(function()
    nested = assert(fs.tmpdir("seer-hub-nested"))
    assert(fs.mkdir(nested .. "/a/b"))
    assert(fs.write(nested .. "/config.json", '{"model_type": "llama"}'))
    assert(fs.write(nested .. "/a/b/extra.json", '{"deep": true}'))
    assert(fs.write(nested .. "/README.md", "not fetched by default"))
    secret = assert(fs.tmpdir("seer-hub-secret"))
    for _, f in ipairs({ "config.json", "model.safetensors" }) do
      local text = assert(fs.read(LLAMA .. "/" .. f))
      if f == "config.json" then text = text:gsub("^{", '{\n  "_name_or_path": "org/secret-model",') end
      assert(fs.write(secret .. "/" .. f, text))
    end
    assert(fs.write(secret .. "/README.md", "# Secret-Model\nA fine-tune by Org: ORG/SECRET-MODEL.\n"))
    adapter = assert(fs.tmpdir("seer-hub-adapter"))
    assert(fs.write(adapter .. "/adapter_config.json",
      '{"peft_type": "LORA", "base_model_name_or_path": "org/base-model", "r": 4}'))
    assert(fs.write(adapter .. "/adapter_model.safetensors", "\8\0\0\0\0\0\0\0{}      "))
    peer = peers.start({ ["org/llama"] = LLAMA, ["org/nested"] = nested, ["org/gated"] = LLAMA,
                         ["org/secret-model"] = secret, ["org/adapter"] = adapter, ["org/base-model"] = LLAMA,
                         ["org/lora"] = FIX .. "/peft/llama-lora" },
      { token = "hf_right", gated = { "org/gated" } })
  end)
  teardown(function()
    if peer then peer.stop() end
    for _, d in ipairs({ nested, secret, adapter }) do fs.remove(d) end
  end)
  before_each(function() peer.reset() end)

  local function pull(id, cache, extra)
    local opts = { cache_dir = cache, endpoint = peer.url, quiet = true, retries = 2, backoff = 0.05, token = false }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return hub.download(id, opts)
  end

  it("writes huggingface_hub's layout: blobs named by etag, relative symlinks, refs/main", function()
    local cache = fresh_cache()
    local snap = pull("org/llama", cache)
    local repo = path.join(cache, "models--org--llama")
    local commit = assert(fs.read(path.join(repo, "refs/main")))
    assert.are.equal(40, #commit)
    assert.are.equal(path.join(repo, "snapshots", commit), snap)
    local target = assert(fs.readlink(path.join(snap, "model.safetensors")))
    local sha = assert(C.sha256_file(LLAMA .. "/model.safetensors"))
    assert.are.equal("../../blobs/" .. sha, target)
    assert.are.equal("file", (C.lstat(path.join(repo, "blobs", sha))))
    assert.are.equal(assert(fs.read(LLAMA .. "/config.json")), fs.read(path.join(snap, "config.json")))
    assert.is_nil(fs.list(path.join(repo, "blobs"))[5]) -- 4 files, 4 blobs, no .incomplete left
    local m = seer.model.load(snap)
    assert.are.equal(3, m.num_layers)
    -- Pulling again fetches nothing: every file is in the snapshot.
    peer.reset()
    assert.are.equal(snap, pull("org/llama", cache))
    assert.are.equal(0, peer.count("resolve"))
    fs.remove(cache)
  end)

  it("links nested files with the right depth and keeps to allow_patterns", function()
    local cache = fresh_cache()
    local snap = pull("org/nested", cache)
    assert.are.equal('{"deep": true}', fs.read(path.join(snap, "a/b/extra.json")))
    assert.truthy(fs.readlink(path.join(snap, "a/b/extra.json")):match("^%.%./%.%./%.%./%.%./blobs/%x+$"))
    assert.is_false(fs.exists(path.join(snap, "README.md")))
    pull("org/nested", cache, { allow_patterns = { "README*" } })
    assert.are.equal("not fetched by default", fs.read(path.join(snap, "README.md")))
    fs.remove(cache)
  end)

  it("resumes a dropped download with Range, in the same run and in a later one", function()
    local cache = fresh_cache()
    peer.faults({ { kind = "drop", match = "model.safetensors", after = 100000 } })
    local snap = pull("org/llama", cache)
    assert.are.equal(assert(fs.read(LLAMA .. "/model.safetensors")), fs.read(path.join(snap, "model.safetensors")))
    local ranges = peer.stats().ranges
    assert.are.same({ { "model.safetensors", 100000 } }, ranges)
    fs.remove(cache)

    -- No retries: the partial file stays; the next pull asks only for the rest.
    cache = fresh_cache()
    peer.reset()
    peer.faults({ { kind = "drop", match = "model.safetensors", after = 300000 } })
    local err = err_of(pull, "org/llama", cache, { retries = 0 })
    assert.truthy(err:find("model.safetensors", 1, true), err)
    local sha = assert(C.sha256_file(LLAMA .. "/model.safetensors"))
    local partial = path.join(cache, "models--org--llama/blobs", sha .. ".incomplete")
    assert.are.equal(300000, fs.size(partial))
    snap = pull("org/llama", cache)
    assert.are.same({ { "model.safetensors", 300000 } }, peer.stats().ranges)
    assert.are.equal(sha, C.sha256_file(path.join(snap, "model.safetensors")))
    assert.is_false(fs.exists(partial))
    fs.remove(cache)
  end)

  it("rejects bytes whose sha256 is not the announced one and leaves the cache clean", function()
    local cache = fresh_cache()
    peer.faults({ { kind = "corrupt", match = "model.safetensors", count = -1 } })
    local err = err_of(pull, "org/llama", cache)
    assert.truthy(err:find("corrupt", 1, true) and err:find("sha256 mismatch", 1, true), err)
    local repo = path.join(cache, "models--org--llama")
    local sha = assert(C.sha256_file(LLAMA .. "/model.safetensors"))
    assert.is_false(fs.exists(path.join(repo, "blobs", sha)))
    assert.is_false(fs.exists(path.join(repo, "blobs", sha .. ".incomplete")))
    assert.is_nil(C.lstat(path.join(hub.cached_path("org/llama", { cache_dir = cache }) or "/nonexistent",
      "model.safetensors")))
    peer.reset()
    local snap = pull("org/llama", cache)
    assert.are.equal(sha, C.sha256_file(path.join(snap, "model.safetensors")))
    fs.remove(cache)
  end)

  it("says what to do on 401, 403, 404 and a hub that keeps failing, and retries a 500", function()
    local cache = fresh_cache()
    local err = err_of(pull, "org/gated", cache)
    assert.truthy(err:find("gated", 1, true) and err:find("HF_TOKEN", 1, true) and err:find("401", 1, true), err)
    err = err_of(pull, "org/gated", cache, { token = "hf_wrong" })
    assert.truthy(err:find("403", 1, true) and err:find("accept the license", 1, true), err)
    local snap = pull("org/gated", cache, { token = "hf_right" })
    assert.truthy(fs.is_file(path.join(snap, "config.json")))
    assert.are.equal(0, peer.stats().storage_auth) -- the token never went to the storage host
    -- The token file under HF_HOME, as `huggingface-cli login` writes it.
    local home = assert(fs.tmpdir("seer-hub-home"))
    assert(fs.write(home .. "/token", "hf_right\n"))
    local r = spawn({ "-e", "print(require('seer.hub').download('org/gated', {quiet = true}))" },
      { HF_HUB_CACHE = fresh_cache(), HF_ENDPOINT = peer.url, HF_TOKEN = false, HF_HOME = home }):wait()
    assert.is_true(r.ok, r.stderr)

    err = err_of(pull, "org/unknown", cache)
    assert.truthy(err:find("no model 'org/unknown'", 1, true), err)
    err = err_of(pull, "org/llama", cache, { revision = "v9" })
    assert.truthy(err:find("no revision 'v9'", 1, true), err)
    peer.faults({ { kind = "status", match = "config.json", method = "HEAD", status = 404,
                    error_code = "EntryNotFound" } })
    err = err_of(pull, "org/llama", cache)
    assert.truthy(err:find("no file 'config.json'", 1, true), err)

    peer.reset()
    peer.faults({ { kind = "status", match = "/api/", status = 500, count = 2 } })
    pull("org/llama", fresh_cache())
    assert.are.equal(3, peer.count("GET /api/models/org/llama"))
    peer.reset()
    peer.faults({ { kind = "status", match = "/api/", status = 503, count = -1 } })
    err = err_of(pull, "org/llama", fresh_cache())
    assert.truthy(err:find("HTTP 503", 1, true) and err:find("after 3 attempts", 1, true), err)
    fs.remove(cache)
  end)

  it("gives up on a server that stalls, after its retries", function()
    peer.faults({ { kind = "stall", match = "model.safetensors", seconds = 4, count = 2 } })
    local err = err_of(pull, "org/llama", fresh_cache(), { timeout = 1, retries = 1 })
    assert.truthy(err:find("sent nothing for 1 s", 1, true) and err:find("after 2 attempts", 1, true), err)
  end)

  it("refuses hostile names, etags, heads and redirects", function()
    for _, bad in ipairs({ "../evil.json", "/etc/passwd.json", "a/../../x.json", "a//b.json", "x\\..\\y.json" }) do
      peer.reset()
      peer.faults({ { kind = "siblings", names = { bad } } })
      local err = err_of(pull, "org/llama", fresh_cache())
      assert.truthy(err:find("file list of 'org/llama' was refused", 1, true), bad .. ": " .. err)
    end
    peer.reset()
    peer.faults({ { kind = "siblings", names = { "config.json/x.json" } } })
    local err = err_of(pull, "org/llama", fresh_cache())
    assert.truthy(err:find("both as a file and as a directory", 1, true), err)
    -- Sizes: fewer bytes announced than sent, and more than any disk holds.
    local cache = fresh_cache()
    peer.reset()
    peer.faults({ { kind = "size", match = "model.safetensors", size = 1000 } })
    err = err_of(pull, "org/llama", cache)
    assert.truthy(err:find("more than the 1000 bytes it announced", 1, true), err)
    for _, f in ipairs(fs.list(path.join(cache, "models--org--llama/blobs")) or {}) do
      assert.is_nil(f:match("incomplete"), f) -- the bad partial file is gone
    end
    peer.reset()
    peer.faults({ { kind = "size", match = "model.safetensors", size = 2 ^ 49 } })
    err = err_of(pull, "org/llama", fresh_cache())
    assert.truthy(err:find("disk full", 1, true), err)
    peer.reset()
    peer.faults({ { kind = "etag", match = "model.safetensors", etag = "../../../../tmp/owned" } })
    err = err_of(pull, "org/llama", fresh_cache())
    assert.truthy(err:find("not a blob name", 1, true), err)
    for _, size in ipairs({ 80000, 200000 }) do -- over our bound; over libcurl's too
      peer.reset()
      peer.faults({ { kind = "bigheader", match = "config.json", bytes = size } })
      err = err_of(pull, "org/llama", fresh_cache())
      assert.truthy(err:find("response head", 1, true) and err:find("refused", 1, true), err)
    end
    peer.reset()
    peer.faults({ { kind = "redirect", match = "config.json", method = "GET", location = "file:///etc/passwd" } })
    err = err_of(pull, "org/llama", fresh_cache())
    assert.truthy(err:find("config.json", 1, true) and err:find("refused", 1, true), err)
    err = err_of(hub.download, "../etc", { cache_dir = fresh_cache(), endpoint = peer.url })
    assert.truthy(err:find("not a hub model id", 1, true), err)
    err = err_of(pull, "org/llama", fresh_cache(), { revision = "../../x" })
    assert.truthy(err:find("is not a branch", 1, true), err)
  end)

  it("says the disk is full before downloading onto it", function()
    -- A 300 KB tmpfs in a mount namespace of its own (root, or an unprivileged user namespace).
    local dir = assert(fs.tmpdir("seer-hub-tiny"))
    local script = ("mount -t tmpfs -o size=300k tmpfs '%s' && exec '%s' -e \"require('seer.hub')"
      .. ".download('org/llama', {quiet = true})\""):format(dir, LUA)
    local env = { HF_HUB_CACHE = dir .. "/hub", HF_ENDPOINT = peer.url, HF_HOME = dir }
    for _, k in ipairs({ "PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" }) do env[k] = os.getenv(k) end
    local r = seer.process.run({ cmd = "unshare", args = { "-rm", "sh", "-c", script }, env = env })
    fs.remove(dir)
    assert.are.equal(1, r.code, r.stderr)
    assert.truthy(r.stderr:find("disk full", 1, true) and r.stderr:find("HF_HUB_CACHE", 1, true), r.stderr)
  end)

  it("lets two processes pull one model at once: one downloads each blob, the other waits", function()
    local cache = fresh_cache()
    peer.faults({ { kind = "stall", match = "model.safetensors", seconds = 1.5 } })
    local env = { HF_HUB_CACHE = cache, HF_ENDPOINT = peer.url, HF_TOKEN = false }
    local script = "print(require('seer.hub').download('org/llama', {quiet = true}))"
    local a = spawn({ "-e", script }, env)
    local b = spawn({ "-e", script }, env)
    local ra, rb = a:wait(), b:wait()
    assert.is_true(ra.ok, ra.stderr)
    assert.is_true(rb.ok, rb.stderr)
    assert.are.equal(ra.stdout, rb.stdout)
    assert.are.equal(1, peer.count("GET storage:/lfs/" .. C.sha256_file(LLAMA .. "/model.safetensors")))
    assert.are.equal(1, peer.count("GET storage:/lfs/" .. C.sha256_file(LLAMA .. "/reference.safetensors")))
    local snap = ra.stdout:gsub("%s+$", "")
    assert.are.equal(C.sha256_file(LLAMA .. "/model.safetensors"), C.sha256_file(snap .. "/model.safetensors"))
    fs.remove(cache)
  end)

  it("loads org/name through the cache, pulls it when allowed, and works offline", function()
    local cache = fresh_cache()
    local env = { HF_HUB_CACHE = cache, HF_ENDPOINT = peer.url, HF_TOKEN = false }
    local load = "local m = require('seer').model.load('org/llama'); print(m.num_layers, m.path)"
    env.HF_HUB_OFFLINE = "1"
    local r = child({ "-e", load }, env)
    assert.is_false(r.ok)
    assert.truthy(r.stderr:find("HF_HUB_OFFLINE", 1, true), r.stderr)
    env.HF_HUB_OFFLINE = false
    r = child({ "-e", load }, env)
    assert.is_true(r.ok, r.stderr)
    assert.truthy(r.stdout:match("^3%s+" .. cache:gsub("%p", "%%%0")), r.stdout)
    peer.reset()
    env.HF_HUB_OFFLINE = "1"
    r = child({ "-e", load }, env)
    assert.is_true(r.ok, r.stderr)
    assert.are.equal(0, peer.count("/api/") + peer.count("/org/"))
    fs.remove(cache)
  end)

  it("Sandbox:start pulls its models and mounts hidden ones and PEFT bases under neutral names", function()
    local cache = fresh_cache()
    local r = child({ FIX:gsub("fixtures$", "lua/fixtures") .. "/hub/sandbox_models.lua" },
      { HF_HUB_CACHE = cache, HF_ENDPOINT = peer.url, HF_TOKEN = false })
    assert.is_true(r.ok, r.stderr)
    assert.are.equal("ok\n", r.stdout)
    for _, id in ipairs({ "org/llama", "org/secret-model", "org/adapter", "org/base-model" }) do
      assert.truthy(hub.cached_path(id, { cache_dir = cache }), id)
    end
    fs.remove(cache)
  end)

  it("draws a bar with bytes, rate and ETA on a terminal, and quiet lines otherwise", function()
    local progress = require "seer.hub.progress"
    local function sink()
      local parts = {}
      return { write = function(self, ...) for _, v in ipairs({ ... }) do parts[#parts + 1] = v end return self end,
               flush = function() end, text = function() return table.concat(parts) end }
    end
    local out = sink()
    local p = progress.new("org/x", { tty = true, out = out })
    p.start = p.start - 2000 -- long enough ago that the clock's advance does not show in the rate
    p:update(500e9, 1000e9, 1, 3)
    local bar = out.text()
    for _, want in ipairs({ "\r", "50%", "500.00 GB/1.00 TB", "250.00 MB/s", "ETA 33:20", "(1/3 files)" }) do
      assert.truthy(bar:find(want, 1, true), want .. " in " .. bar)
    end
    out = sink()
    p = progress.new("org/x", { tty = false, out = out })
    p:update(500e6, 1000e6, 1, 3)
    p:file_done("model.safetensors", 1000e6)
    p:finish(1, 1000e6)
    local lines = out.text()
    assert.truthy(lines:find("^hub: org/x: model.safetensors %(1.00 GB%)\nhub: org/x: 1 file, 1.00 GB in"), lines)
    assert.is_nil(lines:find("\r", 1, true))
  end)

  it("`seer-lua model pull/ls/info/rm` work and answer --help", function()
    local cache = fresh_cache()
    local env = { HF_HUB_CACHE = cache, HF_ENDPOINT = peer.url, HF_TOKEN = false }
    for _, sub in ipairs({ "pull", "ls", "info", "rm", "create-random" }) do
      local r = child({ "model", sub, "--help" }, env)
      assert.are.equal(0, r.code, sub .. ": " .. r.stderr)
      assert.truthy(r.stdout:find("usage", 1, true), sub)
    end
    local r = child({ "model", "pull", "org/nested", "--include", "*.json" }, env)
    assert.are.equal(0, r.code, r.stderr)
    r = child({ "model", "pull", "org/llama" }, env)
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("snapshots/", 1, true), r.stdout)
    r = child({ "model", "ls" }, env)
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("org/llama", 1, true) and r.stdout:find("org/nested", 1, true), r.stdout)
    assert.truthy(r.stdout:find("main", 1, true), r.stdout)
    r = child({ "model", "info", "org/llama" }, env)
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find("LlamaForCausalLM", 1, true) and r.stdout:find("model.safetensors", 1, true), r.stdout)
    assert.truthy(r.stdout:find("parameters", 1, true), r.stdout)
    r = child({ "model", "rm", "org/llama" }, env)
    assert.are.equal(0, r.code, r.stderr)
    assert.is_false(fs.exists(path.join(cache, "models--org--llama")))
    r = child({ "model", "pull", "org/unknown" }, env)
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("no model 'org/unknown'", 1, true), r.stderr)
    fs.remove(cache)
  end)
end)
