-- bench/session.lua: what sandboxing an agent session costs (bench/README.md, "session").
--   seer-lua bench/session.lua [RUNS] [CALLS]
-- Cold start: create_local_session until its first run_lua is answered, sandboxed (the default) vs
-- isolation = "none" (in-process, the floor), with one served library in the workspace, RUNS times
-- each. Then CALLS calls of `return 1` through run_lua, and CALLS no-op calls into the library from
-- the session's code (through the relay) against the host's own client of the same interface.
local core = require "seer.core"
local env = require "seer.environment"
local execution = require "seer.execution"
local fs = require "seer.fs"
local Workspace = require("seer.workspace").Workspace

local RUNS, CALLS = tonumber(arg[1]) or 10, tonumber(arg[2]) or 500
local dir = (arg[0]:match("^(.*)/[^/]*$") or ".")

local function pct(v, p)
  local s = {}
  for i, x in ipairs(v) do s[i] = x end
  table.sort(s)
  return s[math.floor(p * (#s - 1)) + 1]
end

local sb = env.ScopedSandbox(env.SandboxConfig({}))
sb:start()
local lib = sb:serve(dir .. "/rpc_noop_interface.lua", { expose_as = "library", name = "noop" })

local function cold(isolation)
  local t = {}
  for i = 1, RUNS do
    local t0 = core.now()
    local s = execution.create_local_session({ workspace = Workspace({ libraries = { lib } }), isolation = isolation })
    assert(s:exec("return 1") == 1)
    t[i] = core.now() - t0
    s:close()
    fs.remove(s.workspace_dir)
  end
  return pct(t, 0.5) * 1e3, pct(t, 0.9) * 1e3
end

local function per_call(fn)
  local t = {}
  for i = 1, CALLS do
    local t0 = core.now()
    fn()
    t[i] = core.now() - t0
  end
  return pct(t, 0.5) * 1e6, pct(t, 0.99) * 1e6
end

print(("cpu: %s"):format((fs.read("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "?"))
print(("cold start, sandboxed: p50 %.1f ms p90 %.1f ms"):format(cold("sandbox")))
print(("cold start, isolation = none: p50 %.1f ms p90 %.1f ms"):format(cold("none")))
local boxed = execution.create_local_session({ workspace = Workspace({ libraries = { lib } }) })
local plain = execution.create_local_session({ workspace = Workspace({ libraries = { lib } }), isolation = "none" })
print(("run_lua 'return 1', sandboxed: p50 %.1f us p99 %.1f us"):format(
  per_call(function() boxed:exec("return 1") end)))
print(("run_lua 'return 1', isolation = none: p50 %.1f us p99 %.1f us"):format(
  per_call(function() plain:exec("return 1") end)))
boxed:exec('noop = require("noop")')
print(("library call from a sandboxed session (run_lua + relay): p50 %.1f us p99 %.1f us"):format(
  per_call(function() boxed:exec("return noop.noop()") end)))
local client = sb.served.noop.client
print(("the same call from the host's client: p50 %.1f us p99 %.1f us"):format(
  per_call(function() client:call("noop") end)))
boxed:close()
sb:terminate()
