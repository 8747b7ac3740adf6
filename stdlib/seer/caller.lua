--- seer.caller: errors that point at the user's line. An argument check deep in the stdlib (an
--- option checked by a helper of a helper) should name the line in main.lua that passed the bad
--- value, not the stdlib line that noticed it; counting `error` levels by hand breaks as soon as
--- another stdlib function (a wrapper, the interactive chat) sits in between.
local M = {}

-- Frames that belong to seer itself: the stdlib (embedded as "@stdlib/seer/...", or loaded from
-- a SEER_PATH tree) and C functions.
local function is_internal(info)
  return info.what == "C" or info.source:find("stdlib/seer/", 1, true) ~= nil
end

--- The `error` level of the first caller outside seer's stdlib, as seen from the function that
--- calls user_level (level 1 is that function itself).
---@return integer
function M.user_level()
  local level = 2 -- 1 is user_level itself
  while true do
    local info = debug.getinfo(level, "S")
    if not info then return 2 end
    if not is_internal(info) then return level - 1 end
    level = level + 1
  end
end

--- Raise msg at the first caller outside seer's stdlib (`error(msg, level)` with the right level).
---@param msg string
function M.raise(msg)
  error(msg, M.user_level())
end

return M
