-- seer.log and the C runtime share one level and one line format: SEER_LOG_LEVEL sets it for both,
-- set_level in Lua changes what C prints too. Runs children, so the environment is theirs.
local process = require "seer.process"

local LUA = os.getenv("SEER_LUA_BIN") or arg[-1] or "seer-lua"

local function run(code, level)
  local env = { PATH = os.getenv("PATH"), SEER_LOG_LEVEL = level }
  local r = process.run({ cmd = LUA, args = { "-e", code }, env = env, timeout = 30 })
  assert.are.equal(0, r.code, r.stderr)
  return r.stdout, r.stderr
end

describe("seer.log", function()
  it("reads SEER_LOG_LEVEL once, for Lua and C alike", function()
    local out, err = run([[
      local log, core = require "seer.log", require "seer.core"
      io.write(log.level(), " ", core.log_level(), " ", tostring(log.enabled("debug")))
      log.info("spec", "lua %d", 1)
      core.log("info", "spec", "c 1")
      log.debug("spec", "hidden")]], "info")
    assert.are.equal("info info false", out)
    assert.are.equal("[seer info spec] lua 1\n[seer info spec] c 1\n", err)
  end)

  it("set_level in Lua reaches the C logger", function()
    local out, err = run([[
      local log, core = require "seer.log", require "seer.core"
      log.set_level("error")
      io.write(core.log_level())
      core.log("warn", "spec", "c warn, hidden")
      log.warn("spec", "lua warn, hidden")
      core.log("error", "spec", "c error")
      core.set_log_level("debug")
      log.debug("spec", "lua debug after C set it")]], "warn")
    assert.are.equal("error", out)
    assert.are.equal("[seer error spec] c error\n[seer debug spec] lua debug after C set it\n", err)
  end)

  it("refuses unknown levels", function()
    local log = require "seer.log"
    assert.has_error(function() log.set_level("loud") end,
      "seer.log.set_level: unknown level 'loud' (use trace, debug, info, warn, error or off)")
  end)
end)
