-- Sandboxed sessions (seer.execution.create_local_session, the default isolation): what the
-- agent's code sees is the same Lua state as in-process, across the process boundary. Variables
-- persist; values, output and errors come back; workspace files are installed from inside; the
-- file tools follow symlinks within the workspace; a dead Lua process is replaced; an idle session
-- does not keep a script running. The attacks are in tests/security/session_attacks.lua.
local seer = require "seer"
local execution = require "seer.execution"
local ws = require "seer.workspace"
local fs = require "seer.fs"
local path = require "seer.path"

local bin = os.getenv("SEER_LUA_BIN")

describe("a sandboxed session", function()
  local s, src
  setup(function()
    src = assert(fs.tmpdir("seer-session-src"))
    assert(fs.write(path.join(src, "data.txt"), "DATA"))
    assert(fs.mkdir(path.join(src, "tree", "sub")))
    assert(fs.write(path.join(src, "tree", "sub", "x.lua"), "return 5"))
    s = execution.create_local_session({ name = "spec", workspace = ws.Workspace({
      custom_init_code = "greeting = 'hello'",
      local_files = { { path.join(src, "data.txt"), "in/data.txt" } },
      local_dirs = { { path.join(src, "tree"), "tree" } },
      skills = { ws.Skill({ name = "sk", description = "a skill", content = "body" }) },
      libraries = { ws.Library.new({ name = "mylib", files = { ["mylib.lua"] = "return { v = 7 }" } }) },
    }) })
  end)
  teardown(function()
    s:close()
    fs.remove(s.workspace_dir)
    fs.remove(src)
  end)

  it("is sandboxed by default and installs the workspace from inside", function()
    assert.are.equal("sandbox", s.isolation)
    assert.are.same({ "hello", 7, "DATA", 5 }, { s:exec(
      "return greeting, require('mylib').v, io.open('in/data.txt'):read('a'), dofile('tree/sub/x.lua')") })
    assert.matches("^%-%-%-\nname: sk\n", s:read_file(".claude/skills/sk/SKILL.md"))
    assert.are.equal("DATA", fs.read(path.join(s.workspace_dir, "in", "data.txt"))) -- the same directory
  end)

  it("keeps variables, and returns values, output and errors as in-process", function()
    s:exec("counter = (counter or 0) + 1")
    assert.are.equal(2, s:exec("counter = counter + 1 return counter"))
    local r = s:run_lua('print("a", 1) io.write("b") return 1, nil, print, { x = { 2 } }')
    assert.are.equal("a\t1\nb", r.output)
    assert.are.equal(4, r.values.n)
    assert.are.equal(1, r.values[1])
    assert.is_nil(r.values[2])
    assert.matches("^function", r.values[3]) -- what msgpack cannot carry comes back printed
    assert.are.same({ x = { 2 } }, r.values[4])
    r = s:run_lua("error('kaput')")
    assert.matches("kaput", r.error)
    assert.matches("stack traceback", r.error)
    assert.matches("expected", s:run_lua("return +").error)
    assert.matches("must be a string", s:run_lua(42).error)
    assert.are.equal(s.workspace_dir, s:exec("return os.getenv('HOME')"))
  end)

  it("runs one call at a time, even when calls overlap", function()
    local results = seer.gather(
      function() return s:run_lua("shared = 1 seer.sleep(0.2) print(shared) return shared").output end,
      function() seer.sleep(0.05) return s:run_lua("shared = 2 print(shared) return shared").output end)
    assert.are.same({ "1\n", "2\n" }, results)
  end)

  it("follows symlinks inside the workspace and refuses those that leave it", function()
    s:write_file("real/f.txt", "F")
    s:exec("os.execute('ln -s real inner && ln -s /etc outer')")
    assert.are.equal("F", s:read_file("inner/f.txt"))
    assert.are.same({ "f.txt" }, s:list_files("inner"))
    local ok, err = pcall(s.read_file, s, "outer/hostname")
    assert.is_false(ok)
    assert.matches("through a symlink", err)
    ok, err = pcall(s.write_file, s, "../escape.txt", "x")
    assert.is_false(ok)
    assert.matches("outside the workspace", err)
  end)

  it("replaces a dead Lua process with a fresh one, custom_init_code included", function()
    s:exec("kept = true")
    local r = s:run_lua("os.exit(3)")
    assert.matches("ended %(exit status 3%)", r.error)
    assert.matches("variables are lost", r.error)
    assert.are.same({ "hello" }, { s:exec("return greeting, kept") })
  end)

  it("stops code that runs past run_timeout, and one over its memory limit, then starts afresh", function()
    local t = execution.create_local_session({ run_timeout = 1 })
    t:exec("kept = true")
    local r = t:run_lua("while true do end")
    assert.matches("no answer within run_timeout = 1 s", r.error)
    assert.is_nil(t:exec("return kept"))
    t:close()
    fs.remove(t.workspace_dir)
    t = execution.create_local_session({ sandbox = { memory = "96M" } })
    r = t:run_lua("local s, t = ('x'):rep(2 ^ 20), {} for i = 1, 1e4 do t[i] = s .. i end") -- 1 MiB a step
    assert.matches("out of memory", r.error)
    assert.matches("next call starts a fresh Lua state", r.error)
    assert.are.equal(2, t:exec("return 1 + 1"))
    t:close()
    fs.remove(t.workspace_dir)
  end)

  it("refuses calls once closed", function()
    local t = execution.create_local_session({})
    t:close()
    assert.matches("closed", t:run_lua("return 1").error)
    fs.remove(t.workspace_dir)
  end)
end)

describe("create_local_session", function()
  it("checks its options", function()
    local ok, err = pcall(execution.create_local_session, { isolation = "docker" })
    assert.is_false(ok)
    assert.matches('isolation must be "sandbox"', err)
    ok, err = pcall(execution.create_local_session, { isolation = "sandbox", wrkspace = {} })
    assert.is_false(ok)
    assert.matches("unknown option 'wrkspace'", err)
    ok, err = pcall(execution.create_local_session, { sandbox = { models = {} } })
    assert.is_false(ok)
    assert.matches("sandbox: unknown field 'models'", err)
    ok, err = pcall(execution.create_local_session, { isolation = "none", run_timeout = 5 })
    assert.is_false(ok)
    assert.matches("need isolation = \"sandbox\"", err)
    local lib = ws.Library.new({ name = "remote", files = { ["remote.lua"] = "return {}" },
                                 address = "tcp:10.0.0.1:9" })
    ok, err = pcall(execution.create_local_session, { workspace = ws.Workspace({ libraries = { lib } }) })
    assert.is_false(ok)
    assert.matches("not a unix: address", err)
  end)

  it("lets a script end without session:close()", function()
    local r = seer.process.run({ cmd = bin, timeout = 30, args = { "-e",
      'local s = require("seer.execution").create_local_session({}) print(s:exec("return 6 * 7"))' } })
    assert.is_false(r.timed_out)
    assert.are.equal("42\n", r.stdout)
  end)

  it("runs trusted code in this process with isolation = \"none\"", function()
    local t = execution.create_local_session({ isolation = "none" })
    assert.are.equal("none", t.isolation)
    _G.seer_session_spec_marker = "host"
    assert.is_nil(t:exec("return seer_session_spec_marker")) -- its own globals, but this process
    assert.are.equal(require("seer.core").exe_path(), t:exec("return require('seer.core').exe_path()"))
    _G.seer_session_spec_marker = nil
    fs.remove(t.workspace_dir)
  end)
end)

describe("a sandboxed session's relays", function()
  it("keep at most MAX_CONNECTIONS of the session's connections open on the host", function()
    local env = require "seer.environment"
    local fixtures = (os.getenv("SEER_SOURCE_DIR") or ".") .. "/tests/lua/fixtures/scoped"
    local sb = env.ScopedSandbox(env.SandboxConfig({ memory = "256M" }))
    sb:start()
    local lib = sb:serve(fixtures .. "/probe.lua", { name = "probe" })
    local s = execution.create_local_session({ workspace = ws.Workspace({ libraries = { lib } }) })
    assert.are.equal(5, s:exec('return require("probe").add(2, 3)'))
    local before = #assert(fs.list("/proc/self/fd"))
    -- Connecting succeeds (the kernel queues it); past the cap the host closes it at once.
    local answered = s:exec(([[
      local rpc, answered = require "seer.rpc", 0
      conns = {}
      for i = 1, 200 do
        local ok, c = pcall(rpc.connect, %q, { timeout = 2, call_timeout = 2 })
        if ok then conns[#conns + 1] = c end
      end
      for _, c in ipairs(conns) do if pcall(c.call, c, "add", 1, 1) then answered = answered + 1 end end
      return answered]]):format(lib.address))
    local after = #assert(fs.list("/proc/self/fd"))
    local cap = require("seer.session.proxy").MAX_CONNECTIONS
    assert.is_true(answered <= cap, answered)
    assert.is_true(after - before <= cap + 2, ("%d -> %d"):format(before, after))
    assert.are.equal(7, s:exec('return require("probe").add(3, 4)')) -- its own connection is kept
    s:close()
    fs.remove(s.workspace_dir)
    sb:terminate()
  end)
end)
