-- `seer-lua mcp` at the protocol level, as a child process driven line by line: malformed lines,
-- unknown methods, bad params, version negotiation and the stateless revision, requests in flight
-- together, cancellation, an oversized line, and clients that go away (stdin closed, stdout closed).
local seer = require "seer"
local json = require "seer.json"
local core = require "seer.core"

local LUA = os.getenv("SEER_LUA_BIN") or core.exe_path()
local SRC = os.getenv("SEER_SOURCE_DIR") or "."
local TOOLS = SRC .. "/tests/lua/fixtures/mcp/tools.lua"

-- A running server: send(table|string) writes one line; next() returns the next decoded message.
local function start(extra)
  local args = { "mcp", TOOLS }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  local p = seer.process.spawn({ cmd = LUA, args = args, stdin = true, stream = true })
  local lines = p:lines()
  local s = { p = p }
  function s.send(m) p:write((type(m) == "string" and m or json.encode(m)) .. "\n") end
  function s.next() local l = seer.timeout(20, lines) return l and json.decode(l) end
  function s.request(id, method, params)
    s.send({ jsonrpc = "2.0", id = id, method = method, params = params })
    return s.next()
  end
  function s.close()
    p:close_stdin()
    return seer.timeout(20, function() return p:wait() end)
  end
  return s
end

local MODERN = { ["io.modelcontextprotocol/protocolVersion"] = "2026-07-28",
                 ["io.modelcontextprotocol/clientCapabilities"] = json.object({}) }

describe("seer-lua mcp (protocol)", function()
  it("answers malformed input with JSON-RPC errors and keeps running", function()
    local s = start()
    local function expect(line, code, id)
      s.send(line)
      local r = s.next()
      assert.are.equal(code, r.error.code, line)
      assert.are.equal(id == nil and json.null or id, r.id)
      return r
    end
    assert.matches("parse error", expect("this is not json", -32700).error.message)
    expect('{"jsonrpc":"2.0","id":1,"method":"ping"', -32700) -- truncated object
    -- bytes that are not UTF-8 in a broken line: the error quotes them escaped
    local bad = expect('{"\\\221\164\163', -32700).error.message
    assert.is_nil(bad:find("[\128-\255]"), bad)
    expect("[]", -32600)
    expect('[{"jsonrpc":"2.0","id":2,"method":"ping"}]', -32600) -- batches are gone since 2025-06-18
    expect('{"jsonrpc":"1.0","id":3,"method":"ping"}', -32600, 3)
    expect('{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', -32600)
    expect('{"jsonrpc":"2.0","id":4}', -32600, 4)
    assert.matches("nope", expect('{"jsonrpc":"2.0","id":5,"method":"nope"}', -32601, 5).error.message)
    expect('{"jsonrpc":"2.0","id":6,"method":"tools/call","params":[1]}', -32602, 6)
    expect('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}}', -32602, 7)
    local r = expect('{"jsonrpc":"2.0","id":"eight","method":"tools/call","params":{"name":"nosuch"}}', -32602, "eight")
    assert.matches("unknown tool 'nosuch'.*add, greet", r.error.message)
    expect('{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{"cursor":"zz"}}', -32602, 9)
    -- Notifications (and responses) are never answered, known or not.
    s.send('{"jsonrpc":"2.0","method":"notifications/whatever"}')
    s.send('{"jsonrpc":"2.0","id":77,"result":{}}')
    s.send("")
    r = s.request(10, "ping")
    assert.are.equal(10, r.id)
    assert.are.same({}, r.result)
    assert.are.equal(0, s.close().code)
  end)

  it("negotiates the handshake revisions and follows each one's argument errors", function()
    local s = start()
    local r = s.request(1, "initialize", { protocolVersion = "1999-01-01", capabilities = json.object({}),
                                           clientInfo = { name = "spec", version = "1" } })
    assert.are.equal("2025-11-25", r.result.protocolVersion)
    assert.are.equal("tools", r.result.serverInfo.name)
    r = s.request(2, "initialize", { protocolVersion = "2025-06-18", capabilities = json.object({}) })
    assert.are.equal("2025-06-18", r.result.protocolVersion)
    s.send({ jsonrpc = "2.0", method = "notifications/initialized" })
    -- 2025-06-18: invalid arguments are a protocol error...
    r = s.request(3, "tools/call", { name = "add", arguments = { a = 1 } })
    assert.are.equal(-32602, r.error.code)
    assert.matches("missing required property 'b'", r.error.message)
    -- ...while the stateless revision (per-request _meta) reports them as a tool error.
    r = s.request(4, "tools/call", { name = "add", arguments = { a = 1 }, _meta = MODERN })
    assert.is_true(r.result.isError)
    assert.are.equal("complete", r.result.resultType)
    s.close()
  end)

  it("speaks the stateless revision without a handshake", function()
    local s = start()
    local r = s.request(1, "server/discover", { _meta = MODERN })
    assert.are.same({ "2026-07-28", "2025-11-25", "2025-06-18" }, r.result.supportedVersions)
    assert.are.equal("complete", r.result.resultType)
    assert.are.equal("tools", r.result._meta["io.modelcontextprotocol/serverInfo"].name)
    r = s.request(2, "tools/list", { _meta = MODERN })
    assert.are.equal("complete", r.result.resultType)
    assert.are.equal(0, r.result.ttlMs)
    assert.are.equal("add", r.result.tools[1].name)
    r = s.request(3, "tools/call", { name = "add", arguments = { a = 1, b = 2 }, _meta = MODERN })
    assert.are.same({ result = 3 }, r.result.structuredContent)
    r = s.request(4, "tools/list", { _meta = { ["io.modelcontextprotocol/protocolVersion"] = "2031-01-01",
                                               ["io.modelcontextprotocol/clientCapabilities"] = json.object({}) } })
    assert.are.equal(-32022, r.error.code)
    assert.are.equal("2031-01-01", r.error.data.requested)
    assert.are.equal("2026-07-28", r.error.data.supported[1])
    r = s.request(5, "tools/list", { _meta = { ["io.modelcontextprotocol/protocolVersion"] = "2026-07-28" } })
    assert.are.equal(-32602, r.error.code)
    s.close()
  end)

  it("answers other requests while a call runs, and drops a cancelled one", function()
    local s = start()
    s.send({ jsonrpc = "2.0", id = "slow", method = "tools/call", params = { name = "nap", arguments = { s = 0.5 } } })
    s.send({ jsonrpc = "2.0", id = "gone", method = "tools/call", params = { name = "nap", arguments = { s = 30 } } })
    s.send({ jsonrpc = "2.0", id = "p", method = "ping" })
    s.send({ jsonrpc = "2.0", id = "l", method = "tools/list" })
    assert.are.equal("p", s.next().id) -- not stuck behind the calls
    assert.are.equal("l", s.next().id)
    s.send({ jsonrpc = "2.0", method = "notifications/cancelled", params = { requestId = "gone" } })
    local r = s.next()
    assert.are.equal("slow", r.id)
    assert.are.equal("slept 0.5", r.result.content[1].text)
    r = s.request("after", "tools/call", { name = "greet", arguments = { name = "x" } })
    assert.are.equal("after", r.id) -- no answer ever came for "gone"
    local t0 = core.now()
    assert.are.equal(0, s.close().code)
    assert.is_true(core.now() - t0 < 60) -- no hang
  end)

  it("refuses an oversized line and reads on", function()
    local s = start({ "--max-line", "1000" })
    s.send(('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"greet","arguments":{"name":"%s"}}}')
      :format(string.rep("y", 5000)))
    local r = s.next()
    assert.are.equal(-32700, r.error.code)
    assert.matches("longer than 1000 bytes", r.error.message)
    r = s.request(2, "tools/call", { name = "greet", arguments = { name = "z" } })
    assert.are.equal("hello z", r.result.structuredContent.result)
    s.close()
  end)

  it("finishes calls in flight when stdin closes, then exits 0", function()
    local s = start()
    s.send({ jsonrpc = "2.0", id = 1, method = "tools/call", params = { name = "nap", arguments = { s = 0.2 } } })
    s.p:close_stdin()
    local r = s.next()
    assert.are.equal(1, r.id)
    assert.are.equal("slept 0.2", r.result.structuredContent.result)
    assert.is_nil(s.next())
    assert.are.equal(0, s.p:wait().code)
  end)

  it("exits cleanly, not by SIGPIPE, when the client stops reading", function()
    local script = [[
      printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"ping"}' | "$0" mcp "$1" | true
      echo "status=${PIPESTATUS[1]}"
    ]]
    local r = seer.process.run({ cmd = "bash", args = { "-c", script, LUA, TOOLS }, timeout = 30 })
    assert.are.equal("status=0\n", r.stdout)
  end)

  it("fails at start with a clear message for a bad interface or address", function()
    local r = seer.process.run({ cmd = LUA, args = { "mcp", "--connect", "unix:/nonexistent/x.sock" }, timeout = 30 })
    assert.are.equal(1, r.code)
    assert.matches("seer%-lua mcp: .*x%.sock", r.stderr)
    assert.are.equal("", r.stdout)
    local dir = assert(require("seer.fs").tmpdir("mcp-link"))
    assert(seer.process.run({ cmd = "ln", args = { "-s", "/run/some-host.sock", dir .. "/x.sock" } }).ok)
    r = seer.process.run({ cmd = LUA, args = { "mcp", "--connect", "unix:" .. dir .. "/x.sock" }, timeout = 30 })
    assert.are.equal(1, r.code)
    assert.matches("is a symlink; refusing to follow it", r.stderr)
    require("seer.fs").remove(dir)
    r = seer.process.run({ cmd = LUA, args = { "mcp" }, timeout = 30 })
    assert.are.equal(1, r.code)
    assert.matches("either %-%-connect ADDR or an interface file", r.stderr)
  end)
end)
