-- Local sandboxes through seer.environment: lifecycle, exec, files, snapshots, config errors, and
-- the isolation guarantees of DESIGN §5, each checked from inside the sandbox. The same spec runs
-- as root and, through tests/integration/sandbox_unprivileged.sh, as an ordinary user.
local env = require "seer.environment"
local fs = require "seer.fs"
local path = require "seer.path"
local seer = require "seer"

local function make_hf_cache()
  local cache = assert(fs.tmpdir("seer-hf"))
  local repo = path.join(cache, "models--test-org--tiny-model")
  assert(fs.mkdir(path.join(repo, "snapshots", "abc123")))
  assert(fs.mkdir(path.join(repo, "refs")))
  assert(fs.write(path.join(repo, "refs", "main"), "abc123"))
  assert(fs.mkdir(path.join(repo, "blobs")))
  assert(fs.write(path.join(repo, "blobs", "cfg"), '{"model_type": "llama"}'))
  -- Snapshots hold relative symlinks into blobs/, as huggingface_hub writes them.
  local link = path.join(repo, "snapshots/abc123/config.json")
  assert(seer.process.run({ cmd = "ln", args = { "-s", "../../blobs/cfg", link } }).ok)
  return cache
end

describe("sandbox config", function()
  it("lists valid fields for an unknown one", function()
    local ok, err = pcall(env.SandboxConfig, { gpus = 1 })
    assert.is_false(ok)
    assert.matches("unknown field 'gpus'", err)
    assert.matches("valid fields: .*memory", err)
  end)

  it("says python_packages has no meaning here", function()
    local ok, err = pcall(env.SandboxConfig, { python_packages = { "torch" } })
    assert.is_false(ok)
    assert.matches("python_packages.*no meaning", err)
  end)

  it("checks types and sizes", function()
    assert.has_error(function() env.SandboxConfig({ memory = "lots" }) end)
    assert.has_error(function() env.SandboxConfig({ network = "yes" }) end)
    assert.has_error(function() env.ModelConfig({ name = "no-slash" }) end)
    assert.are.equal(512 * 1024 * 1024, env.SandboxConfig({ memory = "512M" }).memory_bytes)
  end)

  it("refuses a missing secret and a missing model before starting", function()
    local sb = env.Sandbox(env.SandboxConfig({ secrets = { "SEER_SURELY_NOT_SET_XYZ" } }))
    local ok, err = pcall(sb.start, sb)
    assert.is_false(ok)
    assert.matches("secret 'SEER_SURELY_NOT_SET_XYZ' is not set", err)
    sb = env.Sandbox(env.SandboxConfig({ models = { env.ModelConfig({ name = "nobody/nothing" }) } }))
    ok, err = pcall(sb.start, sb)
    assert.is_false(ok)
    assert.matches("'nobody/nothing' is not in the Hugging Face cache", err)
  end)
end)

describe("sandbox lifecycle", function()
  it("refuses calls before start and after terminate", function()
    local sb = env.Sandbox(env.SandboxConfig({}))
    local ok, err = pcall(sb.exec, sb, "true")
    assert.is_false(ok)
    assert.matches("not started", err)
    ok, err = pcall(sb.serve, sb, "x.lua")
    assert.is_false(ok)
    assert.matches("not started", err)
    sb:start()
    sb:terminate()
    sb:terminate() -- idempotent
    ok, err = pcall(sb.exec, sb, "true")
    assert.is_false(ok)
    assert.matches("terminated", err)
  end)

  it("runs commands, moves files and snapshots the workspace", function()
    local sb = env.ScopedSandbox(env.SandboxConfig({ env = { GREETING = "hi" } }))
    sb:start()
    assert.matches("^local%-%d+$", sb.sandbox_id)
    assert.are.equal("hi /workspace\n", sb:exec("echo $GREETING $HOME"))
    sb:write_file("/workspace/notes/a.txt", "line one\n\0binary")
    assert.are.equal("line one\n\0binary", sb:read_file("/workspace/notes/a.txt"))
    sb:ensure_dir("/workspace/deep/er")
    assert.are.equal("er\n", sb:exec("ls /workspace/deep"))
    local ok, err = pcall(sb.exec, sb, "echo oops >&2; exit 7")
    assert.is_false(ok)
    assert.matches("exited with code 7: oops", err)
    local out, stderr, code = sb:exec("echo o; echo e >&2; exit 3", { check = false })
    assert.are.same({ "o\n", "e\n", 3 }, { out, stderr, code })
    ok, err = pcall(sb.exec, sb, "sleep 10", { timeout = 0.2 })
    assert.is_false(ok)
    assert.matches("timed out after 0.2 s", err)
    local snap = sb:snapshot()
    sb:terminate()
    local sb2 = env.Sandbox.from_snapshot(snap, env.SandboxConfig({}))
    assert.are.equal("line one\n\0binary", sb2:read_file("/workspace/notes/a.txt"))
    sb2:terminate()
  end)
end)

describe("sandbox isolation (from inside, through exec)", function()
  local sb, cache, canaries
  setup(function()
    cache = make_hf_cache()
    -- Canaries in the host's /tmp, home and project directory.
    canaries = {
      path.join(assert(fs.tmpdir("seer-canary")), "canary.txt"),
      path.join(os.getenv("HOME") or "/root", ".seer-canary-" .. tostring(os.time())),
      path.join(fs.cwd(), ".seer-canary-project"),
    }
    for _, c in ipairs(canaries) do fs.write(c, "SECRET-CANARY") end
    sb = env.Sandbox(env.SandboxConfig({
      models = { env.ModelConfig({ name = "test-org/tiny-model" }) }, pids = 48, memory = "96M",
      secrets = { "SEER_FIXTURES" },
    }))
    -- The test's own HF cache (the real one is found through HF_HUB_CACHE or HF_HOME).
    require("seer.hf_cache").cache_dir = function() return cache end
    sb:start()
  end)
  teardown(function()
    if sb then sb:terminate() end
    for _, c in ipairs(canaries) do os.remove(c) end
    fs.remove(cache)
  end)

  it("cannot read host files", function()
    for _, c in ipairs(canaries) do
      local out, _, code = sb:exec({ "cat", c }, { check = false })
      assert.are_not.equal(0, code)
      assert.is_nil(out:find("SECRET-CANARY", 1, true))
    end
    -- The host's home, project and /tmp are not there at all.
    local listing = sb:exec("ls -a /tmp /workspace; ls -d /root /home /work " .. fs.cwd() .. " 2>&1; true")
    assert.is_nil(listing:find("canary", 1, true))
    assert.matches("No such file", listing)
  end)

  it("sees only its own processes", function()
    local n = tonumber(sb:exec("ls /proc | grep -c '^[0-9]'"))
    assert.is_true(n < 8, "saw " .. n .. " processes")
    assert.is_nil(sb:exec("cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '"):find("run_busted", 1, true))
  end)

  it("has only loopback and cannot reach the host's", function()
    local server = seer.process.spawn({ cmd = "sh", args = { "-c", "exec sleep 30" } })
    local links = sb:exec("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '")
    assert.are.equal("lo\n", links)
    -- A host listener on 127.0.0.1: the sandbox's loopback is its own.
    local rpc_ok, rpc = pcall(require, "seer.rpc")
    if rpc_ok then
      local srv = rpc.listen("tcp:127.0.0.1:0", function() return "pong" end, { token = "t" })
      local port = srv.address:match(":(%d+)$")
      local _, stderr, code = sb:exec({ "bash", "-c", "echo x > /dev/tcp/127.0.0.1/" .. port }, { check = false })
      assert.are_not.equal(0, code)
      assert.matches("refused", stderr)
      srv:close()
    end
    server:kill(9)
  end)

  it("refuses ptrace, mount and namespace escapes", function()
    local errno = sb:exec({ "perl", "-e", "syscall(101, 16, 1, 0, 0); print $!+0" }) -- PTRACE_ATTACH pid 1
    assert.are.equal("1", errno) -- EPERM
    local _, stderr, code = sb:exec("mount -t tmpfs none /tmp", { check = false })
    assert.are_not.equal(0, code)
    assert.matches("[Pp]ermission denied", stderr)
    _, _, code = sb:exec("unshare -U true", { check = false })
    assert.are_not.equal(0, code)
    assert.are.equal("2\n", sb:exec("grep ^Seccomp: /proc/self/status | cut -f2"))
    assert.are.equal("1\n", sb:exec("grep ^NoNewPrivs: /proc/self/status | cut -f2"))
  end)

  it("mounts models read-only at /models/<org>--<name>", function()
    assert.are.equal('{"model_type": "llama"}', sb:read_file("/models/test-org--tiny-model/config.json"))
    assert.are.equal("/models/test-org--tiny-model\n", sb:exec("echo $MODEL_TEST_ORG_TINY_MODEL_PATH"))
    local _, stderr, code = sb:exec("touch /models/test-org--tiny-model/x", { check = false })
    assert.are_not.equal(0, code)
    assert.matches("Read%-only", stderr)
    _, _, code = sb:exec("touch /usr/x /etc/x", { check = false })
    assert.are_not.equal(0, code)
  end)

  it("passes declared secrets and nothing else from the host environment", function()
    local e = sb:exec("env")
    assert.matches("SEER_FIXTURES=", e)
    assert.is_nil(e:find("SEER_LUA_BIN=", 1, true))
    assert.is_nil(e:find("SEER_SOURCE_DIR=", 1, true))
  end)

  it("contains a fork bomb with the pids limit", function()
    local _, stderr, code = sb:exec("i=0; while [ $i -lt 200 ]; do sleep 2 & i=$((i+1)); done; wait",
      { check = false, timeout = 30 })
    assert.are_not.equal(0, code)
    assert.matches("[Cc]annot fork", stderr)
    -- the sandbox survives it
    seer.sleep(2.2)
    assert.are.equal("ok\n", sb:exec("echo ok"))
  end)

  it("kills a memory bomb and reports it as out of memory", function()
    local ok, err = pcall(sb.exec, sb, { "/.seer/seer-lua", "-e",
      "local t = {} for i = 1, 1e6 do t[i] = string.rep('x', 1e6 + i) end" })
    assert.is_false(ok)
    assert.matches("sandbox exited: killed %(out of memory", err)
    ok, err = pcall(sb.exec, sb, "true")
    assert.is_false(ok)
    assert.matches("not running %(killed %(out of memory", err)
  end)
end)
