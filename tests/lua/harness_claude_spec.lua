-- seer.harness, provider claude, against tests/peers/anthropic.js (the Messages API over SSE).
local S = require "harness_scenarios"
local harness = require "seer.harness"
local peers = require "harness_peer"

S.suite("claude", "anthropic", { describe = describe, it = it, setup = setup, teardown = teardown, assert = assert })

describe("seer.harness claude specifics", function()
  local peer
  setup(function() peer = peers.start("anthropic") end)
  teardown(function() if peer then peer.stop() end end)

  it("marks the system prompt and the tools for prompt caching and passes thinking back", function()
    local msgs = {}
    for m in harness.run_agent({ provider = "claude", base_url = peer.url, api_key = "test-key", prompt = "sys",
                                 user_message = "scenario:thinking", tools = S.tools, thinking = 2048 }) do
      msgs[#msgs + 1] = m
    end
    local th = S.by_type(msgs, "thinking")[1]
    assert.are.equal("The user wants a greeting.", th.text)
    assert.are.equal("Hi, after thinking.", msgs[#msgs].text)
    local stats = peer.stats()
    assert.are.same({ system = true, tools = true }, stats.cache_control.thinking)
    assert.are.same({ type = "enabled", budget_tokens = 2048 }, stats.last_body.thinking)
    assert.are.same({}, stats.invalid)
  end)
end)
