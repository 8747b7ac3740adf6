-- bench/slurm.lua: what running sandboxes as Slurm jobs costs (bench/README.md, "slurm").
--   seer-lua bench/slurm.lua [N] [TRACKED]
-- On the cluster SLURM_CONF names (tests/setup/slurm.sh starts a one-node one). In one run:
--  1. create-to-first-RPC, N times each, alternating: a sandbox started, an interface served from
--     it and one call answered, on the local backend and on the slurm backend. For slurm it also
--     splits the time: sbatch's answer, the scheduler's share (submit to the node process's start,
--     same machine so the monotonic clocks compare) and the rest (our node side and the relay).
--  2. TRACKED sleep-only jobs followed by one process: squeue calls per poll interval (target 1).
local core = require "seer.core"
local env = require "seer.environment"
local fs = require "seer.fs"
local process = require "seer.process"
local slurm = require "seer.sandbox.slurm"
local task = require "seer.task"

local N, TRACKED = tonumber(arg[1]) or 20, tonumber(arg[2]) or 100
local dir = (arg[0]:match("^(.*)/[^/]*$") or ".")

local function pct(v, p)
  local s = {}
  for i, x in ipairs(v) do s[i] = x end
  table.sort(s)
  return s[math.floor(p * (#s - 1) + 0.5) + 1]
end

if not os.getenv("SLURM_CONF") then
  io.stderr:write("bench/slurm: SLURM_CONF is not set. A one-node cluster for it (as root):\n",
    "  eval $(bash tests/setup/slurm.sh start /tmp/seer-slurm) && build/seer-lua bench/slurm.lua\n")
  os.exit(2)
end
local job_dir = assert(fs.tmpdir("bench-slurm-jobs"))
local function first_rpc(backend)
  local t0 = core.now()
  local sb = env.ScopedSandbox(env.SandboxConfig({
    backend = backend, memory = "256M",
    slurm = backend == "slurm" and { job_dir = job_dir, bind = "127.0.0.1" } or nil,
  }))
  sb:start()
  sb:serve(dir .. "/rpc_noop_interface.lua", { expose_as = "library", name = "noop" })
  sb.served.noop.client:call("noop")
  local total = core.now() - t0
  local timing = sb.backend.timing
  sb:terminate()
  return total, timing
end

print(("cpu: %s"):format((fs.read("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "?"))
print(("slurm: %s"):format(assert(slurm.describe())))
local loc, sl, sbatch, sched, rest = {}, {}, {}, {}, {}
for i = 1, N do
  loc[i] = first_rpc("local")
  local t, timing = first_rpc("slurm")
  sl[i] = t
  sbatch[i] = timing.submitted
  sched[i] = (timing.node_started or timing.published) - timing.submitted
  rest[i] = t - sbatch[i] - sched[i]
end
local function ms(v, p) return pct(v, p) * 1e3 end
print(("create-to-first-RPC, local:  p50 %.0f ms  p99 %.0f ms"):format(ms(loc, 0.5), ms(loc, 0.99)))
print(("create-to-first-RPC, slurm:  p50 %.0f ms  p99 %.0f ms"):format(ms(sl, 0.5), ms(sl, 0.99)))
print(("  of which sbatch's answer:  p50 %.0f ms  p99 %.0f ms"):format(ms(sbatch, 0.5), ms(sbatch, 0.99)))
print(("  scheduler (submit -> node process start): p50 %.0f ms  p99 %.0f ms"):format(ms(sched, 0.5), ms(sched, 0.99)))
print(("  the rest (node side, sandbox, serve, relay): p50 %.0f ms  p99 %.0f ms"):format(ms(rest, 0.5), ms(rest, 0.99)))
print(("slurm - scheduler vs local, p50: %.0f ms vs %.0f ms (target: <=)"):format(
  (pct(sl, 0.5) - pct(sbatch, 0.5) - pct(sched, 0.5)) * 1e3, ms(loc, 0.5)))

-- 2. Many jobs, one poller.
local ids = {}
for i = 1, TRACKED do
  ids[i] = assert(slurm.submit({ "--parsable", "--export=NONE", "--output=/dev/null", "--time=5", "--mem=16",
                                 "--job-name=seer-bench-sleep", "--wrap", "sleep 300" }))
end
local states = {}
for _, id in ipairs(ids) do slurm.track(id, function(state) states[id] = state end) end
local calls0, t0 = slurm.squeue_calls, core.now()
task.sleep(10.5)
local calls, elapsed = slurm.squeue_calls - calls0, core.now() - t0
local running = 0
for _, id in ipairs(ids) do if states[id] == "RUNNING" then running = running + 1 end end
print(("%d jobs tracked (%d running) for %.1f s: %d squeue calls, %.2f per %g s interval (target 1)"):format(
  TRACKED, running, elapsed, calls, calls / (elapsed / slurm.POLL_INTERVAL), slurm.POLL_INTERVAL))
for _, id in ipairs(ids) do slurm.untrack(id) end
process.run({ cmd = "scancel", args = { "--name=seer-bench-sleep" } })
fs.remove(job_dir)
