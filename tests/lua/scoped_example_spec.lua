-- examples/scoped-sandbox-intro's agent step, against the local Anthropic peer (tests/peers): the
-- agent's run_lua requires the library served from the sandbox and calls the model through it.
local examples = require "example_helpers"

describe("scoped-sandbox-intro with an agent", function()
  local ex
  setup(function() ex = examples.start() end)
  teardown(function() if ex then ex.stop() end end)

  it("runs the agent step end to end", function()
    local r = ex.run("scoped-sandbox-intro", { SEER_EXAMPLE_TASK = "Describe the model. scenario:scoped_example" })
    assert.is_true(r.ok, r.stdout .. r.stderr)
    assert.matches("agent calls run_lua", r.stdout)
    assert.matches("seer%-demo/tiny%-llama has 64 dims", r.stdout)
    assert.matches("agent: Findings: ", r.stdout)
    assert.matches("scoped%-sandbox%-intro done", r.stdout)
  end)
end)
