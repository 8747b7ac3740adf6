-- seer.harness, provider-independent parts: session tools (through a real local session), option
-- checking, the schema validator, 200 concurrent agents, JSONL transcripts (including one whose
-- writer is killed with SIGKILL) and `seer-lua transcript render`.
local seer = require "seer"
local fs = require "seer.fs"
local path = require "seer.path"
local json = require "seer.json"
local harness = require "seer.harness"
local schema = require "seer.harness.schema"
local transcript = require "seer.harness.transcript"
local peers = require "harness_peer"
local S = require "harness_scenarios"

local function collect(opts)
  local msgs = {}
  for m in harness.run_agent(opts) do msgs[#msgs + 1] = m end
  return msgs, msgs[#msgs]
end

describe("seer.harness core", function()
  local peer
  setup(function() peer = peers.start("anthropic") end)
  teardown(function() if peer then peer.stop() end end)

  local function base(extra)
    local o = { provider = "claude", base_url = peer.url, api_key = "test-key", tools = S.tools, max_retries = 1,
                retry_delay = 0.01 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  it("gives a session's tools: run_lua and file access confined to the workspace", function()
    local root = assert(fs.tmpdir("harness-ws"))
    local ws = path.join(root, "ws")
    assert(fs.mkdir(ws))
    assert(fs.write(path.join(root, "outside.txt"), "secret"))
    assert(fs.mkdir(path.join(root, "secret-dir")))
    assert(fs.write(path.join(root, "secret-dir", "secret"), "secret"))
    assert(seer.process.run({ cmd = "ln", args = { "-s", path.join(root, "secret-dir"), path.join(ws, "link") } }).ok)
    local session = require("seer.execution").create_local_session({ workspace_dir = ws, name = "t" })
    local msgs, result = collect(base({ session = session, user_message = "scenario:session", tools = {} }))
    assert.are.same({ "run_lua", "read_file", "write_file", "list_files" }, msgs[1].tools)
    local res = S.by_type(msgs, "tool_result")
    assert.are.equal("wrote 5 bytes to notes/a.txt", res[1].content)
    assert.are.equal("alpha", fs.read(path.join(ws, "notes", "a.txt")))
    assert.are.equal("alpha", res[2].content)
    assert.are.equal("a.txt", res[3].content)
    assert.is_true(res[4].is_error)
    assert.matches("outside the workspace", res[4].content)
    assert.is_true(res[5].is_error)
    assert.matches("through a symlink", res[5].content)
    assert.are.equal("hi from lua\nreturned: 42", res[6].content)
    assert.is_true(res[7].is_error)
    assert.matches("kaput", res[7].content)
    assert.are.equal("end_turn", result.stop_reason)
    fs.remove(root)
  end)

  it("checks options before sending anything", function()
    local cases = {
      { { bogus = 1 }, "unknown option 'bogus'" },
      { { provider = "nope" }, "unknown provider 'nope'" },
      { { mcp_config = { srv = { args = {} } } }, "mcp_config.srv: 'command'" },
      { { tools = { { name = "bad name", fn = print } } }, "tools%[1%]%.name" },
      { { tools = { { name = "t" } } }, "needs fn" },
      { { max_turns = 0 }, "max_turns" },
    }
    local before = peer.stats().requests
    for _, c in ipairs(cases) do
      local ok, err = pcall(harness.run_agent, base(c[1]))
      assert.is_false(ok)
      assert.matches(c[2], err)
    end
    -- The error names the caller's line, not the stdlib's.
    local ok, err = pcall(function() return harness.run_agent(base({ api_key = "" })) end)
    assert.is_false(ok)
    assert.matches("harness_core_spec.lua:%d+: seer.harness.run_agent: no API key for provider 'claude': set "
      .. "ANTHROPIC_API_KEY or pass api_key", err)
    assert.is_true(pcall(harness.run_agent, base({ mcp_config = {}, user_message = "scenario:hello" })))
    seer.sleep(0.2)
    assert.are.equal(before + 1, peer.stats().requests)
  end)

  it("validates tool input against the schema subset", function()
    local s = { type = "object", required = { "n", "items" }, additionalProperties = false,
                properties = { n = { type = "integer", minimum = 1 }, mode = { enum = { "a", "b" } },
                               items = { type = "array", items = { type = "string" } } } }
    assert.is_true(schema.validate(s, { n = 2, items = { "x" }, mode = "a" }))
    local ok, err = schema.validate(s, { n = 1.5, items = { "x", 3 }, mode = "c", extra = true })
    assert.is_false(ok)
    assert.matches("n: expected integer", err)
    assert.matches("items%[2%]: expected string", err)
    assert.matches("mode: must be one of", err)
    assert.matches("unexpected property 'extra'", err)
    assert.matches("missing required", select(2, schema.validate(s, {})))
    assert.are.equal('{"properties":{},"required":[],"type":"object"}',
      json.encode(schema.to_json({ type = "object", properties = {}, required = {} })))
    -- a schema with key order (decoded JSON, or an interface's) keeps it in request bodies
    local ordered = '{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}},'
      .. '"required":["zeta"]}'
    assert.are.equal(ordered, json.encode(schema.to_json(json.decode(ordered))))
  end)

  it("runs 200 agents concurrently with seer.gather", function()
    local fns = {}
    for i = 1, 200 do
      fns[i] = function()
        local _, result = collect(base({ user_message = "scenario:multi_turn #" .. i }))
        return result
      end
    end
    local t0 = require("seer.core").now()
    local results = seer.gather(fns)
    for i = 1, 200 do
      assert.are.equal("The answer is 15.", results[i].text)
      assert.are.equal(3, results[i].turns)
    end
    assert.is_true(require("seer.core").now() - t0 < 60)
    assert.are.same({}, peer.stats().invalid)
  end)

  it("appends every event to a JSONL transcript and renders it", function()
    local dir = assert(fs.tmpdir("harness-tr"))
    local file = path.join(dir, "t.jsonl")
    local msgs = collect(base({ user_message = "scenario:tool_error", transcript = file }))
    local events = transcript.read(file)
    assert.are.equal(#msgs, #events)
    for i, ev in ipairs(events) do assert.are.equal(msgs[i].type, ev.type) end
    local bin = os.getenv("SEER_LUA_BIN")
    local r = seer.process.run({ cmd = bin, args = { "transcript", "render", file, "--format", "md" } })
    assert.is_true(r.ok, r.stderr)
    assert.matches("# Agent transcript", r.stdout)
    assert.matches("### Tool call `fail`", r.stdout)
    r = seer.process.run({ cmd = bin, args = { "transcript", "render", file, "--format", "html" } })
    assert.is_true(r.ok, r.stderr)
    assert.matches("^<!DOCTYPE html>", r.stdout)
    assert.matches("<details class=\"tool failed\"><summary>fail", r.stdout)
    assert.is_nil(r.stdout:find("<script", 1, true))
    fs.remove(dir)
  end)

  it("leaves valid JSONL behind when the writer is killed with SIGKILL", function()
    local dir = assert(fs.tmpdir("harness-kill"))
    local file = path.join(dir, "t.jsonl")
    local script = path.join(dir, "agent.lua")
    assert(fs.write(script, [[
      local url, file = ...
      local harness = require "seer.harness"
      local tool = { name = "add", input_schema = { type = "object" },
                     fn = function() require("seer").sleep(0.005) return "2" end }
      for _ in harness.run_agent({ provider = "claude", base_url = url, api_key = "test-key", max_turns = 100000,
                                   user_message = "scenario:max_turns", tools = { tool }, transcript = file }) do end
    ]]))
    local child = seer.process.spawn({ cmd = os.getenv("SEER_LUA_BIN"), args = { script, peer.url, file } })
    local deadline = require("seer.core").now() + 20
    while (fs.size(file) or 0) < 20000 and require("seer.core").now() < deadline do seer.sleep(0.02) end
    child:kill("KILL")
    local r = child:wait()
    assert.are.equal(9, r.signal)
    local data = fs.read(file)
    assert.is_true(#data >= 20000, "the child wrote a transcript")
    local events = transcript.read(file)
    assert.is_true(#events > 50)
    local complete = 0
    for line in data:gmatch("([^\n]*)\n") do
      assert.is_table(json.decode(line))
      complete = complete + 1
    end
    assert.is_true(#events == complete or #events == complete + 1)
    assert.are.equal("init", events[1].type)
    fs.remove(dir)
  end)
end)

describe("seer.harness interactive", function()
  local peer
  setup(function() peer = peers.start("anthropic") end)
  teardown(function() if peer then peer.stop() end end)

  it("chats over several user messages until exit", function()
    local lines = { "scenario:multi_turn", "", "scenario:hello", "exit" }
    local out = {}
    local result = harness.run_agent_interactive({
      provider = "claude", base_url = peer.url, api_key = "test-key", tools = S.tools,
      input = function() return table.remove(lines, 1) end, output = function(s) out[#out + 1] = s end,
    })
    local text = table.concat(out)
    assert.matches("The answer is 15%.", text)
    assert.matches("%-> add", text)
    -- The peer scripts the whole conversation from its first message: the next exchange is turn 4.
    assert.matches("you> The answer is %.", text)
    assert.are.equal(4, result.turns)
    assert.are.same({}, peer.stats().invalid)
  end)

  it("leaves on end of input, and runs as a CLI with piped stdin", function()
    assert.is_nil(harness.run_agent_interactive({ provider = "claude", base_url = peer.url, api_key = "test-key",
                                                  input = function() return nil end, output = function() end }))
    local code = ("require('seer.harness').run_agent_interactive{provider='claude', base_url=%q, api_key='test-key'}")
      :format(peer.url)
    local r = seer.process.run({ cmd = os.getenv("SEER_LUA_BIN"), args = { "-e", code },
                                 stdin = "scenario:hello\nscenario:thinking\n" })
    assert.is_true(r.ok, r.stderr)
    -- The peer follows the scenario of the conversation's first message.
    assert.matches("Hello from the peer%.\n.*you> Hello from the peer%.", r.stdout)
  end)

  it("interrupts a turn without ending the conversation", function()
    local agent = harness.run_agent({ provider = "claude", base_url = peer.url, api_key = "test-key",
                                      user_message = "scenario:hang", _interactive = true })
    assert.are.equal("init", agent().type)
    seer.sleep(0.1)
    assert.is_true(agent:interrupt())
    assert.are.equal("interrupted", agent().type)
    assert.are.equal("idle", agent().type)
    assert.are.equal(0, seer.http.active())
    agent:send(" then scenario:hello")
    local types = {}
    for m in agent do
      types[#types + 1] = m.type
      if m.type == "idle" then agent:send(nil) end
    end
    assert.are.same({ "user", "text", "usage", "idle", "result" }, types)
    assert.are.equal("Hello from the peer.", agent.result.text)
  end)
end)
