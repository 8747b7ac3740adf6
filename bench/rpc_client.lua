-- bench/rpc_client.lua: the Lua-client rows of bench/rpc.c (which runs this script and compares
-- what it prints with the floor measured in the same run).
--   seer-lua bench/rpc_client.lua client ADDR N
--       N no-op calls through seer.rpc.connect(ADDR); prints "noop p50 US p99 US".
--   seer-lua bench/rpc_client.lua sandbox INTERFACE N RUNS
--       RUNS times: a ScopedSandbox is started and serves INTERFACE; the time from start() until the
--       first call is answered is the cold start. The first run also makes N no-op calls through
--       sandbox.served[name].client. Prints "sandbox p50 US p99 US" and "cold p50 MS p90 MS max MS".
local rpc = require "seer.rpc"
local core = require "seer.core"

local function pct(v, p)
  table.sort(v)
  return v[math.floor(p * (#v - 1)) + 1]
end

local function noop_calls(c, n)
  local warm = math.max(1, n // 10)
  local t = {}
  for i = 1, warm + n do
    local t0 = core.now()
    c:call("noop")
    if i > warm then t[i - warm] = core.now() - t0 end
  end
  return pct(t, 0.5) * 1e6, pct(t, 0.99) * 1e6
end

local mode = arg[1]
if mode == "client" then
  local c = rpc.connect(arg[2])
  local p50, p99 = noop_calls(c, tonumber(arg[3]) or 20000)
  c:close()
  print(("noop p50 %.1f p99 %.1f"):format(p50, p99))
elseif mode == "sandbox" then
  local env = require "seer.environment"
  local iface, n, runs = arg[2], tonumber(arg[3]) or 20000, tonumber(arg[4]) or 20
  local name = iface:match("([^/]+)%.lua$")
  local cold = {}
  for r = 1, runs do
    local sb = env.ScopedSandbox(env.SandboxConfig({}))
    local t0 = core.now()
    sb:start()
    sb:serve(iface, { name = name })
    local client = sb.served[name].client
    client:call("noop")
    cold[r] = (core.now() - t0) * 1e3
    if r == 1 then
      local p50, p99 = noop_calls(client, n)
      print(("sandbox p50 %.1f p99 %.1f"):format(p50, p99))
    end
    sb:terminate()
  end
  print(("cold p50 %.1f p90 %.1f max %.1f"):format(pct(cold, 0.5), pct(cold, 0.9), cold[#cold]))
else
  io.stderr:write("usage: seer-lua bench/rpc_client.lua client ADDR N | sandbox INTERFACE N RUNS\n")
  os.exit(2)
end
