--- seer.sandbox.state_dirs: the host directories of sandboxes and sessions ($TMPDIR/seer-sandbox-*,
--- $TMPDIR/seer-session-*). Each is locked (flock on the directory) by its owner for as long as it
--- lives, removed when its owner releases it or the runtime exits (the lock's finalizer, an atexit
--- hook), and, after a crash or kill -9, by the next create's sweep: a directory whose lock nobody
--- holds has a dead owner.
--- Removal goes through directory fds and never follows a symlink (seer._sandbox).
local native = require "seer._sandbox"
local log = require "seer.log"

local M = {}

--- The prefixes that sweeps look for.
M.PREFIXES = { "seer-sandbox", "seer-session" }

local held = {} -- dir -> lock, so that a lock lives exactly as long as its directory is in use

local function tmp_base()
  local base = os.getenv("TMPDIR")
  return base and base ~= "" and base or "/tmp"
end

--- Remove the state directories of dead owners; returns how many went.
function M.sweep()
  local removed, err = native.sweep(tmp_base(), M.PREFIXES)
  if not removed then log.warn("sandbox", "sweeping stale state directories: %s", err) end
  if removed and removed > 0 then log.debug("sandbox", "removed %d stale state directories", removed) end
  return removed or 0
end

--- A new locked state directory $TMPDIR/<prefix>-XXXXXX, after sweeping dead owners' ones.
function M.create(prefix)
  M.sweep()
  local dir, lock = native.create(tmp_base(), prefix)
  if not dir then error(lock, 2) end
  held[dir] = lock
  return dir
end

--- Remove a directory made by create (idempotent).
function M.release(dir)
  local lock = held[dir]
  if not lock then return true end
  held[dir] = nil
  return lock:release()
end

return M
