-- examples/scoped-sandbox-intro's agent step, against the local Anthropic peer (tests/peers): the
-- agent's run_lua requires the library served from the sandbox and calls the model through it.
local seer = require "seer"
local peer_mod = require "harness_peer"

local src = os.getenv("SEER_SOURCE_DIR") or "."
local bin = os.getenv("SEER_LUA_BIN")

describe("scoped-sandbox-intro with an agent", function()
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

  it("runs the agent step end to end", function()
    local r = seer.process.run({
      cmd = bin, args = { src .. "/examples/scoped-sandbox-intro/main.lua", "seer-demo/tiny-llama" },
      -- The sanitizer settings the suite gives every seer-lua process (tests/CMakeLists.txt) pass through.
      env = { PATH = os.getenv("PATH"), HOME = os.getenv("HOME") or "/tmp", HF_HUB_CACHE = hf,
              ASAN_OPTIONS = os.getenv("ASAN_OPTIONS"), UBSAN_OPTIONS = os.getenv("UBSAN_OPTIONS"),
              ANTHROPIC_API_KEY = "test-key", ANTHROPIC_BASE_URL = peer.url,
              SEER_EXAMPLE_TASK = "Describe the model. scenario:scoped_example" },
      timeout = 120,
    })
    assert.is_true(r.ok, r.stdout .. r.stderr)
    assert.matches("agent calls run_lua", r.stdout)
    assert.matches("seer%-demo/tiny%-llama has 64 dims", r.stdout)
    assert.matches("agent: Findings: ", r.stdout)
    assert.matches("scoped%-sandbox%-intro done", r.stdout)
  end)
end)
