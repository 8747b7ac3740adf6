-- What the example specs share (scoped_example, scoped_mcp_example, sae_example): the tutorial's
-- random-weight model written into a scratch HF cache, the local Anthropic peer (tests/peers)
-- playing the agent, and a run of an example's main.lua in the environment the suite gives every
-- seer-lua process. `require "example_helpers"` (run_busted puts tests/lua on the path).
local seer = require "seer"
local fs = require "seer.fs"
local peers = require "harness_peer"

local M = {}

local SRC = os.getenv("SEER_SOURCE_DIR") or "."
local BIN = os.getenv("SEER_LUA_BIN")

--- Starts the peer and writes the demo model. Returns a context: `hf` (the cache), `peer`,
--- `run(example, env, timeout)` and `stop()`; on a failure nothing is left running.
function M.start()
  local ctx = {}
  function ctx.stop()
    if ctx.peer then ctx.peer.stop() end
    if ctx.hf then fs.remove(ctx.hf) end
    ctx.peer, ctx.hf = nil, nil
  end
  local ok, err = pcall(function()
    ctx.peer = peers.start("anthropic")
    ctx.hf = assert(fs.tmpdir("seer-example-hf"))
    local demo = SRC .. "/examples/scoped-sandbox-intro/"
    local r = seer.process.run({ cmd = BIN, args = { demo .. "demo_model.lua", demo .. "tokenizer", ctx.hf } })
    assert(r.ok, r.stderr)
  end)
  if not ok then
    ctx.stop()
    error(err, 2)
  end

  --- Runs examples/<example>/main.lua on the demo model with the agent at the peer; `env` adds
  --- variables (SEER_EXAMPLE_TASK picks the peer's scenario). Returns seer.process.run's result.
  function ctx.run(example, env, timeout)
    -- The sanitizer settings the suite gives every seer-lua process (tests/CMakeLists.txt) pass through.
    local full = { PATH = os.getenv("PATH"), HOME = os.getenv("HOME") or "/tmp", HF_HUB_CACHE = ctx.hf,
                   ASAN_OPTIONS = os.getenv("ASAN_OPTIONS"), UBSAN_OPTIONS = os.getenv("UBSAN_OPTIONS"),
                   ANTHROPIC_API_KEY = "test-key", ANTHROPIC_BASE_URL = ctx.peer.url }
    for k, v in pairs(env or {}) do full[k] = v end
    local main = SRC .. "/examples/" .. example .. "/main.lua"
    return seer.process.run({ cmd = BIN, args = { main, "seer-demo/tiny-llama" }, env = full,
                              timeout = timeout or 120 })
  end
  return ctx
end

return M
