--- seer.task: the scheduler. Tasks are coroutines resumed from one place (this module), so yields
--- happen only here and in the wrappers that call `await`, never across a C call; that keeps Lua 5.4
--- and LuaJIT identical. The libuv loop is driven one iteration at a time through seer.core.
local core = require "seer.core"

local coroutine_create, coroutine_resume, coroutine_yield, coroutine_running =
  coroutine.create, coroutine.resume, coroutine.yield, coroutine.running
local pack = table.pack or function(...) return { n = select("#", ...), ... } end
-- Upvalues rather than globals: every task reaches these on its way.
local type, select, setmetatable = type, select, setmetatable
local unpack = table.unpack or unpack
local now = core.now

local M = {}

---@class seer.Task
---@field name string
---@field status "ready"|"running"|"waiting"|"done"|"failed"|"cancelled"
local Task = { name = "task" }
Task.__index = Task
M.Task = Task

local CANCEL = setmetatable({}, { __tostring = function() return "cancelled" end })
M.CANCELLED = CANCEL
-- A task's wait_id while it waits in task.park (otherwise: false, or the number of its wait).
local PARKED = {}

-- Ready queue: tasks are appended to `queue`; a scheduler round takes the whole queue as its batch
-- and hands out a fresh one. Draining one array while appending to another keeps both as plain
-- arrays (consuming and appending in one array makes Lua rehash it into its hash part).
local queue, queue_n, spare_queue = {}, 0, nil
local current = nil -- the task whose coroutine is running now
local task_count = 0

-- Timers: a binary min-heap of {deadline, seq, fn-or-task}; cancelled entries are skipped lazily.
local heap, heap_n, timer_seq = {}, 0, 0

local function heap_push(entry)
  heap_n = heap_n + 1
  local i = heap_n
  heap[i] = entry
  while i > 1 do
    local p = (i - i % 2) / 2
    local pe = heap[p]
    if pe[1] < entry[1] or (pe[1] == entry[1] and pe[2] < entry[2]) then break end
    heap[i], heap[p] = pe, entry
    i = p
  end
end

local function heap_pop()
  local top = heap[1]
  local last = heap[heap_n]
  heap[heap_n] = nil
  heap_n = heap_n - 1
  if heap_n > 0 then
    local i = 1
    heap[1] = last
    while true do
      local l = i * 2
      if l > heap_n then break end
      local r = l + 1
      local c = l
      if r <= heap_n then
        local le, re = heap[l], heap[r]
        if re[1] < le[1] or (re[1] == le[1] and re[2] < le[2]) then c = r end
      end
      local ce = heap[c]
      if last[1] < ce[1] or (last[1] == ce[1] and last[2] < ce[2]) then break end
      heap[i], heap[c] = ce, last
      i = c
    end
  end
  return top
end

local timers_live = 0 -- heap entries not cancelled yet
local wait_counter = 0 -- ids of waits, so that a stale wake-up is recognised and ignored

local function push_ready(t)
  if t.queued then return end
  t.queued = true
  queue_n = queue_n + 1
  queue[queue_n] = t
end

local function add_timer(delay, target, arg)
  timer_seq = timer_seq + 1
  timers_live = timers_live + 1
  local entry = { now() + delay, timer_seq, target, arg }
  heap_push(entry)
  return entry
end

local function cancel_timer(entry)
  if entry[3] then
    entry[3] = nil
    timers_live = timers_live - 1
  end
end

--- The running task, or nil when called from outside any task (the main chunk, the REPL, or a
--- coroutine that this scheduler did not start).
function M.current()
  if current and coroutine_running() == current.co then return current end
  return nil
end

local NO_RESULTS = { n = 0 }
-- Every task coroutine runs task_main, so a return is told apart from a yield by this marker
-- without asking coroutine.status after each resume. task_main stores the results in the task
-- itself, so that a resume returns at most two values and no vararg function (which copies its
-- frame on Lua 5.4) sits between the scheduler and the task.
local DONE = {}
local function store_results(t, ...)
  if select("#", ...) == 0 then t.results = NO_RESULTS else t.results = pack(...) end
  return DONE
end
local function task_main(t, fn, ...) return store_results(t, fn(...)) end
-- The same for a task spawned without arguments (not a vararg function: no frame copy).
local function task_main0(t, fn) return store_results(t, fn()) end

-- ok: the results are in t.results already (task_main); otherwise err is the error.
local function finish(t, ok, err)
  if ok and not t.waiters then -- the common end: nothing to report, nobody to wake
    t.status = "done"
    t.co = nil
    task_count = task_count - 1
    return
  end
  if ok then
    t.status = "done"
  else
    if err == CANCEL then
      t.status = "cancelled"
      t.err = "cancelled"
    else
      t.status = "failed"
      t.err = err
      if type(err) == "string" and t.co then
        t.traceback = debug.traceback(t.co, err)
      end
    end
  end
  t.co = nil
  task_count = task_count - 1
  local waiters = t.waiters
  if waiters then
    t.waiters = nil
    for i = 1, #waiters do waiters[i](t) end
  elseif t.status == "failed" and not t.quiet then
    require("seer.log").warn("task", ("task '%s' failed and nobody waits on it: %s"):format(
      t.name, t.traceback or tostring(t.err)))
  end
end

local function run_task(t)
  local prev = current
  current = t
  t.status = "running"
  local fn, args, co = t.fn, t.wake_args, t.co
  if args then t.wake_args = false end
  -- A resume returns an error, DONE, or a yield's values (never used: wake-ups pass theirs
  -- through t.wake_args), so two results are all it needs.
  local ok, first
  if fn then
    t.fn = false
    if args then
      ok, first = coroutine_resume(co, t, fn, unpack(args, 1, args.n))
    else
      ok, first = coroutine_resume(co, t, fn)
    end
  elseif args then
    ok, first = coroutine_resume(co, unpack(args, 1, args.n))
  else
    ok, first = coroutine_resume(co)
  end
  current = prev
  if not ok then return finish(t, false, first) end
  if first == DONE then return finish(t, true) end
  t.status = "waiting"
  if not t.wait_id and not t.queued then
    -- A bare coroutine.yield: nothing would ever wake this task, so fail it loudly instead.
    finish(t, false, "seer: task yielded with coroutine.yield outside seer's I/O functions; "
      .. "use seer.sleep, task:wait or a seer.channel to wait")
  end
end

-- run_task for task.unpark: the wake-up's values are passed straight to the resume (no
-- wake_args table; fixed arguments, as a vararg function copies its frame on Lua 5.4).
local function run_parked(t, a, b, c, d, e)
  local prev = current
  current = t
  t.status = "running"
  local ok, first = coroutine_resume(t.co, a, b, c, d, e)
  current = prev
  if not ok then return finish(t, false, first) end
  if first == DONE then return finish(t, true) end
  t.status = "waiting"
  if not t.wait_id and not t.queued then
    finish(t, false, "seer: task yielded with coroutine.yield outside seer's I/O functions; "
      .. "use seer.sleep, task:wait or a seer.channel to wait")
  end
end

--- Run ready tasks, then wait for I/O or the next timer, until `cond()` is true.
local function drive(cond)
  while not cond() do
    if queue_n > 0 then
      -- Run the tasks that are ready now; ones made ready meanwhile wait for the next round.
      local batch, n = queue, queue_n
      queue, queue_n, spare_queue = spare_queue or {}, 0, nil
      for i = 1, n do
        local t = batch[i]
        batch[i] = nil
        t.queued = false
        if t.co and t.status ~= "running" then run_task(t) end
      end
      if not spare_queue then spare_queue = batch end
      core.run_once(0)
    else
      local timeout = -1
      while heap_n > 0 and heap[1][3] == nil do heap_pop() end
      if heap_n > 0 then
        timeout = heap[1][1] - now()
        if timeout < 0 then timeout = 0 end
      elseif not core.alive() then
        error("seer: deadlock: waiting, but no task is ready and no I/O or timer is pending", 0)
      end
      core.run_once(timeout)
    end
    -- Fire due timers.
    if heap_n > 0 then
      local t_now = now()
      while heap_n > 0 and heap[1][1] <= t_now do
        local entry = heap_pop()
        local target = entry[3]
        if target then
          entry[3] = nil
          timers_live = timers_live - 1
          if type(target) == "function" then target(entry[4]) else M.wake(target, entry[4]) end
        end
      end
    end
  end
end
M.drive = drive

--- Mark a waiting task ready; `...` become the results of its pending `await`. Stale wakes (for a
--- wait that already ended) are ignored via the wait id.
function M.wake(t, wait_id, ...)
  if t.wait_id ~= wait_id or not wait_id or not t.co then return end
  t.wait_id = false
  t.wake_args = pack(...)
  push_ready(t)
end

local function check_cancel(first, ...)
  if first == CANCEL then error(CANCEL, 0) end
  return first, ...
end

--- Suspend the current computation until `start(done)` calls `done(...)`; returns those values.
--- `start` returns an optional cancel function, called if the task is cancelled while waiting.
--- From outside any task, this drives the loop until `done` is called.
---@param start fun(done: fun(...)): (fun()|nil)
function M.await(start)
  local t = M.current()
  if t then
    if t.cancel_requested then error(CANCEL, 0) end
    wait_counter = wait_counter + 1
    local id = wait_counter
    t.wait_id = id
    t.cancel_op = start(function(...) M.wake(t, id, ...) end)
    return check_cancel(coroutine_yield())
  end
  local result
  local cancel = start(function(...) if not result then result = pack(...) end end)
  local ok, err = pcall(drive, function() return result ~= nil end)
  if not ok then
    -- Interrupted (Ctrl-C, an error from a callback): withdraw the operation so that nothing is
    -- left pending on the loop on behalf of a caller that has gone.
    if cancel then cancel() end
    error(err, 0)
  end
  return unpack(result, 1, result.n)
end

--- Suspend the running task until `task.unpark(t, ...)`; returns those values. For a task that
--- waits between jobs (a server's idle worker): unlike `await`, a wait allocates nothing. A
--- cancelled parked task raises "cancelled" here; whoever holds it learns that from `unpark`.
function M.park()
  local t = current
  if not t or coroutine_running() ~= t.co then error("seer.task.park: not called from a task", 2) end
  if t.cancel_requested then error(CANCEL, 0) end
  t.wait_id = PARKED
  t.cancel_op = false -- Task:cancel has nothing to withdraw
  local a, b, c, d, e = coroutine_yield()
  if a == CANCEL then error(CANCEL, 0) end
  return a, b, c, d, e
end

--- Resume a task suspended in `task.park()`, which returns a, b, c, d, e. Called from the loop
--- (a callback, outside any task) the task runs at once, until it waits again or ends: an RPC
--- request is handled within the read that brought it, without a scheduler round; from a task
--- it runs at the next round. Returns false when `t` is not parked (it ended, was cancelled or
--- waits on something else).
---@param t seer.Task
---@return boolean
function M.unpark(t, a, b, c, d, e)
  if t.wait_id ~= PARKED then return false end
  t.wait_id = false
  if current == nil then
    run_parked(t, a, b, c, d, e)
  else
    t.wake_args = { n = 5, a, b, c, d, e }
    push_ready(t)
  end
  return true
end

--- Spawn a task running fn(...). It starts at the next scheduler round.
---@return seer.Task
function M.spawn(fn, ...)
  if type(fn) ~= "function" then
    error("seer.spawn: expected a function, got " .. type(fn), 2)
  end
  task_count = task_count + 1
  -- The constructor sizes the table's hash part to 8: the fields every task uses (wake_args only
  -- when it got arguments), and room for wait_id and cancel_op, which only a task that waits
  -- creates (each key costs a table insertion, so a task that only yields pays for neither).
  -- It goes straight onto the ready queue (push_ready, inlined: a new task is never queued).
  local args = ((...) ~= nil or select("#", ...) > 0) and pack(...) or nil
  local t = setmetatable({
    co = coroutine_create(args and task_main or task_main0), fn = fn, status = "ready", queued = true,
    results = false, wake_args = args,
  }, Task)
  queue_n = queue_n + 1
  queue[queue_n] = t
  return t
end

--- Sleep for s seconds (0 just yields to other ready tasks).
function M.sleep(s)
  s = s or 0
  -- 0 is checked first: it is a number, so the common yield skips the type check.
  if s ~= 0 and (type(s) ~= "number" or s ~= s or s < 0) then
    error("seer.sleep: seconds must be a non-negative number", 2)
  end
  local t = current
  if t and coroutine_running() == t.co then
    if t.cancel_requested then error(CANCEL, 0) end
    if s == 0 then
      -- Fast path: straight back onto the ready queue without a timer (push_ready, inlined).
      if t.cancel_op then t.cancel_op = false end
      if not t.queued then
        t.queued = true
        queue_n = queue_n + 1
        queue[queue_n] = t
      end
    else
      -- The timer wakes the task directly: no closures, so a parked task stays small.
      wait_counter = wait_counter + 1
      t.wait_id = wait_counter
      t.cancel_op = add_timer(s, t, wait_counter)
    end
    -- A wake-up passes nothing, or CANCEL from Task:cancel.
    if coroutine_yield() == CANCEL then error(CANCEL, 0) end
    return
  end
  return M.await(function(done)
    local entry = add_timer(s, done)
    return function() cancel_timer(entry) end
  end)
end

--- Call fn() after s seconds on the loop (not in a task). Returns a function that cancels it.
function M.call_later(s, fn)
  local entry = add_timer(s, fn)
  return function() cancel_timer(entry) end
end

local function task_error(t)
  if t.status == "cancelled" then return "cancelled" end
  local err = t.err
  if type(err) == "string" then return t.traceback or err end
  return err
end

--- Wait for the task to finish and return its results; re-raises its error with its traceback.
---@param timeout number|nil seconds; on expiry raises "timeout" and leaves the task running
function Task:wait(timeout)
  if self == current and coroutine_running() == self.co then error("seer: a task cannot wait on itself", 2) end
  if not (self.status == "done" or self.status == "failed" or self.status == "cancelled") then
    local finished = M.await(function(done)
      local waiters = self.waiters or {}
      self.waiters = waiters
      local stop_timer
      local function on_done()
        if stop_timer then stop_timer() end -- a finished wait must not leave its deadline pending
        done(true)
      end
      local function forget()
        if stop_timer then stop_timer() end
        for i = #waiters, 1, -1 do if waiters[i] == on_done then table.remove(waiters, i) end end
      end
      waiters[#waiters + 1] = on_done
      if timeout then stop_timer = M.call_later(timeout, function() forget() done(false) end) end
      return forget
    end)
    if not finished then error(("seer: timed out after %g s waiting for task '%s'"):format(timeout, self.name), 2) end
  end
  if self.status == "done" then
    local results = self.results
    if results == NO_RESULTS then return end
    return unpack(results, 1, results.n)
  end
  self.quiet = true
  error(task_error(self), 0)
end

--- Request cancellation: a waiting task is woken with a "cancelled" error at its wait point.
function Task:cancel()
  if self.status == "done" or self.status == "failed" or self.status == "cancelled" then return false end
  self.cancel_requested = true
  if self.status == "ready" then
    -- It never ran: finish it now rather than starting it just to raise.
    finish(self, false, CANCEL)
  elseif self.status == "waiting" then
    local cancel_op = self.cancel_op
    self.cancel_op = false
    if type(cancel_op) == "table" then cancel_timer(cancel_op) elseif cancel_op then cancel_op() end
    self.wait_id = false
    self.wake_args = pack(CANCEL)
    push_ready(self)
  end
  return true
end

function Task:done() return self.status == "done" or self.status == "failed" or self.status == "cancelled" end

function Task:__tostring() return ("seer.Task<%s, %s>"):format(self.name, self.status) end

--- Run fn(...) as a task and drive the loop until it finishes; returns its results.
function M.run(fn, ...)
  return M.spawn(fn, ...):wait()
end

--- Run each function (or wait each task) concurrently; returns a list of their first results.
--- The first failure cancels the others and is re-raised.
function M.gather(...)
  local n = select("#", ...)
  local items = { ... }
  if n == 1 and type(items[1]) == "table" and getmetatable(items[1]) ~= Task then
    items = items[1]
    n = #items
  end
  local tasks = {}
  for i = 1, n do
    local it = items[i]
    if type(it) == "function" then
      tasks[i] = M.spawn(it)
    elseif getmetatable(it) == Task then
      tasks[i] = it
    else
      error(("seer.gather: argument %d must be a function or a task, got %s"):format(i, type(it)), 2)
    end
    tasks[i].name = "gather#" .. i
  end
  local failed = M.await(function(done)
    local left = n
    if left == 0 then done(nil) return end
    for i = 1, n do
      local t = tasks[i]
      local function on_done(task)
        if task.status ~= "done" then done(task) return end
        left = left - 1
        if left == 0 then done(nil) end
      end
      if t:done() then on_done(t) else
        t.waiters = t.waiters or {}
        t.waiters[#t.waiters + 1] = on_done
      end
    end
    return function() for i = 1, n do tasks[i]:cancel() end end
  end)
  if failed then
    for i = 1, n do tasks[i]:cancel() end
    failed.quiet = true
    error(task_error(failed), 0)
  end
  local results = {}
  for i = 1, n do results[i] = tasks[i].results[1] end
  return results
end

--- Run fn(...) with a deadline: raises "seer.timeout: timed out after S s" and cancels fn's task.
function M.timeout(s, fn, ...)
  local t = M.spawn(fn, ...)
  t.name = "timeout"
  local ok, err = pcall(t.wait, t, s)
  if ok then return t:wait() end
  if t:done() then return t:wait() end
  t:cancel()
  if type(err) == "string" and err:find("timed out after", 1, true) then
    error(("seer.timeout: timed out after %g s"):format(s), 2)
  end
  error(err, 0)
end

--- Run the loop until no task is ready or waiting, no timer is pending and no I/O is alive.
function M.drain()
  drive(function()
    return queue_n == 0 and timers_live == 0 and not core.alive()
  end)
end

--- A FIFO channel between tasks: `put` never blocks, `get` waits for a value (nil once closed).
---@class seer.Channel
local Channel = {}
Channel.__index = Channel

function M.channel()
  return setmetatable({ items = {}, head = 1, tail = 0, getters = {}, closed = false }, Channel)
end

function Channel:put(v)
  if self.closed then error("seer.channel: put on a closed channel", 2) end
  local g = table.remove(self.getters, 1)
  if g then g(true, v) return end
  self.tail = self.tail + 1
  self.items[self.tail] = v
end

function Channel:close()
  self.closed = true
  local getters = self.getters
  self.getters = {}
  for i = 1, #getters do getters[i](false) end
end

function Channel:get()
  if self.head <= self.tail then
    local v = self.items[self.head]
    self.items[self.head] = nil
    self.head = self.head + 1
    return v
  end
  if self.closed then return nil end
  local ok, v = M.await(function(done)
    local getters = self.getters
    getters[#getters + 1] = done
    return function()
      for i = #getters, 1, -1 do if getters[i] == done then table.remove(getters, i) end end
    end
  end)
  if ok then return v end
  return nil
end

function Channel:__len() return self.tail - self.head + 1 end

return M
