-- Scheduler: spawn, wait, gather, sleep, timeout, cancel, channels, error propagation.
local seer = require "seer"
local task = require "seer.task"
local now = require("seer.core").now

describe("seer tasks", function()
  it("spawn returns a task whose wait gives its results", function()
    local t = seer.spawn(function(a, b) return a + b, "x" end, 2, 3)
    local sum, x = t:wait()
    assert.are.equal(5, sum)
    assert.are.equal("x", x)
    assert.are.equal("done", t.status)
  end)

  it("gather runs concurrently and keeps order", function()
    local finished = {}
    local t0 = now()
    local r = seer.gather(
      function() seer.sleep(0.1) finished[#finished + 1] = "slow" return "slow" end,
      function() seer.sleep(0.05) finished[#finished + 1] = "fast" return "fast" end)
    assert.are.same({ "slow", "fast" }, r)          -- results in argument order
    assert.are.same({ "fast", "slow" }, finished)   -- but the sleeps overlapped
    assert.is_true(now() - t0 >= 0.099)
  end)

  it("gather accepts a list and tasks", function()
    local t = seer.spawn(function() return 7 end)
    assert.are.same({ 1, 7 }, seer.gather({ function() return 1 end, t }))
    assert.are.same({}, seer.gather())
  end)

  it("an error in a task reaches the waiter with a traceback", function()
    local t = seer.spawn(function()
      local function inner() error("boom in inner") end
      inner()
    end)
    local ok, err = pcall(t.wait, t)
    assert.is_false(ok)
    assert.matches("boom in inner", err)
    assert.matches("stack traceback", err)
    assert.matches("inner", err)
    assert.are.equal("failed", t.status)
  end)

  it("gather re-raises the first failure and cancels the rest", function()
    local other
    local ok, err = pcall(seer.gather,
      function() seer.sleep(0.01) error("first failure") end,
      function()
        other = task.current()
        seer.sleep(5)
        return "never"
      end)
    assert.is_false(ok)
    assert.matches("first failure", err)
    seer.sleep(0)
    assert.are.equal("cancelled", other.status)
  end)

  it("timeout raises and cancels the work", function()
    local inner
    local t0 = now()
    local ok, err = pcall(seer.timeout, 0.05, function()
      inner = task.current()
      seer.sleep(10)
    end)
    assert.is_false(ok)
    assert.matches("timed out after 0.05 s", err)
    assert.is_true(now() - t0 < 1)
    seer.sleep(0)
    assert.are.equal("cancelled", inner.status)
    assert.are.equal(42, seer.timeout(1, function() return 42 end))
  end)

  it("cancel wakes a sleeping task with a cancelled error it can clean up after", function()
    local cleaned = false
    local t = seer.spawn(function()
      local ok, err = pcall(seer.sleep, 10)
      cleaned = not ok and tostring(err) == "cancelled"
      error(err, 0)
    end)
    seer.sleep(0.01)
    assert.is_true(t:cancel())
    local ok, err = pcall(t.wait, t)
    assert.is_false(ok)
    assert.are.equal("cancelled", err)
    assert.is_true(cleaned)
    assert.is_false(t:cancel())
  end)

  it("cancelling a task that never ran finishes it at once", function()
    local ran = false
    local t = seer.spawn(function() ran = true end)
    t:cancel()
    assert.are.equal("cancelled", t.status)
    seer.sleep(0)
    assert.is_false(ran)
  end)

  it("wait with a timeout leaves the task running", function()
    local t = seer.spawn(function() seer.sleep(0.1) return "late" end)
    local ok, err = pcall(t.wait, t, 0.01)
    assert.is_false(ok)
    assert.matches("timed out", err)
    assert.are.equal("late", t:wait())
  end)

  it("blocking calls outside any task drive the loop", function()
    assert.is_nil(task.current())
    local t0 = now()
    seer.sleep(0.02)
    assert.is_true(now() - t0 >= 0.019)
  end)

  it("run returns the results of the function", function()
    assert.are.equal(9, seer.run(function(x) seer.sleep(0) return x * x end, 3))
  end)

  it("sleep(0) interleaves tasks fairly", function()
    local log = {}
    seer.gather(
      function() for i = 1, 3 do log[#log + 1] = "a" .. i seer.sleep(0) end end,
      function() for i = 1, 3 do log[#log + 1] = "b" .. i seer.sleep(0) end end)
    assert.are.same({ "a1", "b1", "a2", "b2", "a3", "b3" }, log)
  end)

  it("a bare coroutine.yield in a task fails it with a clear error", function()
    local t = seer.spawn(function() coroutine.yield() end)
    local ok, err = pcall(t.wait, t)
    assert.is_false(ok)
    assert.matches("coroutine.yield outside seer", err)
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() seer.spawn(42) end, "seer.spawn: expected a function, got number")
    assert.has_error(function() seer.sleep(-1) end)
    assert.has_error(function() seer.gather(1) end)
  end)

  it("channels pass values between tasks in order", function()
    local ch = seer.channel()
    local producer = seer.spawn(function()
      for i = 1, 5 do ch:put(i) if i % 2 == 0 then seer.sleep(0.001) end end
      ch:close()
    end)
    local got = {}
    while true do
      local v = ch:get()
      if v == nil then break end
      got[#got + 1] = v
    end
    producer:wait()
    assert.are.same({ 1, 2, 3, 4, 5 }, got)
  end)

  it("park suspends a task until unpark, which runs it at once from outside any task", function()
    local log = {}
    local t = task.spawn(function()
      while true do
        local a, b = task.park()
        if a == nil then return "stopped" end
        log[#log + 1] = a .. b
      end
    end)
    task.run(function() task.sleep(0) end) -- it runs up to its first park
    assert.are.equal("waiting", t.status)
    assert.is_true(task.unpark(t, "x", 1))
    assert.are.same({ "x1" }, log) -- ran before unpark returned
    -- From a task, the parked task runs at the next scheduler round instead.
    task.run(function()
      assert.is_true(task.unpark(t, "y", 2))
      assert.are.same({ "x1" }, log)
      assert.is_false(task.unpark(t, "z", 3)) -- no longer parked: woken already
      task.sleep(0)
      assert.are.same({ "x1", "y2" }, log)
    end)
    assert.is_true(task.unpark(t))
    assert.are.equal("done", t.status)
    assert.are.equal("stopped", t:wait())
    assert.is_false(task.unpark(t, "late", 0))
  end)

  it("unpark refuses a task that waits on something else, and a cancelled parked task", function()
    local sleeper = task.spawn(function() task.sleep(3600) end)
    local parked = task.spawn(function() task.park() end)
    task.run(function() task.sleep(0) end)
    assert.is_false(task.unpark(sleeper, "wrong"))
    assert.is_true(parked:cancel())
    assert.is_false(task.unpark(parked, "late"))
    task.run(function() task.sleep(0) end)
    assert.are.equal("cancelled", parked.status)
    sleeper:cancel()
    assert.has_error(function() task.park() end, "seer.task.park: not called from a task")
  end)

  it("runs 10000 tasks", function()
    local n = 0
    local tasks = {}
    for i = 1, 10000 do tasks[i] = seer.spawn(function() seer.sleep(0) n = n + 1 end) end
    for i = 1, #tasks do tasks[i]:wait() end
    assert.are.equal(10000, n)
  end)
end)
