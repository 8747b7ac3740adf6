-- Serving interface files from sandboxes: library/prompt/skill outputs, sessions that require the
-- library, bad interfaces and calls, crashes mid-call, and the isolation checks again, this time
-- from inside an interface function.
local env = require "seer.environment"
local execution = require "seer.execution"
local workspace = require "seer.workspace"
local fs = require "seer.fs"
local seer = require "seer"
local now = require("seer.core").now

local fixtures = (os.getenv("SEER_SOURCE_DIR") or ".") .. "/tests/lua/fixtures/scoped"

describe("scoped sandbox serving", function()
  local sb
  setup(function()
    -- Room for several served interfaces even in the ASan build; the out-of-memory cases below
    -- use sandboxes of their own.
    sb = env.ScopedSandbox(env.SandboxConfig({ memory = "512M", pids = 64, secrets = { "SEER_FIXTURES" } }))
    sb:start()
  end)
  teardown(function() sb:terminate() end)

  it("serves a library that a session can require", function()
    local lib = sb:serve(fixtures .. "/probe.lua", { expose_as = "library", name = "probe" })
    assert.are.equal("Library", getmetatable(lib).__name)
    -- The library file is fixed code; the interface's names and docs are data beside it.
    assert.are.equal(require("seer.sandbox.served_library").SOURCE, lib.files["probe.lua"])
    assert.matches("`a` %(integer", lib.docs)
    local session = execution.create_local_session({ workspace = workspace.Workspace({ libraries = { lib } }) })
    assert.are.equal(5, session:exec('return require("probe").add(2, 3)'))
    assert.are.equal(1, session:exec('return require("probe").count()'))
    assert.are.equal(2, session:exec('return require("probe").count()')) -- state persists
    local r = session:run_lua('print("hi") return require("probe").add(1, "x")')
    assert.are.equal("hi\n", r.output)
    assert.matches("add", r.error)
    assert.matches("b", r.error)
  end)

  it("serves markdown for a prompt and a skill", function()
    local md = sb:serve(fixtures .. "/probe.lua", { expose_as = "prompt", name = "probe_doc" })
    assert.matches("## `add%(a, b%)`", md)
    assert.matches("Add two integers", md)
    local skill = sb:serve(fixtures .. "/probe.lua", { expose_as = "skill", name = "probe_skill" })
    local dir = assert(fs.tmpdir("skill"))
    local written = skill:write(dir)
    local text = assert(fs.read(written .. "/SKILL.md"))
    assert.matches("^%-%-%-\nname: probe_skill\n", text)
    fs.remove(dir)
  end)

  it("serves an MCP server entry, and refuses unknown options", function()
    local config = sb:serve(fixtures .. "/probe.lua", { expose_as = "mcp", name = "probe_mcp" })
    local entry = config.probe_mcp
    assert.are.equal("stdio", entry.type)
    assert.are.equal(require("seer.core").exe_path(), entry.command)
    -- The entry runs as it is: one request through seer-lua mcp into the sandbox.
    local json = require "seer.json"
    local r = seer.process.run({ cmd = entry.command, args = entry.args, env = entry.env, timeout = 30,
      stdin = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"count","arguments":{}}}\n' })
    local reply = json.decode(r.stdout)
    assert.are.equal(1, reply.id)
    assert.is_number(reply.result.structuredContent.result)
    local ok, err = pcall(sb.serve, sb, fixtures .. "/probe.lua", { exposeas = "library" })
    assert.is_false(ok)
    assert.matches("unknown option 'exposeas'", err)
  end)

  it("fails fast with file:line on a syntax error", function()
    local t0 = now()
    local ok, err = pcall(sb.serve, sb, fixtures .. "/syntax_error.lua", { name = "broken" })
    assert.is_false(ok)
    assert.is_true(now() - t0 < 5, "took " .. (now() - t0))
    assert.matches("syntax_error.lua:1:", err)
  end)

  it("names the user's file, not the sandbox's copy, in a runtime error", function()
    sb:serve(fixtures .. "/runtime_error.lua", { name = "raiser" })
    local ok, err = pcall(sb.served.raiser.client.call, sb.served.raiser.client, "boom")
    assert.is_false(ok)
    err = tostring(err)
    assert.matches("runtime_error.lua:3: boom", err)
    assert.is_nil(err:find("/run/seer/iface", 1, true), err)
  end)

  it("says when an interface exposes nothing", function()
    local ok, err = pcall(sb.serve, sb, fixtures .. "/nothing_exposed.lua", { name = "empty" })
    assert.is_false(ok)
    assert.matches("expose", err)
  end)

  it("reports bad calls and unserializable results, and stays up", function()
    local lib = sb:serve(fixtures .. "/probe.lua", { name = "probe_calls" })
    local session = execution.create_local_session({ workspace = workspace.Workspace({ libraries = { lib } }) })
    local r = session:run_lua('return require("probe_calls").add(1)')
    assert.is_not_nil(r.error)
    r = session:run_lua('return require("probe_calls").bad_result()')
    assert.is_not_nil(r.error)
    r = session:run_lua([[return require("seer.rpc").connect(require("probe_calls") and
      "unix:" .. "]] .. sb.served.probe_calls.socket .. [["):call("no_such_function")]])
    assert.matches("no_such_function", r.error)
    assert.are.equal(7, session:exec('return require("probe_calls").add(3, 4)'))
  end)

  describe("isolation, from inside an interface function", function()
    local probe, canary
    setup(function()
      canary = assert(fs.tmpdir("seer-canary")) .. "/canary.txt"
      fs.write(canary, "SECRET-CANARY")
      sb:serve(fixtures .. "/probe.lua", { name = "iso" })
      probe = sb.served.iso.client
    end)
    teardown(function() fs.remove((canary:gsub("/canary.txt$", ""))) end)

    it("cannot read host files", function()
      for _, p in ipairs({ canary, (os.getenv("HOME") or "/root") .. "/.bashrc", fs.cwd() .. "/README.md" }) do
        local r = probe:call("read", p)
        assert.is_false(r.ok, p)
      end
    end)

    it("cannot see host processes, ptrace, mount or write models", function()
      -- pid 1, the served interfaces and this shell: nothing of the host's.
      local n = probe:call("sh", "ls /proc | grep -c '^[0-9]'").out
      assert.is_true(tonumber(n:match("^(%d+)")) < 20, n)
      assert.is_nil(probe:call("sh", "cat /proc/*/cmdline | tr '\\0' ' '").out:find("run_busted", 1, true))
      assert.matches("^1\n", probe:call("sh", "perl -e 'syscall(101, 16, 1, 0, 0); print $!+0, \"\\n\"'").out)
      assert.matches("exit=[1-9]", probe:call("sh", "mount -t tmpfs none /tmp").out)
      assert.matches("exit=[1-9]", probe:call("sh", "touch /usr/x").out)
    end)

    it("cannot reach a listener on the host's loopback", function()
      local srv = seer.rpc.listen("tcp:127.0.0.1:0", function() return "pong" end, { token = "t" })
      local r = probe:call("connect", srv.address)
      assert.is_false(r.ok)
      srv:close()
    end)

    it("sees declared secrets only", function()
      assert.is_string(probe:call("getenv", "SEER_FIXTURES"))
      assert.is_nil(probe:call("getenv", "SEER_LUA_BIN"))
    end)

    it("contains a fork bomb", function()
      local out = probe:call("sh", "i=0; while [ $i -lt 200 ]; do sleep 2 & i=$((i+1)); done; wait").out
      assert.matches("[Cc]annot fork", out)
    end)
  end)
end)

-- Ends a sandbox from outside, as a crash would: its supervisor killed, or (backend "slurm", where
-- this spec also runs) its job cancelled by someone else.
local function kill_sandbox(sb)
  if sb.config.backend == "slurm" then
    assert(seer.process.run({ cmd = "scancel", args = { sb.backend.job_id } }).ok)
  else
    sb.backend.init:kill(9)
  end
end

describe("a sandbox that dies mid-call", function()
  it("fails the pending call within a second, saying why (out of memory)", function()
    local sb = env.ScopedSandbox(env.SandboxConfig({ memory = "96M" }))
    sb:start()
    sb:serve(fixtures .. "/probe.lua", { name = "bomb" })
    local t0 = now()
    local ok, err = pcall(sb.served.bomb.client.call, sb.served.bomb.client, "memory_bomb")
    assert.is_false(ok)
    assert.matches("out of memory", tostring(err))
    assert.is_true(now() - t0 < 5)
    sb:terminate()
  end)

  it("fails a pending call when the sandbox is terminated", function()
    local sb = env.ScopedSandbox(env.SandboxConfig({}))
    sb:start()
    sb:serve(fixtures .. "/probe.lua", { name = "napper" })
    local client = sb.served.napper.client
    local caller = seer.spawn(function() return client:call("nap", 30) end)
    seer.sleep(0.2)
    local t0 = now()
    kill_sandbox(sb) -- the whole tree goes
    local ok, err = pcall(caller.wait, caller)
    assert.is_false(ok)
    -- Slurm takes a few seconds to say how a job it killed ended (COMPLETING, then CANCELLED); the
    -- slurm backend waits for that word, within the 5 s its issue allows.
    local bound = sb.config.backend == "slurm" and 5 or 1.5
    assert.is_true(now() - t0 < bound, "took " .. (now() - t0))
    assert.matches("sandbox exited", tostring(err))
    sb:terminate()
  end)
end)
