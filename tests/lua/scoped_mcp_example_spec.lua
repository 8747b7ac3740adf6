-- examples/scoped-sandbox-mcp end to end: a sandbox with the demo model serves the interface with
-- expose_as = "mcp"; the example calls the tools through seer.mcp.client, writes the .mcp.json, and
-- runs the agent (against the local Anthropic peer) with that config as its mcp_config.
local seer = require "seer"
local json = require "seer.json"
local peer_mod = require "harness_peer"

local src = os.getenv("SEER_SOURCE_DIR") or "."
local bin = os.getenv("SEER_LUA_BIN")

describe("scoped-sandbox-mcp", function()
  local peer, hf
  setup(function()
    peer = peer_mod.start("anthropic")
    local tok_dir = src .. "/examples/scoped-sandbox-intro/tokenizer"
    hf = assert(require("seer.fs").tmpdir("seer-example-hf"))
    local demo = src .. "/examples/scoped-sandbox-intro/demo_model.lua"
    local r = seer.process.run({ cmd = bin, args = { demo, tok_dir, hf } })
    assert(r.ok, r.stderr)
  end)
  teardown(function()
    if peer then peer.stop() end
    if hf then require("seer.fs").remove(hf) end
  end)

  it("serves the interface over MCP and runs the agent with it", function()
    local mcp_json = hf .. "/mcp.json"
    local r = seer.process.run({
      cmd = bin, args = { src .. "/examples/scoped-sandbox-mcp/main.lua", "seer-demo/tiny-llama" },
      -- The sanitizer settings the suite gives every seer-lua process (tests/CMakeLists.txt) pass through.
      env = { PATH = os.getenv("PATH"), HOME = os.getenv("HOME") or "/tmp", HF_HUB_CACHE = hf,
              ASAN_OPTIONS = os.getenv("ASAN_OPTIONS"), UBSAN_OPTIONS = os.getenv("UBSAN_OPTIONS"),
              ANTHROPIC_API_KEY = "test-key", ANTHROPIC_BASE_URL = peer.url, SEER_EXAMPLE_MCP_JSON = mcp_json,
              SEER_EXAMPLE_TASK = "Describe the model. scenario:scoped_mcp" },
      timeout = 120,
    })
    assert.is_true(r.ok, r.stdout .. r.stderr)
    assert.matches("tool get_model_info: ", r.stdout)
    assert.matches("embedding: 64 dims", r.stdout)
    assert.matches("agent calls mcp__model_tools__get_model_info", r.stdout)
    assert.matches("agent calls mcp__model_tools__get_embedding", r.stdout)
    assert.matches("agent: Findings: .*seer%-demo/tiny%-llama", r.stdout)
    assert.matches("scoped%-sandbox%-mcp done", r.stdout)
    local config = json.decode(assert(require("seer.fs").read(mcp_json)))
    local entry = config.mcpServers.model_tools
    assert.are.equal("stdio", entry.type)
    assert.are.same({ "mcp", "--connect" }, { entry.args[1], entry.args[2] })
  end)
end)
