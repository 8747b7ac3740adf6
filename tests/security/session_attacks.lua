-- Red-team attacks by an agent on its own session (issue 10, item 14). The agent's code arrives
-- through the harness's session tools (run_lua, read_file, list_files), exactly as a model's tool
-- calls do, and tries to get around the interface it was given: read the model's weights in the
-- HF cache, read the host's home, load the model itself, reach other sockets, read the host's
-- secrets, or take the host down. The interface itself must keep working. The last test shows the
-- same attacks succeeding with isolation = "none", the explicit opt-out (and the old behaviour).
-- Run by tests/security/session.sh, which makes the HF cache with a fixture model, sets HOME and a
-- secret, and repeats the run as an unprivileged user.
local env = require "seer.environment"
local execution = require "seer.execution"
local Workspace = require("seer.workspace").Workspace
local tools = require "seer.harness.tools"
local fs = require "seer.fs"
local path = require "seer.path"
local rpc = require "seer.rpc"

local CACHE = assert(os.getenv("HF_HUB_CACHE"), "HF_HUB_CACHE is not set: run through session.sh")
local SECRET = assert(os.getenv("SEER_SESSION_SECRET"), "SEER_SESSION_SECRET is not set: run through session.sh")
local INTERFACE = assert(os.getenv("SEER_SESSION_INTERFACE"), "SEER_SESSION_INTERFACE is not set")
local HOME = assert(os.getenv("HOME"))
local MODEL = "seer-test/tiny-llama"
local SNAPSHOT = path.join(CACHE, "models--seer-test--tiny-llama", "snapshots", "local")

-- One agent tool call; returns the tool result's content and whether it is an error.
local function tool(session, name, input)
  local by_name = {}
  for _, t in ipairs(tools.session_tools(session)) do by_name[t.name] = t end
  return tools.call(by_name, { name = name, input = input })
end

local function run_lua(session, code) return tool(session, "run_lua", { code = code }) end

-- Lua source for a string literal.
local function q(s) return ("%q"):format(s) end

describe("an agent in a sandboxed session", function()
  local sb, lib, session, canary_dir, canary

  setup(function()
    assert(fs.is_file(path.join(SNAPSHOT, "model.safetensors")), "no fixture model in " .. CACHE)
    canary_dir = path.join(HOME, ".seer-session-canary-" .. SECRET)
    assert(fs.mkdir(canary_dir))
    canary = path.join(canary_dir, "canary.txt")
    assert(fs.write(canary, "CANARY-" .. SECRET))
    sb = env.ScopedSandbox(env.SandboxConfig({ models = { env.ModelConfig({ name = MODEL }) }, memory = "1G" }))
    sb:start()
    lib = sb:serve(INTERFACE, { expose_as = "library", name = "model_tools" })
    sb:serve(INTERFACE, { expose_as = "library", name = "private_tools" }) -- not given to the session
    session = execution.create_local_session({ workspace = Workspace({ libraries = { lib } }), name = "attacker" })
  end)

  teardown(function()
    if session then session:close() end
    if sb then sb:terminate() end
    if canary_dir then fs.remove(canary_dir) end
  end)

  it("still reaches the model through the interface it was given", function()
    local out, is_error = run_lua(session, 'local i = require("model_tools").get_model_info() '
      .. 'return i.name .. " " .. i.architecture .. " " .. i.hidden_size')
    assert.is_false(is_error, out)
    assert.are.equal('returned: "seer-test/tiny-llama LlamaForCausalLM 64"', out)
  end)

  it("cannot read the model's weights in the HF cache", function()
    local out, is_error = run_lua(session, ([[
      local fs = require "seer.fs"
      local f = io.open(%s .. "/model.safetensors", "rb")
      local status = os.execute("ls " .. %s .. " >/dev/null 2>&1") -- true (5.4) or 0 (LuaJIT) on success
      return tostring(f) .. " " .. tostring(fs.list(%s)) .. " " .. tostring(os.getenv("HF_HUB_CACHE"))
        .. " " .. tostring(status == true or status == 0)]]):format(q(SNAPSHOT), q(CACHE), q(CACHE)))
    assert.is_false(is_error, out)
    assert.are.equal('returned: "nil nil nil false"', out)
    out, is_error = tool(session, "read_file", { path = path.join(SNAPSHOT, "config.json") })
    assert.is_true(is_error)
    assert.matches("outside the workspace", out)
    -- A symlink the agent makes from its workspace to the cache leads nowhere either.
    run_lua(session, ("os.execute('ln -s ' .. %s .. ' cache')"):format(q(SNAPSHOT)))
    out, is_error = tool(session, "read_file", { path = "cache/config.json" })
    assert.is_true(is_error)
    assert.matches("through a symlink", out)
    out = run_lua(session, 'return tostring(io.open("cache/config.json"))')
    assert.are.equal('returned: "nil"', out)
  end)

  it("cannot load the model itself", function()
    local out, is_error = run_lua(session, ("return seer.model.load(%s)"):format(q(SNAPSHOT)))
    assert.is_true(is_error)
    assert.matches("no model directory", out)
    out = run_lua(session, ('return tostring(require("seer.hf_cache").resolve(%s, "main", %s))')
      :format(q(MODEL), q(CACHE)))
    assert.are.equal('returned: "nil"', out)
    -- Nor start a sandbox of its own with the model in it.
    out, is_error = run_lua(session, ([[
      local env = require "seer.environment"
      local s = env.Sandbox(env.SandboxConfig({ models = { env.ModelConfig({ name = %s }) } }))
      s:start()
      return "started"]]):format(q(MODEL)))
    assert.is_true(is_error, out)
  end)

  it("cannot read the host's home", function()
    local out = run_lua(session, ([[return tostring(io.open(%s)) .. " " .. tostring(os.getenv("HOME") == %s)
      .. " " .. tostring(require("seer.fs").list(%s))]]):format(q(canary), q(HOME), q(HOME)))
    assert.are.equal('returned: "nil false nil"', out)
    local is_error
    out, is_error = tool(session, "read_file", { path = canary })
    assert.is_true(is_error)
    assert.matches("outside the workspace", out)
    out, is_error = tool(session, "list_files", { path = "/" })
    assert.is_true(is_error)
    assert.is_nil(out:find("CANARY", 1, true))
  end)

  it("sees none of the host's secrets", function()
    local out = run_lua(session, ([[
      local p = io.popen("cat /proc/[0-9]*/environ 2>/dev/null; env")
      local all = p:read("a") p:close()
      return tostring(os.getenv("SEER_SESSION_SECRET")) .. " " .. tostring(all:find(%s, 1, true))]]):format(q(SECRET)))
    assert.are.equal('returned: "nil nil"', out)
  end)

  it("reaches no socket but its interface's: not the host's loopback, a host unix socket, nor an "
    .. "interface it was not given", function()
    local tcp = rpc.listen("tcp:127.0.0.1:0", function() return "pong" end, { token = "t" })
    local dir = assert(fs.tmpdir("seer-session-host-sock"))
    local unix = rpc.listen("unix:" .. path.join(dir, "host.sock"), function() return "pong" end)
    for _, addr in ipairs({ tcp.address, unix.address, sb.served.private_tools.address }) do
      local out = run_lua(session, ('return (pcall(require("seer.rpc").connect, %s, { timeout = 2 }))'):format(q(addr)))
      assert.are.equal("returned: false", out, addr)
    end
    tcp:close()
    unix:close()
    fs.remove(dir)
  end)

  it("cannot take the host down: os.exit ends only the session's Lua state", function()
    run_lua(session, "kept = 42")
    local out, is_error = run_lua(session, "os.exit(1)")
    assert.is_true(is_error)
    assert.matches("ended", out)
    out = run_lua(session, 'return tostring(kept) .. " " .. require("model_tools").get_model_info().name')
    assert.are.equal('returned: "nil seer-test/tiny-llama"', out)
  end)

  it("with isolation = \"none\" (trusted code, the old behaviour) the same code reads the canary", function()
    local trusted = execution.create_local_session({ isolation = "none" })
    local out = run_lua(trusted, ("local f = io.open(%s) return f:read('a')"):format(q(canary)))
    assert.are.equal('returned: "CANARY-' .. SECRET .. '"', out)
    out = run_lua(trusted, ("return seer.model.load(%s).hidden_size"):format(q(SNAPSHOT)))
    assert.are.equal("returned: 64", out)
    fs.remove(trusted.workspace_dir)
  end)
end)
