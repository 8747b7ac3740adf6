--- seer: the top-level module. Task functions are re-exported from seer.task; submodules
--- (seer.json, seer.fs, seer.process, ...) load on first access, e.g. `seer.json.encode(t)`.
local core = require "seer.core"
local task = require "seer.task"

local M = {
  version = core.version,
  lua_flavour = core.lua_flavour,
  lua_version = core.lua_version,
  spawn = task.spawn,
  gather = task.gather,
  sleep = task.sleep,
  run = task.run,
  timeout = task.timeout,
  channel = task.channel,
  current_task = task.current,
  --- Seconds since an arbitrary start, from the monotonic clock (for measuring durations).
  now = core.now,
}

local submodules = {
  json = true, msgpack = true, fs = true, path = true, log = true, process = true, task = true,
  pretty = true, model = true, tensor = true, tokenizer = true, rpc = true, mcp = true,
  http = true, environment = true, workspace = true, execution = true, harness = true, hub = true,
  plot = true, signal = true,
}

return setmetatable(M, {
  __index = function(t, k)
    if submodules[k] then
      local mod = require("seer." .. k)
      rawset(t, k, mod)
      return mod
    end
    return nil
  end,
})
