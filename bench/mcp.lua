-- bench/mcp.lua: the latency that `seer-lua mcp` adds to a call into a sandbox.
--   seer-lua bench/mcp.lua [N]      (N = 5000 round trips of each kind)
-- A ScopedSandbox serves bench/rpc_noop_interface.lua with expose_as = "mcp"; the returned entry is
-- started as it is (`seer-lua mcp --connect <the sandbox's socket>`) and driven over its stdin and
-- stdout: tools/call "noop", one at a time, each timed from writing the request line to reading
-- the response line. The floor is the RPC round trip underneath, measured in the same run: the
-- same no-op through seer.rpc.connect to the same socket. The two kinds alternate in blocks of
-- 500 so that load from other processes falls on both. Prints p50 and p99 of each and the p50
-- overhead (target: <= 100 us).
local seer = require "seer"
local core = require "seer.core"
local env = require "seer.environment"
local json = require "seer.json"
local rpc = require "seer.rpc"
local task = require "seer.task"

local N = tonumber(arg[1]) or 5000
local BLOCK = 500
local dir = arg[0]:match("^(.*)/[^/]*$") or "."

local function pct(v, p)
  local s = {}
  for i = 1, #v do s[i] = v[i] end
  table.sort(s)
  return s[math.floor(p * (#s - 1)) + 1]
end

local sb = env.ScopedSandbox(env.SandboxConfig({}))
sb:start()
local entry = sb:serve(dir .. "/rpc_noop_interface.lua", { expose_as = "mcp", name = "noop" }).noop

-- The MCP server, as a client would start it: responses are matched to the waiting caller.
local waiting, buf = nil, ""
local server = seer.process.spawn({
  cmd = entry.command, args = entry.args, stdin = true,
  on_stdout = function(data)
    buf = buf .. data
    while true do
      local nl = buf:find("\n", 1, true)
      if not nl then break end
      local line = buf:sub(1, nl - 1)
      buf = buf:sub(nl + 1)
      local w = waiting
      waiting = nil
      if w then w(line) end
    end
  end,
})

local function roundtrip(line)
  return task.await(function(done)
    waiting = done
    server:write(line)
  end)
end

local init = json.decode(roundtrip(json.encode({ jsonrpc = "2.0", id = 0, method = "initialize",
  params = { protocolVersion = "2025-11-25", capabilities = json.object({}),
              clientInfo = { name = "bench", version = "1" } } }) .. "\n"))
assert(init.result, "initialize failed")
server:write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n')

local floor_client = rpc.connect("unix:" .. sb.served.noop.socket)
local mcp_t, rpc_t = {}, {}
local id = 0
local function mcp_block(n, keep)
  for _ = 1, n do
    id = id + 1
    local line = '{"jsonrpc":"2.0","id":' .. id .. ',"method":"tools/call","params":{"name":"noop","arguments":{}}}\n'
    local t0 = core.now()
    local reply = roundtrip(line)
    local dt = core.now() - t0
    if keep then mcp_t[#mcp_t + 1] = dt end
    if not reply:find('"id":' .. id .. ',', 1, true) or reply:find('"isError":true', 1, true) then
      error("unexpected reply: " .. reply)
    end
  end
end
local function rpc_block(n, keep)
  for _ = 1, n do
    local t0 = core.now()
    floor_client:call("noop")
    local dt = core.now() - t0
    if keep then rpc_t[#rpc_t + 1] = dt end
  end
end

-- CPU time of the seer-lua mcp process (clock ticks of /proc/PID/stat, 100 per second): what one
-- call costs it, whatever the load on the machine.
local function cpu_seconds(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local st = f:read("*a")
  f:close()
  local fields = {}
  for x in st:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = x end
  return (tonumber(fields[12]) + tonumber(fields[13])) / 100 -- utime, stime (fields 14 and 15)
end
local cpu_before, cpu_after
seer.run(function()
  mcp_block(BLOCK, false) -- warm-up
  rpc_block(BLOCK, false)
  cpu_before = cpu_seconds(server.pid)
  local done = 0
  while done < N do
    local n = math.min(BLOCK, N - done)
    mcp_block(n, true)
    rpc_block(n, true)
    done = done + n
  end
  cpu_after = cpu_seconds(server.pid)
end)


floor_client:close()
server:close_stdin()
server:wait()
sb:terminate()

local m50, m99 = pct(mcp_t, 0.5) * 1e6, pct(mcp_t, 0.99) * 1e6
local r50, r99 = pct(rpc_t, 0.5) * 1e6, pct(rpc_t, 0.99) * 1e6
print(("%s, %d round trips each"):format(seer.lua_version, N))
print(("tools/call through seer-lua mcp: p50 %.1f us  p99 %.1f us"):format(m50, m99))
print(("rpc round trip underneath:       p50 %.1f us  p99 %.1f us"):format(r50, r99))
print(("overhead at p50: %.1f us (target <= 100 us)"):format(m50 - r50))
if cpu_before and cpu_after then
  print(("seer-lua mcp CPU: %.1f us per call (user + sys over the %d timed calls)"):format(
    (cpu_after - cpu_before) / N * 1e6, N))
end
