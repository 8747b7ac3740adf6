--- seer.signal: run Lua when the process is told to stop. SIGTERM, SIGINT (Ctrl-C) and SIGHUP are
--- caught on the event loop, so the handler runs between tasks, where it may cancel work, save
--- state or exit; without a watcher the process dies as usual. The watch is part of the event loop
--- (libuv signal handles, lua/l_rpc.c).
local C = require "seer._rpc"

local M = {}

--- Call fn(signum) on SIGTERM (15), SIGINT (2) or SIGHUP (1) instead of dying, until the returned
--- watch is closed. Raises when the watch cannot be set up.
---@param fn fun(signum: integer)
---@return table watch with :close()
function M.on_stop(fn)
  if type(fn) ~= "function" then error("seer.signal.on_stop: pass a function(signum)", 2) end
  return C.on_stop_signal(fn)
end

return M
