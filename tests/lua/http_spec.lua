-- seer.http: requests against a local Node server (tests/peers/http_test.js): methods, headers and
-- bodies, statuses, streaming and SSE (split at awkward byte boundaries), gzip, timeouts, refused
-- connections, cut bodies, cancellation, concurrency from tasks, and the standalone SSE parser.
local seer = require "seer"
local http = require "seer.http"
local json = require "seer.json"
local peers = require "harness_peer"

describe("seer.http", function()
  local peer
  setup(function() peer = peers.start("http_test") end)
  teardown(function() if peer then peer.stop() end end)

  it("sends method, headers and body and returns status, headers and body", function()
    local r = assert(http.request({ url = peer.url .. "/echo?x=1", method = "PUT", body = "payload",
                                    headers = { ["X-Test"] = "yes", "X-List: 1" } }))
    assert.are.equal(200, r.status)
    assert.are.equal("application/json", r.headers["content-type"])
    assert.are.equal("req-echo-1", r.headers["x-request-id"])
    assert.are.equal("a=1, b=2", r.headers["set-cookie"])
    local e = json.decode(r.body)
    assert.are.equal("PUT", e.method)
    assert.are.equal("payload", e.body)
    assert.are.equal("yes", e.headers["x-test"])
    assert.are.equal("1", e.headers["x-list"])
    assert.are.equal("?x=1", e.query)
    assert.is_nil(e.headers.expect)
    assert.is_number(r.elapsed)
  end)

  it("defaults to GET, or POST with a body", function()
    assert.are.equal("GET", json.decode(http.get(peer.url .. "/echo").body).method)
    assert.are.equal("POST", json.decode(http.request({ url = peer.url .. "/echo", body = "{}" }).body).method)
    assert.are.equal("POST", json.decode(http.post(peer.url .. "/echo", "x").body).method)
  end)

  it("returns error statuses as responses, with their body", function()
    local r = http.request({ url = peer.url .. "/status/503" })
    assert.are.equal(503, r.status)
    assert.are.equal("status 503", json.decode(r.body).error.message)
  end)

  it("streams body chunks", function()
    local chunks = {}
    local r = http.request({ url = peer.url .. "/chunks", stream = function(c) chunks[#chunks + 1] = c end })
    assert.are.equal(200, r.status)
    assert.are.equal("", r.body)
    assert.are.equal("chunk1;chunk2;chunk3;chunk4;chunk5;", table.concat(chunks))
  end)

  it("parses server-sent events split anywhere", function()
    local events = {}
    local r = http.request({ url = peer.url .. "/sse", sse = function(ev) events[#events + 1] = ev end })
    assert.are.equal(200, r.status)
    assert.are.same({
      { event = "greet", data = "hello", id = "" },
      { event = "message", data = "line1\nline2", id = "7" },
      { event = "message", data = '{"n":3}', id = "7" },
      { event = "message", data = "no-space", id = "7" },
    }, events)
  end)

  it("collects a non-2xx answer to an SSE request as the body", function()
    local called = false
    local r = http.request({ url = peer.url .. "/sse-error", sse = function() called = true end })
    assert.are.equal(429, r.status)
    assert.are.equal("2", r.headers["retry-after"])
    assert.are.equal("slow down", json.decode(r.body).error.message)
    assert.is_false(called)
  end)

  it("decodes gzip when asked", function()
    local r = http.request({ url = peer.url .. "/gzip", gzip = true })
    assert.are.equal(("compressible "):rep(1000), r.body)
  end)

  it("times out: total and idle", function()
    local t0 = seer.task and require("seer.core").now()
    local r, err, kind = http.request({ url = peer.url .. "/slow?ms=3000", timeout = 0.2 })
    assert.is_nil(r)
    assert.are.equal("timeout", kind)
    assert.matches("/slow", err)
    r, err, kind = http.request({ url = peer.url .. "/stall", idle_timeout = 1, stream = function() end })
    assert.is_nil(r)
    assert.are.equal("timeout", kind, err)
    assert.is_true(require("seer.core").now() - t0 < 2.5)
  end)

  it("reports refused connections and cut bodies", function()
    local _, err, kind = http.request({ url = "http://127.0.0.1:1/x", connect_timeout = 2 })
    assert.are.equal("connect", kind, err)
    local r
    r, err, kind = http.request({ url = peer.url .. "/cut" })
    assert.is_nil(r)
    assert.are.equal("network", kind, err)
  end)

  it("refuses bodies and heads too large to buffer, with kind too_large", function()
    local r = assert(http.request({ url = peer.url .. "/big?n=4096", max_body = 4096 }))
    assert.are.equal(4096, #r.body)
    local err, kind
    r, err, kind = http.request({ url = peer.url .. "/big?n=4097", max_body = 4096 })
    assert.is_nil(r)
    assert.are.equal("too_large", kind, err)
    assert.matches("larger than 4096 bytes", err)
    assert.matches("max_body", err)
    -- an error document collected from a streaming request is capped the same way
    r, err, kind = http.request({ url = peer.url .. "/big?status=500&n=200000", max_body = 100000,
                                  stream = function() end })
    assert.is_nil(r)
    assert.are.equal("too_large", kind, err)
    -- the cap counts decoded bytes: a gzip bomb stops at the cap, not at its 16 MiB
    r, err, kind = http.request({ url = peer.url .. "/gzip-bomb", gzip = true, max_body = 1048576 })
    assert.is_nil(r)
    assert.are.equal("too_large", kind, err)
    -- the default cap (64 MiB) lets an ordinary large answer through
    r = assert(http.request({ url = peer.url .. "/big?n=3145728" }))
    assert.are.equal(3145728, #r.body)
    r, err, kind = http.request({ url = peer.url .. "/header-flood" })
    assert.is_nil(r)
    assert.are.equal("too_large", kind, err)
    assert.matches("response headers", err)
    local ok
    ok, err = pcall(http.request, { url = peer.url, max_body = 0 })
    assert.is_false(ok)
    assert.matches("max_body", err)
  end)

  it("turns an error in a stream callback into the request's error", function()
    local r, err, kind = http.request({ url = peer.url .. "/chunks", stream = function() error("bad chunk") end })
    assert.is_nil(r)
    assert.are.equal("aborted", kind)
    assert.matches("bad chunk", err)
  end)

  it("rejects bad options with a clear message", function()
    local ok, err = pcall(http.request, { url = peer.url, bogus = 1 })
    assert.is_false(ok)
    assert.matches("unknown option 'bogus'", err)
    ok, err = pcall(http.request, { url = "ftp://x" })
    assert.is_false(ok)
    assert.matches("http:// or https://", err)
  end)

  it("runs requests concurrently from tasks and cancels with the task", function()
    local t0 = require("seer.core").now()
    local results = seer.gather(
      function() return http.request({ url = peer.url .. "/slow?ms=300" }).status end,
      function() return http.request({ url = peer.url .. "/slow?ms=300" }).status end,
      function() return http.request({ url = peer.url .. "/slow?ms=300" }).status end)
    assert.are.same({ 200, 200, 200 }, results)
    assert.is_true(require("seer.core").now() - t0 < 0.9)
    local t = seer.spawn(function() return http.request({ url = peer.url .. "/slow?ms=5000" }) end)
    seer.sleep(0.05)
    assert.are.equal(1, http.active())
    t:cancel()
    assert.has_error(function() t:wait() end, "cancelled")
    assert.are.equal(0, http.active())
  end)

  it("runs 200 requests at once", function()
    local fns = {}
    for i = 1, 200 do
      fns[i] = function() return json.decode(http.post(peer.url .. "/echo", tostring(i)).body).body end
    end
    local results = seer.gather(fns)
    for i = 1, 200 do assert.are.equal(tostring(i), results[i]) end
  end)

  it("has a standalone SSE parser", function()
    local p = http.sse_parser()
    assert.are.same({}, p:feed("data: a"))
    assert.is_true(p:pending())
    assert.are.same({}, p:feed("b\r"))
    local evs = p:feed("\n\nevent: x\nretry: 10\ndata\n\n")
    assert.are.same({ { event = "message", data = "ab", id = "" }, { event = "x", data = "", id = "",
      retry = 10 } }, evs)
    assert.is_false(p:pending())
  end)

  it("refuses an SSE line or event over 64 MiB instead of buffering it", function()
    local p = http.sse_parser()
    local mib = string.rep("x", 1024 * 1024)
    for _ = 1, 63 do assert.are.same({}, p:feed(mib)) end
    assert.has_error(function() p:feed(mib .. "x") end, "sse parser: a line or event exceeds 64 MiB")
    local q = http.sse_parser()
    for _ = 1, 63 do assert.are.same({}, q:feed("data: " .. mib .. "\n")) end
    assert.has_error(function() q:feed("data: " .. mib .. "\n") end, "sse parser: a line or event exceeds 64 MiB")
  end)
end)
