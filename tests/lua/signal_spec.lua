-- seer.signal: a stop signal runs the watcher on the loop instead of killing the process, and a
-- closed watch lets the signal act as usual again; seer.now is the monotonic clock.
local seer = require "seer"
local process = require "seer.process"

local LUA = os.getenv("SEER_LUA_BIN") or arg[-1] or "seer-lua"

-- Runs `code` in a child seer-lua, sends it `sig` once it printed "ready", returns the result.
local function signal_child(code, sig)
  local got = ""
  local p = assert(process.spawn({ cmd = LUA, args = { "-e", code }, stream = true,
    on_stdout = function(chunk) got = got .. chunk end }))
  seer.timeout(30, function()
    while not got:find("ready", 1, true) do seer.sleep(0.01) end
  end)
  p:kill(sig)
  local r = p:wait()
  return r, got
end

describe("seer.signal", function()
  it("runs the watcher on SIGINT and SIGTERM instead of dying", function()
    for _, sig in ipairs({ { "INT", 2 }, { "TERM", 15 } }) do
      local r, out = signal_child([[
        local seer = require "seer"
        local got
        local watch = seer.signal.on_stop(function(s) got = s end)
        print("ready") io.stdout:flush()
        seer.timeout(30, function() while not got do seer.sleep(0.01) end end)
        watch:close()
        print("caught " .. got)]], sig[1])
      assert.are.equal(0, r.code, out)
      assert.matches("caught " .. sig[2], out)
    end
  end)

  it("lets the signal kill the process once the watch is closed", function()
    local r = signal_child([[
      local seer = require "seer"
      seer.signal.on_stop(function() end):close()
      print("ready") io.stdout:flush()
      seer.sleep(30)]], "INT")
    assert.are.equal(2, r.signal)
  end)

  it("checks its argument, and seer.now is monotonic seconds", function()
    assert.has_error(function() seer.signal.on_stop(42) end, "seer.signal.on_stop: pass a function(signum)")
    local a = seer.now()
    seer.sleep(0.01)
    assert.is_true(seer.now() > a)
  end)
end)
