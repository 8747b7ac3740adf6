-- examples/sae-features end to end against the local Anthropic peer (tests/peers): the agent's
-- run_lua requires the SAE library served from the sandbox, finds the feature that separates two
-- sets of texts, and steers and clamps generation with it.
local examples = require "example_helpers"

describe("sae-features with an agent", function()
  local ex
  setup(function() ex = examples.start() end)
  teardown(function() if ex then ex.stop() end end)

  it("finds a feature and steers with it", function()
    local r = ex.run("sae-features", { SEER_EXAMPLE_TASK = "Find and steer a feature. scenario:sae_features" }, 180)
    assert.is_true(r.ok, r.stdout .. r.stderr)
    assert.matches('"hook_point":"layers.0"', r.stdout, 1, true)
    assert.matches("agent calls run_lua", r.stdout)
    assert.matches("agent: Findings: returned: \"feature %d+ %(difference %-?%d", r.stdout)
    assert.matches("changed=true", r.stdout, 1, true)
    assert.matches("sae%-features done", r.stdout)
  end)
end)
