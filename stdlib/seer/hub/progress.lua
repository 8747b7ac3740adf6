--- seer.hub.progress: how a download shows itself on stderr: one redrawn bar (bytes, rate, ETA)
--- when stderr is a terminal, otherwise one quiet line per file and a summary.
local C = require "seer._hub"
local core = require "seer.core"

local M = {}

--- Bytes as "1.23 GB" (powers of 1000, as the hub shows sizes).
function M.human(bytes)
  local units = { "B", "kB", "MB", "GB", "TB" }
  local i = 1
  while bytes >= 1000 and i < #units do
    bytes = bytes / 1000
    i = i + 1
  end
  return i == 1 and ("%d B"):format(bytes) or ("%.2f %s"):format(bytes, units[i])
end

local function clock(s)
  if s ~= s or s == math.huge or s < 0 then return "--:--" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return ("%d:%02d:%02d"):format(math.floor(s / 3600), math.floor(s % 3600 / 60), s % 60) end
  return ("%d:%02d"):format(math.floor(s / 60), s % 60)
end

local Progress = {}
Progress.__index = Progress

--- A progress display for downloading `label`. opts.quiet: show nothing; opts.out: a writer
--- (default io.stderr).
function M.new(label, opts)
  opts = opts or {}
  local out = opts.out or io.stderr
  return setmetatable({
    label = label, out = out, quiet = opts.quiet == true,
    tty = opts.tty == nil and C.isatty(2) or opts.tty, start = core.now(), last = 0, drawn = false,
  }, Progress)
end

--- Called often while bytes arrive: redraws the bar at most ten times a second.
function Progress:update(bytes, total, files_done, files)
  if self.quiet or not self.tty then return end
  local now = core.now()
  if now - self.last < 0.1 then return end
  self.last = now
  local elapsed = math.max(now - self.start, 1e-3)
  local rate = bytes / elapsed
  local line
  if total and total > 0 then
    local frac = math.min(bytes / total, 1)
    local width = 24
    local fill = math.floor(frac * width + 0.5)
    line = ("%s [%s%s] %3d%% %s/%s %s/s ETA %s (%d/%d files)"):format(self.label, ("#"):rep(fill),
      ("."):rep(width - fill), math.floor(frac * 100), M.human(bytes), M.human(total), M.human(rate),
      clock(rate > 0 and (total - bytes) / rate or math.huge), files_done, files)
  else
    line = ("%s %s %s/s (%d/%d files)"):format(self.label, M.human(bytes), M.human(rate), files_done, files)
  end
  self.out:write("\r", line, "\27[K")
  self.out:flush()
  self.drawn = true
end

--- A file arrived (non-terminal output: one line).
function Progress:file_done(name, size)
  if self.quiet or self.tty then return end
  self.out:write(("hub: %s: %s (%s)\n"):format(self.label, name, M.human(size)))
end

--- A line of news (waiting on a lock, a retry), on its own line either way.
function Progress:note(text)
  if self.quiet then return end
  if self.drawn then self.out:write("\r\27[K") end
  self.out:write(("hub: %s: %s\n"):format(self.label, text))
  self.drawn = false
end

--- The end: the summary line.
function Progress:finish(files, bytes)
  if self.quiet then return end
  if self.drawn then self.out:write("\r\27[K") end
  local elapsed = core.now() - self.start
  self.out:write(("hub: %s: %d file%s, %s in %.1f s\n"):format(self.label, files, files == 1 and "" or "s",
    M.human(bytes), elapsed))
  self.out:flush()
end

return M
