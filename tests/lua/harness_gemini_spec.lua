-- seer.harness, provider gemini, against tests/peers/gemini.js (streamGenerateContent?alt=sse).
local S = require "harness_scenarios"
local harness = require "seer.harness"
local peers = require "harness_peer"

S.suite("gemini", "gemini", { describe = describe, it = it, setup = setup, teardown = teardown, assert = assert })

describe("seer.harness gemini specifics", function()
  local peer
  setup(function() peer = peers.start("gemini") end)
  teardown(function() if peer then peer.stop() end end)

  it("sends systemInstruction, functionDeclarations without unsupported keywords, and thoughts", function()
    local tools = { { name = "strict", description = "no extras",
                      input_schema = { type = "object", properties = { x = { type = "integer" } },
                                       additionalProperties = false }, fn = function() return "ok" end } }
    local msgs = harness.run_agent({ provider = "gemini", base_url = peer.url, api_key = "test-key", prompt = "sys",
                                     user_message = "scenario:thinking", tools = tools, thinking = 1024 }):collect()
    assert.are.equal("The user wants a greeting.", S.by_type(msgs, "thinking")[1].text)
    assert.are.equal("Hi, after thinking.", msgs[#msgs].text)
    local body = peer.stats().last_body
    assert.are.equal("sys", body.systemInstruction.parts[1].text)
    assert.are.equal("strict", body.tools[1].functionDeclarations[1].name)
    assert.are.same({}, peer.stats().invalid)
  end)
end)
