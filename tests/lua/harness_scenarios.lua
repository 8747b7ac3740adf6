-- harness_scenarios.lua: the scenario suite every provider spec runs against its local peer
-- (tests/peers/<peer>.js): multi-turn tool use, parallel calls, tool errors, invalid input,
-- retries (429 with retry-after, 529 and 500 until retries run out), a 400 with an error body, a
-- stream cut mid-event, max_turns and cancellation.
local seer = require "seer"
local harness = require "seer.harness"
local peers = require "harness_peer"

local M = {}

M.tools = {
  { name = "add", description = "Add two numbers",
    input_schema = { type = "object", properties = { a = { type = "number" }, b = { type = "number" } },
                     required = { "a", "b" } },
    fn = function(input) return tostring(math.floor(input.a + input.b)) end },
  { name = "echo", description = "Echo text with tags",
    input_schema = { type = "object", properties = { text = { type = "string" },
                     tags = { type = "array", items = { type = "string" } } }, required = { "text" } },
    fn = function(input) return input.text .. "[" .. table.concat(input.tags or {}, ",") .. "]" end },
  { name = "fail", description = "Always fails",
    input_schema = { type = "object", properties = { why = { type = "string" } } },
    fn = function(input) error("tool failed: " .. input.why, 0) end },
}

function M.by_type(msgs, t)
  local out = {}
  for _, m in ipairs(msgs) do if m.type == t then out[#out + 1] = m end end
  return out
end

--- `b` carries busted's functions (describe, it, setup, teardown, assert), which exist only in the
--- spec file's environment.
function M.suite(provider, peer_name, b)
  local describe, it, setup, teardown, assert = b.describe, b.it, b.setup, b.teardown, b.assert
  describe("seer.harness with provider " .. provider, function()
    local peer
    setup(function() peer = peers.start(peer_name) end)
    teardown(function() if peer then peer.stop() end end)

    local function run(scenario, extra)
      local opts = { provider = provider, base_url = peer.url .. (provider == "openai" and "/v1" or ""),
        api_key = "test-key", model = "test-model",
                     prompt = "You are a test agent.", user_message = "scenario:" .. scenario,
                     tools = M.tools, max_retries = 2, retry_delay = 0.01, max_tokens = 4096 }
      for k, v in pairs(extra or {}) do opts[k] = v end
      local msgs = {}
      for m in harness.run_agent(opts) do msgs[#msgs + 1] = m end
      return msgs, msgs[#msgs]
    end

    it("runs a multi-turn tool-use conversation that ends in text", function()
      local msgs, result = run("multi_turn")
      assert.are.equal("init", msgs[1].type)
      assert.are.equal(provider, msgs[1].provider)
      assert.are.same({ "add", "echo", "fail" }, msgs[1].tools)
      assert.are.equal("result", result.type)
      assert.are.equal("end_turn", result.stop_reason)
      assert.are.equal(3, result.turns)
      assert.are.equal("The answer is 15.", result.text)
      local uses = M.by_type(msgs, "tool_use")
      assert.are.equal(2, #uses)
      assert.are.same({ a = 2, b = 3 }, uses[1].input)
      local results = M.by_type(msgs, "tool_result")
      assert.are.equal("5", results[1].content)
      assert.are.equal(uses[1].id, results[1].id)
      assert.is_false(results[1].is_error)
      assert.is_number(results[1].elapsed)
      assert.are.equal(3, #M.by_type(msgs, "usage"))
      assert.is_true(result.usage.input_tokens > 0)
      assert.is_true(result.usage.output_tokens > 0)
    end)

    it("runs parallel tool calls from one turn", function()
      local msgs, result = run("parallel")
      assert.are.equal(3, #M.by_type(msgs, "tool_use"))
      assert.are.equal("Results: 3 | 7 | hi[x,y]", result.text)
    end)

    it("returns a tool's error to the model as an error result", function()
      local msgs, result = run("tool_error")
      local r = M.by_type(msgs, "tool_result")[1]
      assert.is_true(r.is_error)
      assert.matches("tool failed: boom", r.content)
      assert.are.equal("end_turn", result.stop_reason)
      assert.matches("ERROR%(.*tool failed: boom", result.text)
    end)

    it("rejects input that does not match the schema, and unknown tools", function()
      local msgs, result = run("invalid_input")
      local r = M.by_type(msgs, "tool_result")[1]
      assert.is_true(r.is_error)
      assert.matches("invalid input for tool 'add'", r.content)
      assert.matches("a: expected number", r.content)
      assert.matches("missing required property 'b'", r.content)
      assert.are.equal("end_turn", result.stop_reason)
      msgs = run("unknown_tool")
      r = M.by_type(msgs, "tool_result")[1]
      assert.is_true(r.is_error)
      assert.matches("unknown tool 'nope'", r.content)
    end)

    it("retries a 429, honouring retry-after, then succeeds", function()
      local t0 = require("seer.core").now()
      local msgs, result = run("rate_limited")
      assert.are.equal("end_turn", result.stop_reason, seer.json.encode(msgs))
      assert.are.equal("OK after retry.", result.text)
      assert.is_true(require("seer.core").now() - t0 >= 0.9, "waited for retry-after")
      assert.are.equal(0, #M.by_type(msgs, "error"))
    end)

    it("gives up on 529 and 500 after the configured retries, with a clear error", function()
      for _, sc in ipairs({ "overloaded", "server_error" }) do
        local before = peer.stats().requests
        local msgs, result = run(sc, { max_retries = 3 })
        assert.are.equal("error", result.stop_reason)
        local e = M.by_type(msgs, "error")[1]
        assert.are.equal(sc == "overloaded" and 529 or 500, e.status)
        assert.are.equal(4, e.attempts)
        assert.matches(sc == "overloaded" and "Overloaded" or "Internal server error", e.message)
        assert.are.equal(4, peer.stats().requests - before)
      end
    end)

    it("ends with an error quoting the body of a 400", function()
      local msgs, result = run("bad_request")
      assert.are.equal("error", result.stop_reason)
      local e = M.by_type(msgs, "error")[1]
      assert.are.equal(400, e.status)
      assert.are.equal(1, e.attempts)
      assert.matches("max_tokens: must be at most 8192", e.message)
      assert.matches("max_tokens: must be at most 8192", e.body)
    end)

    it("retries a stream cut mid-event", function()
      local msgs, result = run("cut")
      assert.are.equal("end_turn", result.stop_reason, seer.json.encode(msgs))
      assert.are.equal("Recovered after the cut.", result.text)
      assert.are.equal(1, #M.by_type(msgs, "text"))
    end)

    it("stops at max_turns", function()
      local msgs, result = run("max_turns", { max_turns = 3 })
      assert.are.equal("max_turns", result.stop_reason)
      assert.are.equal(3, result.turns)
      assert.are.equal(3, #M.by_type(msgs, "tool_result"))
    end)

    it("cancels a running agent cleanly", function()
      local agent = harness.run_agent({ provider = provider,
        base_url = peer.url .. (provider == "openai" and "/v1" or ""), api_key = "test-key",
                                        user_message = "scenario:hang", tools = M.tools })
      assert.are.equal("init", agent().type)
      seer.sleep(0.1)
      assert.are.equal(1, seer.http.active())
      assert.is_true(agent:cancel())
      local result = agent:wait()
      assert.are.equal("cancelled", result.stop_reason)
      assert.is_true(result.cancelled)
      assert.are.equal(0, seer.http.active())
      assert.is_false(agent:cancel())
    end)

    it("refuses a missing API key before sending anything", function()
      local var = ({ claude = "ANTHROPIC_API_KEY", openai = "OPENAI_API_KEY", gemini = "GEMINI_API_KEY" })[provider]
      if os.getenv(var) then return end -- the environment provides one
      local before = peer.stats().requests
      local ok, err = pcall(harness.run_agent, { provider = provider, base_url = peer.url, user_message = "x" })
      assert.is_false(ok)
      assert.matches(var, err)
      assert.are.equal(before, peer.stats().requests)
    end)
  end)
end

return M
