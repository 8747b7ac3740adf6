-- create_cli_session end to end: a sandbox with a fixture model, Lua (seer-lua) and shell commands
-- run in it, a workspace library on package.path, output caps and timeouts, and the agent's tools
-- served over MCP from session.mcp_config (the project's `seer-lua mcp --connect`).
local env = require "seer.environment"
local execution = require "seer.execution"
local fs = require "seer.fs"
local path = require "seer.path"
local json = require "seer.json"

local function make_hf_cache()
  local cache = assert(fs.tmpdir("seer-hf"))
  local snap = path.join(cache, "models--test-org--tiny-llama", "snapshots", "abc123")
  assert(fs.mkdir(snap))
  assert(fs.mkdir(path.join(cache, "models--test-org--tiny-llama", "refs")))
  assert(fs.write(path.join(cache, "models--test-org--tiny-llama", "refs", "main"), "abc123"))
  local src = path.join(os.getenv("SEER_FIXTURES"), "models", "llama")
  for _, f in ipairs({ "config.json", "model.safetensors" }) do
    assert(fs.write(path.join(snap, f), assert(fs.read(path.join(src, f)))))
  end
  return cache
end

describe("cli session", function()
  local sb, session, cache
  setup(function()
    cache = make_hf_cache()
    require("seer.hf_cache").cache_dir = function() return cache end
    -- The sanitizer build's options go along: LeakSanitizer cannot work inside the sandbox.
    sb = env.Sandbox(env.SandboxConfig({ memory = "256M", pids = 64,
      env = { ASAN_OPTIONS = os.getenv("ASAN_OPTIONS"), UBSAN_OPTIONS = os.getenv("UBSAN_OPTIONS") },
      models = { env.ModelConfig({ name = "test-org/tiny-llama" }) } })):start()
    local Library = require("seer.workspace").Library
    session = execution.create_cli_session(sb, {
      libraries = { Library.new({ name = "helpers",
                                  files = { ["helpers.lua"] = "return { twice = function(x) return 2 * x end }" } }) },
      custom_init_code = "require('seer.fs').write('/workspace/init.txt', 'ran')",
    })
  end)
  teardown(function()
    if session then session:close() end
    if sb then sb:terminate() end
    if cache then fs.remove(cache) end
  end)

  it("runs Lua in the sandbox with the model, the workspace's libraries and init code", function()
    assert.matches("test%-org/tiny%-llama", session.model_info_text)
    local mount = session.model_info_text:match('seer%.model%.load%("([^"]+)"%)')
    assert.is_string(mount)
    local cfg = json.decode(assert(fs.read(path.join(os.getenv("SEER_FIXTURES"), "models", "llama", "config.json"))))
    local r = session:exec(("local m = seer.model.load(%q)\nprint(m.num_layers, require('helpers').twice(21))")
      :format(mount))
    assert.equals(0, r.code, r.text)
    assert.equals(("%d\t42\n"):format(cfg.num_hidden_layers), r.stdout)
    r = session:exec_shell("cat init.txt; pwd")
    assert.equals("ran/workspace\n", r.stdout)
  end)

  it("reports errors, exit codes, timeouts and capped output", function()
    local r = session:exec("error('on purpose')")
    assert.is_not.equals(0, r.code)
    assert.matches("on purpose", r.text)
    r = session:exec_shell("exit 3")
    assert.equals(3, r.code)
    assert.matches("%[exit code 3%]", r.text)
    r = session:exec_shell("sleep 30", { timeout = 1 })
    assert.is_true(r.timed_out)
    assert.matches("timed out", r.text)
    r = session:exec_shell("head -c 1000000 /dev/zero | tr '\\0' x")
    assert.equals(require("seer.session.cli").MAX_OUTPUT, #r.stdout)
    assert.matches("max_output", r.text)
  end)

  it("gives the agent exec and exec_shell over MCP", function()
    local c = require("seer.mcp.client").start("cli", session.mcp_config.cli)
    local names = {}
    for _, t in ipairs(c.tools) do names[#names + 1] = t.name end
    table.sort(names)
    assert.same({ "exec", "exec_shell" }, names)
    local r = c:call_tool("exec_shell", { command = "echo from-agent > agent.txt; cat agent.txt" })
    assert.is_not_true(r.isError)
    assert.matches("from%-agent\n", r.content[1].text)
    assert.matches("%[exit code 0%]", r.content[1].text)
    r = c:call_tool("exec", { code = "print(require('helpers').twice(5))" })
    assert.matches("^10\n", r.content[1].text)
    assert.equals("from-agent\n", session:exec_shell("cat agent.txt").stdout)
    c:close()
  end)
end)
