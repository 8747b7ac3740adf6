--- seer.log: leveled logging to stderr. The level comes from SEER_LOG_LEVEL (trace, debug, info,
--- warn, error, off; default warn) and can be changed with `set_level`.
local M = {}

local LEVELS = { trace = 1, debug = 2, info = 3, warn = 4, warning = 4, error = 5, off = 6 }
local NAMES = { "trace", "debug", "info", "warn", "error", "off" }

local function parse(name)
  return LEVELS[string.lower(tostring(name or ""))]
end

local level = parse(os.getenv("SEER_LOG_LEVEL")) or LEVELS.warn

--- Set the minimum level that is printed.
---@param name string
function M.set_level(name)
  local l = parse(name)
  if not l then
    error(("seer.log.set_level: unknown level '%s' (use trace, debug, info, warn, error or off)")
      :format(tostring(name)), 2)
  end
  level = l
end

---@return string
function M.level() return NAMES[level] end

--- True when messages at `name` would be printed.
function M.enabled(name) return (parse(name) or 6) >= level end

local function emit(lvl, component, fmt, ...)
  if lvl < level then return end
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt)
  io.stderr:write(("[seer %s %s] %s\n"):format(NAMES[lvl], component, msg))
  io.stderr:flush()
end

--- Each logger takes (component, fmt, ...), e.g. `log.info("rpc", "listening on %s", addr)`.
function M.trace(component, fmt, ...) emit(1, component, fmt, ...) end
function M.debug(component, fmt, ...) emit(2, component, fmt, ...) end
function M.info(component, fmt, ...) emit(3, component, fmt, ...) end
function M.warn(component, fmt, ...) emit(4, component, fmt, ...) end
function M.error(component, fmt, ...) emit(5, component, fmt, ...) end

return M
