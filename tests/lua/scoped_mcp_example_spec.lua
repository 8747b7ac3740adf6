-- examples/scoped-sandbox-mcp end to end: a sandbox with the demo model serves the interface with
-- expose_as = "mcp"; the example calls the tools through seer.mcp.client, writes the .mcp.json, and
-- runs the agent (against the local Anthropic peer) with that config as its mcp_config.
local json = require "seer.json"
local examples = require "example_helpers"

describe("scoped-sandbox-mcp", function()
  local ex
  setup(function() ex = examples.start() end)
  teardown(function() if ex then ex.stop() end end)

  it("serves the interface over MCP and runs the agent with it", function()
    local mcp_json = ex.hf .. "/mcp.json"
    local r = ex.run("scoped-sandbox-mcp", { SEER_EXAMPLE_MCP_JSON = mcp_json,
                                             SEER_EXAMPLE_TASK = "Describe the model. scenario:scoped_mcp" })
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
