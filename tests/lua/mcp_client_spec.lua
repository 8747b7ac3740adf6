-- run_agent's mcp_config through seer.mcp.client, against real servers: one written with the
-- official Python SDK (tests/lua/fixtures/mcp/sdk_server.py) and our own `seer-lua mcp`, with the
-- local Anthropic peer as the model. Tool calls are routed as mcp__<server>__<tool>, isError stays
-- an error, and servers that fail to start, crash or stop answering give clear errors, not hangs.
local seer = require "seer"
local core = require "seer.core"
local harness = require "seer.harness"
local client = require "seer.mcp.client"
local peers = require "harness_peer"
local S = require "harness_scenarios"

local SRC = os.getenv("SEER_SOURCE_DIR") or "."
local FIX = SRC .. "/tests/lua/fixtures/mcp"
local PY = (os.getenv("SEER_VENV") or (SRC .. "/build/test-cache/venv")) .. "/bin/python"
local LUA = os.getenv("SEER_LUA_BIN") or core.exe_path()

local function calc(extra)
  -- Importing the SDK takes seconds of CPU; a loaded machine must not turn that into a failure.
  local e = { command = PY, args = { FIX .. "/sdk_server.py" }, startup_timeout = 120 }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

describe("seer.mcp.client", function()
  local peer
  setup(function() peer = peers.start("anthropic") end)
  teardown(function() if peer then peer.stop() end end)

  local function run(scenario, mcp_config)
    local msgs = {}
    for m in harness.run_agent({ provider = "claude", base_url = peer.url, api_key = "test-key", max_retries = 0,
                                 user_message = "scenario:" .. scenario, mcp_config = mcp_config }) do
      msgs[#msgs + 1] = m
    end
    return msgs, msgs[#msgs]
  end

  it("lists and calls the tools of a server written with the official SDK, and stops it", function()
    local c = client.start("calc", calc())
    assert.are.equal("calc", c.server_info.name)
    assert.are.equal("2025-11-25", c.protocol_version)
    local names = {}
    for i, t in ipairs(c.tools) do names[i] = t.name end
    assert.are.same({ "add", "fail", "slow", "crash" }, names)
    assert.are.same({ "a", "b" }, c.tools[1].inputSchema.required)
    local r = c:call_tool("add", { a = 20, b = 22 })
    assert.are.equal("42", client.result_text(r))
    assert.is_falsy(r.isError)
    r = c:call_tool("fail", { why = "x" })
    assert.is_true(r.isError)
    assert.matches("calc failed: x", client.result_text(r))
    local pid = c.process.pid
    c:close()
    local t0 = core.now()
    while core.now() - t0 < 15 and seer.process.run({ cmd = "kill", args = { "-0", tostring(pid) } }).ok do
      seer.sleep(0.05)
    end
    assert.is_false(seer.process.run({ cmd = "kill", args = { "-0", tostring(pid) } }).ok)
  end)

  it("gives run_agent the tools as mcp__<server>__<tool>: isError kept, timeouts and a crash as tool errors", function()
    local t0 = core.now()
    local msgs, result = run("mcp_tools", { calc = calc({ timeout = 1 }) })
    assert.are.same({ "mcp__calc__add", "mcp__calc__fail", "mcp__calc__slow", "mcp__calc__crash" }, msgs[1].tools)
    local res = S.by_type(msgs, "tool_result")
    assert.are.equal("42", res[1].content)
    assert.is_false(res[1].is_error)
    assert.is_true(res[2].is_error)
    assert.matches("calc failed: no", res[2].content)
    assert.is_true(res[3].is_error) -- checked against the server's schema before it is sent
    assert.is_true(res[4].is_error)
    assert.matches("did not answer tools/call within 1 s", res[4].content)
    -- The server crashes: that call and the next are tool errors naming it, and the run goes on.
    assert.is_true(res[5].is_error)
    assert.matches("MCP server 'calc' exited with status 3", res[5].content)
    assert.matches("crashing on purpose", res[5].content)
    assert.is_true(res[6].is_error)
    assert.matches("MCP server 'calc'", res[6].content)
    assert.are.equal("end_turn", result.stop_reason)
    assert.matches("^After the crash: ERROR%(MCP server 'calc'", result.text)
    assert.is_true(core.now() - t0 < 60) -- no hang (the call timeout is 1 s)
  end)

  it("serves seer-lua mcp to an agent the same way", function()
    local msgs = run("hello", { probe = { command = LUA, args = { "mcp", FIX .. "/tools.lua" } } })
    assert.are.equal("mcp__probe__add", msgs[1].tools[1])
    local c = client.start("probe", { command = LUA, args = { "mcp", FIX .. "/tools.lua" } })
    assert.are.equal(5, c:call_tool("add", { a = 2, b = 3 }).structuredContent.result)
    local r = c:call_tool("fail", { why = "w" })
    assert.is_true(r.isError)
    assert.matches("failed on purpose: w", client.result_text(r))
    c:close()
  end)

  it("reports a server that cannot start or does not speak MCP", function()
    local cases = {
      { { command = "/nonexistent/server" }, "MCP server 'bad': cannot start '/nonexistent/server'" },
      { { command = "sh", args = { "-c", "echo oops >&2; exit 7" } }, "exited with status 7.*oops" },
      { { command = "sh", args = { "-c", "sleep 30" }, startup_timeout = 0.5 }, "did not answer initialize" },
      { { command = "sh", args = { "-c", "echo not-json; sleep 30" }, startup_timeout = 0.5 }, "did not answer" },
    }
    for _, c in ipairs(cases) do
      local t0 = core.now()
      local msgs, result = run("hello", { bad = c[1] })
      local errs = S.by_type(msgs, "error")
      assert.are.equal(1, #errs)
      assert.matches(c[2], errs[1].message)
      assert.are.equal("error", result.stop_reason)
      assert.is_true(core.now() - t0 < 60) -- no hang
    end
    local ok, err = pcall(harness.run_agent, { provider = "claude", base_url = peer.url, api_key = "k",
      mcp_config = { x = { args = {} } } })
    assert.is_false(ok)
    assert.matches("mcp_config.x: 'command'", err)
  end)
end)
