-- seer.rpc: real sockets on both ends: calls, named args, errors with tracebacks, pipelining,
-- dropped connections, tcp tokens, frame caps, malformed frames and unix socket safety.
local rpc = require "seer.rpc"
local rpc_c = require "seer._rpc"
local msgpack = require "seer.msgpack"
local task = require "seer.task"
local fs = require "seer.fs"

local tmpdir = os.getenv("TMPDIR") or "/tmp"
local counter = 0
local function sock_path()
  counter = counter + 1
  local dir = ("%s/seer-rpc-spec-%d-%d"):format(tmpdir, os.time(), math.random(1, 1e9))
  os.execute("mkdir -m 700 -p " .. dir)
  return dir .. "/s" .. counter .. ".sock", dir
end

local function handler(method, args, kw)
  if method == "add" then return args[1] + args[2] end
  if method == "echo" then return args[1] end
  if method == "args" then return args end
  if method == "kw" then return { args = args, kw = kw } end
  if method == "boom" then error("boom in handler") end
  if method == "sleep" then task.sleep(args[1]) return args[2] end
  if method == "func" then return function() end end
  error({ type = "MethodNotFound", message = "no method '" .. method .. "'" })
end

-- Raw connection: sends bytes as they are and collects what comes back.
local function raw_connect(addr)
  local box = { frames = {}, closed = false }
  local conn = rpc_c.connect(addr, function(ev, v)
    if ev == "message" then box.frames[#box.frames + 1] = v
    elseif ev == "close" then box.closed = true box.reason = v end
  end)
  box.conn = conn
  task.run(function() while not conn:is_open() do task.sleep(0.001) end end)
  return box
end

local function wait_for(cond, what)
  local deadline = require("seer.core").now() + 5
  task.run(function()
    while not cond() do
      if require("seer.core").now() > deadline then error("timed out waiting for " .. what) end
      task.sleep(0.002)
    end
  end)
end

describe("seer.rpc", function()
  local srv, c
  before_each(function()
    srv = rpc.listen("unix:" .. sock_path(), handler)
    c = rpc.connect(srv.address)
  end)
  after_each(function()
    c:close()
    srv:close()
  end)

  it("calls with positional and named arguments, outside any task", function()
    assert.are.equal("pong", c:ping())
    assert.are.equal(5, c:call("add", 2, 3))
    local r = c:call_named("kw", { a = 1, b = "x" })
    assert.are.same({ a = 1, b = "x" }, r.kw)
    r = c:call_named("kw", { z = true }, 7, 8)
    assert.are.same({ 7, 8 }, r.args)
    assert.are.equal(true, r.kw.z)
    assert.is_nil(c:call("echo", nil))
    assert.are.same({ 1, { x = "y" }, "\0\255bin" }, c:call("echo", { 1, { x = "y" }, "\0\255bin" }))
  end)

  it("sends nil arguments in place, any number of them, and refuses one it cannot encode", function()
    local r = c:call("args", 1, nil, 3, nil)
    assert.are.equal(4, #r)
    assert.are.equal(rpc.null, r[2])
    assert.are.equal(rpc.null, r[4])
    local many = {}
    for i = 1, 300 do many[i] = { i } end
    r = c:call("args", (table.unpack or unpack)(many))
    assert.are.equal(300, #r)
    assert.are.same({ 300 }, r[300])
    local ok, e = pcall(c.call, c, "echo", function() end)
    assert.is_false(ok)
    assert.truthy(tostring(e):find("cannot send the value", 1, true), tostring(e))
    assert.are.equal(0, c:pending_count())
    assert.are.equal(5, c:call("add", 2, 3))
  end)

  it("passes ext values (tensors) through", function()
    local payload = msgpack.encode({ "f32", { 2 }, string.rep("\0", 8) })
    local r = c:call("echo", msgpack.ext(1, payload))
    if type(r) == "table" and r.type then
      assert.are.equal(1, r.type)
      assert.are.equal(payload, r.data)
    end
  end)

  it("describes a function handler with server and version", function()
    local d = c:describe()
    assert.are.equal("seer-lua", d.server)
    assert.are.equal(require("seer").version, d.version)
  end)

  it("raises server errors with type, message and traceback", function()
    local ok, e = pcall(c.call, c, "boom")
    assert.is_false(ok)
    assert.is_true(rpc.is_error(e))
    assert.are.equal("RuntimeError", e.type)
    assert.truthy(e.message:find("boom in handler", 1, true))
    assert.truthy(e.traceback:find("traceback", 1, true))
    assert.truthy(tostring(e):find("boom in handler", 1, true))
    assert.truthy(tostring(e):find("rpc call 'boom' failed", 1, true))
    ok, e = pcall(c.call, c, "nope")
    assert.is_false(ok)
    assert.are.equal("MethodNotFound", e.type)
    -- and the connection still works
    assert.are.equal(3, c:call("add", 1, 2))
  end)

  it("answers an unserializable result with an error and stays usable", function()
    local ok, e = pcall(c.call, c, "func")
    assert.is_false(ok)
    assert.are.equal("SerializationError", e.type)
    assert.truthy(e.message:find("function", 1, true))
    assert.are.equal("pong", c:ping())
  end)

  it("pipelines many calls from tasks and matches responses by id", function()
    local fns = {}
    for i = 1, 40 do
      fns[i] = function() return c:call("sleep", (40 - i) * 0.0005, i) end
    end
    local r = task.gather(fns)
    for i = 1, 40 do assert.are.equal(i, r[i]) end
    assert.are.equal(0, c:pending_count())
  end)

  it("fails pending calls promptly when the connection drops", function()
    local t = task.spawn(function() return pcall(c.call, c, "sleep", 5, 1) end)
    task.run(function() task.sleep(0.02) end)
    local t0 = require("seer.core").now()
    srv:close()
    local ok, e = t:wait()
    assert.is_false(ok)
    assert.are.equal("ConnectionClosed", e.type)
    assert.truthy(e.message:find("lost", 1, true))
    assert.is_true(require("seer.core").now() - t0 < 1)
    local ok2, e2 = pcall(c.call, c, "add", 1, 2)
    assert.is_false(ok2)
    assert.are.equal("ConnectionClosed", e2.type)
  end)

  it("uses on_close_reason to say why a connection dropped", function()
    local c2 = rpc.connect(srv.address,
      { on_close_reason = function() return "sandbox exited: killed (out of memory)" end })
    local t = task.spawn(function() return pcall(c2.call, c2, "sleep", 5, 1) end)
    task.run(function() task.sleep(0.02) end)
    srv:close()
    local _, e = t:wait()
    assert.truthy(tostring(e):find("sandbox exited: killed (out of memory)", 1, true))
  end)

  it("fails pending calls on fail_pending(reason)", function()
    local t = task.spawn(function() return pcall(c.call, c, "sleep", 0.3, 1) end)
    task.run(function() task.sleep(0.01) end)
    c:fail_pending("sandbox exited: timeout")
    local _, e = t:wait()
    assert.truthy(e.message:find("sandbox exited: timeout", 1, true))
  end)

  it("reports connect failures clearly", function()
    local path = sock_path()
    local ok, e = pcall(rpc.connect, "unix:" .. path)
    assert.is_false(ok)
    assert.truthy(tostring(e):find("cannot connect", 1, true))
    assert.truthy(tostring(e):find(path, 1, true))
    ok, e = pcall(rpc.connect, "http://x")
    assert.is_false(ok)
    assert.truthy(tostring(e):find("unix:PATH or tcp:HOST:PORT", 1, true))
    ok, e = pcall(rpc.listen, "tcp:127.0.0.1:99999", handler, { token = "t" })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("port", 1, true))
  end)

  it("refuses an oversized frame with an error, and keeps serving", function()
    local small = rpc.listen("unix:" .. sock_path(), handler, { max_frame = 1024 })
    local c2 = rpc.connect(small.address)
    local ok, e = pcall(c2.call, c2, "echo", string.rep("x", 4096))
    assert.is_false(ok)
    assert.are.equal("FrameError", e.type)
    assert.truthy(e.message:find("limit of 1024", 1, true))
    local c3 = rpc.connect(small.address)
    assert.are.equal("pong", c3:ping())
    c3:close()
    small:close()
  end)

  it("answers a malformed frame with an error and closes that connection only", function()
    local raw = raw_connect(srv.address)
    raw.conn:send_raw("\193\193\193")
    wait_for(function() return raw.closed end, "the server to hang up")
    assert.are.equal(1, #raw.frames)
    local f = raw.frames[1]
    assert.are.equal(1, f[1])
    assert.are.equal(msgpack.null, f[2])
    assert.are.equal("FrameError", f[3].type)
    assert.truthy(f[3].message:find("malformed", 1, true))
    -- a well-formed frame that is not a request
    raw = raw_connect(srv.address)
    raw.conn:send_raw(msgpack.encode({ 7, "x" }))
    wait_for(function() return raw.closed end, "the server to hang up")
    assert.are.equal("ProtocolError", raw.frames[1][3].type)
    -- a response sent to the server, in the shape C hands over split: refused all the same
    raw = raw_connect(srv.address)
    raw.conn:send_raw(msgpack.encode({ 1, 1, msgpack.null, "x" }))
    wait_for(function() return raw.closed end, "the server to hang up")
    assert.are.equal("ProtocolError", raw.frames[1][3].type)
    assert.truthy(raw.frames[1][3].message:find("got kind 1", 1, true), raw.frames[1][3].message)
    assert.are.equal(5, c:call("add", 2, 3))
  end)

  it("needs a token on tcp, and checks it before the first call", function()
    local ok, e = pcall(rpc.listen, "tcp:127.0.0.1:0", handler)
    assert.is_false(ok)
    assert.truthy(tostring(e):find("token", 1, true))
    local tsrv = rpc.listen("tcp:127.0.0.1:0", handler, { token = "s3cret" })
    assert.truthy(tsrv.address:match("^tcp:127%.0%.0%.1:%d+$"))
    assert.is_nil(tsrv.address:match(":0$"))
    local tc = rpc.connect(tsrv.address, { token = "s3cret" })
    assert.are.equal(5, tc:call("add", 2, 3))
    tc:close()
    ok, e = pcall(rpc.connect, tsrv.address, { token = "wrong" })
    assert.is_false(ok)
    assert.truthy(tostring(e):find("authentication", 1, true))
    local nc = rpc.connect(tsrv.address)
    ok, e = pcall(nc.call, nc, "add", 1, 2)
    assert.is_false(ok)
    assert.are.equal("AuthError", e.type)
    nc:close()
    tsrv:close()
  end)

  it("creates unix sockets with mode 0600 and handles stale and live socket files", function()
    local path, dir = sock_path()
    local s1 = rpc.listen("unix:" .. path, handler)
    local p = io.popen("stat -c %a " .. path)
    assert.are.equal("600", p:read("*l"))
    p:close()
    local ok, e = pcall(rpc.listen, "unix:" .. path, handler)
    assert.is_false(ok)
    assert.truthy(tostring(e):find("another server is listening", 1, true))
    s1:close()
    assert.is_false(fs.exists(path))
    -- a stale socket file (its server gone without cleanup) is replaced
    os.execute("chmod 777 " .. dir)
    ok, e = pcall(rpc.listen, "unix:" .. path, handler)
    assert.is_false(ok)
    assert.truthy(tostring(e):find("writable by other users", 1, true))
    os.execute("chmod 700 " .. dir)
    local s2 = rpc.listen("unix:" .. path, handler)
    s2:close()
  end)

  it("carries raw byte streams both ways, unframed, and reads nothing while paused", function()
    local path = sock_path()
    local server_got, server_conn = {}, nil
    local listener = assert(rpc_c.listen("unix:" .. path, function(conn)
      server_conn = conn
      conn:start(function(ev, v)
        if ev == "data" then
          server_got[#server_got + 1] = v
          conn:send_raw("echo:" .. v)
        end
      end, nil, false, true)
    end))
    local got, opened = {}, false
    local conn = assert(rpc_c.connect("unix:" .. path, function(ev, v)
      if ev == "connect" then opened = v == nil
      elseif ev == "data" then got[#got + 1] = v end
    end, nil, true))
    wait_for(function() return opened and server_conn end, "the connection")
    -- 0xc1 is never valid msgpack: a framed connection would hang up on it.
    assert(conn:send_raw("\xc1\x00 not msgpack"))
    wait_for(function() return table.concat(got) == "echo:\xc1\x00 not msgpack" end, "the echo")
    server_conn:pause(true)
    assert(conn:send_raw("later"))
    task.run(function() task.sleep(0.2) end)
    assert.are.equal("\xc1\x00 not msgpack", table.concat(server_got))
    server_conn:pause(false)
    wait_for(function() return table.concat(server_got) == "\xc1\x00 not msgpack" .. "later" end, "the paused bytes")
    conn:close()
    listener:close()
  end)

  it("speaks TLS with a pinned certificate, and refuses a wrong pin before sending anything", function()
    local cert, key, sha = rpc.tls_cert()
    assert.matches("^%x+$", sha)
    assert.are.equal(64, #sha)
    local tsrv = rpc.listen("tcp:127.0.0.1:0", handler,
      { token = "s3cret", tls = { cert = cert, key = key }, auth_timeout = 1 })
    local tc = rpc.connect(tsrv.address, { token = "s3cret", tls = { pin = sha } })
    assert.are.equal(5, tc:call("add", 2, 3))
    local big = ("0123456789abcdef"):rep(65536) -- 1 MiB: many TLS records each way
    assert.are.equal(big, tc:call("echo", big))
    tc:close()
    -- A plain client gets no answer it could take for one.
    assert.has_error(function() rpc.connect(tsrv.address, { token = "s3cret", timeout = 5 }) end)
    tsrv:close()

    -- A server with another certificate: the client hangs up after the handshake, before its token.
    local other_cert, other_key = rpc.tls_cert()
    local server_ctx = assert(rpc_c.tls_server(other_cert, other_key))
    local received, accepted = {}, 0
    local listener, address = rpc_c.listen("tcp:127.0.0.1:0", function(conn)
      accepted = accepted + 1
      conn:start(function(ev, v) if ev == "data" then received[#received + 1] = v end end, nil, false, true)
    end, server_ctx)
    assert(listener, address)
    local ok, err = pcall(rpc.connect, address, { token = "s3cret", tls = { pin = sha }, timeout = 5 })
    assert.is_false(ok)
    assert.matches("not the pinned one", tostring(err))
    assert.are.equal(1, accepted)
    assert.are.equal("", table.concat(received))
    -- What never becomes a TLS record (here the start of an SSLv2-style header) is not buffered
    -- without bound: past 1 MiB the server hangs up.
    local closed = false
    local junk = assert(rpc_c.connect(address, function(ev) if ev == "close" then closed = true end end, nil, true))
    wait_for(function() return junk:is_open() end, "the junk connection")
    junk:send_raw("\x94\xff" .. ("x"):rep(2 * 1024 * 1024))
    wait_for(function() return closed end, "the server to hang up on junk")
    listener:close()
    -- A TLS client to a plain server: a clear error, not a hang.
    local plain = rpc.listen("tcp:127.0.0.1:0", handler, { token = "s3cret" })
    ok, err = pcall(rpc.connect, plain.address, { token = "s3cret", tls = { pin = sha }, timeout = 5 })
    assert.is_false(ok)
    assert.matches("TLS", tostring(err))
    plain:close()
    assert.has_error(function() rpc.connect(plain.address, { tls = { pin = "abc" } }) end)
  end)
end)
