-- bench/tasks.lua: cost of the task scheduler, against bare coroutines (the floor: what any Lua
-- scheduler must at least pay) measured in the same run.
--   seer-lua bench/tasks.lua [N]
-- Prints per-task time for spawn + sleep(0) + finish, and resident memory per idle (sleeping) task.
local seer = require "seer"
local now = require("seer.core").now
local N = tonumber(arg and arg[1]) or 100000
local mem_mode = arg[1] == "--mem" and arg[2]
if mem_mode then N = tonumber(arg[3]) end

-- The two measured passes: N bare coroutines, each resumed to a yield and then to its end (the
-- floor), and N tasks through spawn + sleep(0) + finish.
local function floor_pass()
  local cos = {}
  local body = function() coroutine.yield() end
  for i = 1, N do
    local co = coroutine.create(body)
    coroutine.resume(co)
    cos[i] = co
  end
  for i = 1, N do coroutine.resume(cos[i]) end
end

local function tasks_pass()
  local tasks = {}
  local body = function() seer.sleep(0) end
  for i = 1, N do tasks[i] = seer.spawn(body) end
  for i = 1, N do tasks[i]:wait() end
end

if arg[1] == "--once" then
  -- One pass of the timed loop, for counting instructions (bench/tasks_count.sh): N tasks, or
  -- with "floor" N bare coroutines.
  N = tonumber(arg[2])
  if arg[3] == "floor" then floor_pass() else tasks_pass() end
  os.exit(0)
end

local function rss_kib()
  local f = assert(io.open("/proc/self/statm"))
  local _, resident = f:read("*n", "*n")
  f:close()
  return resident * 4 -- pages of 4 KiB
end

local function best_of(runs, fn)
  local best = math.huge
  for _ = 1, runs do
    collectgarbage("collect")
    local t0 = now()
    fn()
    local dt = now() - t0
    if dt < best then best = dt end
  end
  return best
end

if mem_mode then
  -- Child: resident KiB added by N parked tasks (each in a 1 h sleep) or N suspended coroutines.
  collectgarbage("collect")
  local base = rss_kib()
  local keep = {} -- luacheck: ignore 241 (kept alive on purpose, never read)
  if mem_mode == "tasks" then
    for i = 1, N do keep[i] = seer.spawn(function() seer.sleep(3600) end) end
    seer.sleep(0.01) -- let every task run to its sleep
  else
    local body = function() coroutine.yield() end
    for i = 1, N do
      local co = coroutine.create(body)
      coroutine.resume(co)
      keep[i] = co
    end
  end
  collectgarbage("collect")
  print(rss_kib() - base)
  os.exit(0)
end

-- Floor: create N coroutines, resume each to a yield, resume each to completion.
local floor = best_of(5, floor_pass)
local sched = best_of(5, tasks_pass)

-- Memory is measured in fresh child processes, so that memory freed by the timing runs above
-- cannot be reused and hide the cost.
local interpreter = arg[0]
for i = -1, -10, -1 do if arg[i] then interpreter = arg[i] end end
local function child_kib(kind)
  local r = seer.process.run({ cmd = interpreter, args = { arg[0], "--mem", kind, tostring(N) } })
  assert(r.ok, "memory child failed: " .. r.stderr)
  return tonumber(r.stdout:match("(%d+)"))
end
local floor_kib = child_kib("coroutines")
local task_kib = child_kib("tasks")

local per_task_us = sched / N * 1e6
local per_co_us = floor / N * 1e6
print(("seer-lua %s, %s, N = %d"):format(seer.version, seer.lua_version, N))
print(("spawn+sleep(0)+finish: %.3f us/task   bare coroutine floor: %.3f us   ratio %.2fx   (target <= 2 us)")
  :format(per_task_us, per_co_us, per_task_us / per_co_us))
print(("idle sleeping task:    %.2f KiB/task  bare coroutine floor: %.2f KiB  ratio %.2fx   (target <= 2 KiB)")
  :format(task_kib / N, floor_kib / N, (task_kib / N) / (floor_kib / N)))
