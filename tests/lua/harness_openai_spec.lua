-- seer.harness, provider openai, against tests/peers/openai.js (Chat Completions over SSE). The
-- same peer stands in for compatible servers reached through base_url.
local S = require "harness_scenarios"
local harness = require "seer.harness"
local peers = require "harness_peer"

S.suite("openai", "openai", { describe = describe, it = it, setup = setup, teardown = teardown, assert = assert })

describe("seer.harness openai specifics", function()
  local peer
  setup(function() peer = peers.start("openai") end)
  teardown(function() if peer then peer.stop() end end)

  it("sends the system prompt, function tools and max_tokens to a compatible server", function()
    local result = harness.run_agent({ provider = "openai", base_url = peer.url .. "/v1", api_key = "test-key",
                                       prompt = "sys", user_message = "scenario:thinking", tools = S.tools,
                                       temperature = 0.5 }):wait()
    assert.are.equal("Hi, after thinking.", result.text)
    local body = peer.stats().last_body
    assert.are.same({ role = "system", content = "sys" }, body.messages[1])
    assert.are.equal(4096 * 2, body.max_tokens)
    assert.are.equal(0.5, body.temperature)
    assert.are.equal("add", body.tools[1]["function"].name)
    assert.are.same({}, peer.stats().invalid)
  end)
end)
