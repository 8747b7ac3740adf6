-- bench/kernel/sandbox_ready.lua: a notebook sandbox's kernel, from the sandbox's start (the
-- kernel's spawn included) to its first kernel_info reply through the broker, as
-- create_notebook_session waits for it (seer.kernel.client's wait_ready). No models.
--   usage: seer-lua bench/kernel/sandbox_ready.lua [N]
local env = require "seer.environment"
local core = require "seer.core"
local kclient = require "seer.kernel.client"

local n = tonumber(arg and arg[1]) or 8
local starts, readies = {}, {}
for i = 1, n do
  local t0 = core.now()
  local sb = env.Sandbox(env.SandboxConfig({ execution_mode = "notebook", memory = "256M", pids = 64 })):start()
  local t1 = core.now()
  local c = kclient.connect(sb.kernel.connection, {})
  c:wait_ready(60)
  starts[i], readies[i] = (t1 - t0) * 1e3, (core.now() - t1) * 1e3
  c:close()
  sb:terminate()
end
local function median(t)
  local s = { table.unpack(t) }
  table.sort(s)
  return s[math.floor((#s + 1) / 2)]
end
print(("sandbox start (kernel spawned) p50 %.0f ms; then kernel ready p50 %.0f ms (%s)"):format(
  median(starts), median(readies), table.concat((function()
    local r = {}
    for i, v in ipairs(readies) do r[i] = ("%.0f"):format(v) end
    return r
  end)(), " ")))
