--- seer.log: leveled logging to stderr. The level comes from SEER_LOG_LEVEL (trace, debug, info,
--- warn, error, off; default warn) and can be changed with `set_level`.
local core = require "seer.core"

local M = {}

-- The level lives in the C runtime (runtime/core/log.c), read once from SEER_LOG_LEVEL: one level
-- for Lua and C messages alike, and one line format.
local LEVELS = { trace = 1, debug = 2, info = 3, warn = 4, warning = 4, error = 5, off = 6 }
local NAMES = { "trace", "debug", "info", "warn", "error", "off" }

local function current() return LEVELS[core.log_level()] end

--- Set the minimum level that is printed, for Lua and for the C runtime.
---@param name string trace, debug, info, warn, error or off
function M.set_level(name)
  if type(name) ~= "string" or not LEVELS[name:lower()] then
    error(("seer.log.set_level: unknown level '%s' (use trace, debug, info, warn, error or off)")
      :format(tostring(name)), 2)
  end
  core.set_log_level(name:lower())
end

--- The minimum level that is printed.
---@return string
function M.level() return core.log_level() end

--- True when messages at `name` would be printed.
---@param name string
---@return boolean
function M.enabled(name) return (LEVELS[tostring(name):lower()] or 6) >= current() end

local function emit(lvl, component, fmt, ...)
  if lvl < current() then return end
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt)
  core.log(NAMES[lvl], component, msg)
end

--- Each logger takes (component, fmt, ...), e.g. `log.info("rpc", "listening on %s", addr)`.
function M.trace(component, fmt, ...) emit(1, component, fmt, ...) end
function M.debug(component, fmt, ...) emit(2, component, fmt, ...) end
function M.info(component, fmt, ...) emit(3, component, fmt, ...) end
function M.warn(component, fmt, ...) emit(4, component, fmt, ...) end
function M.error(component, fmt, ...) emit(5, component, fmt, ...) end

return M
