--- seer.hub.remote: talking to the hub: running a set of transfers (seer._hub) cooperatively with
--- the task scheduler, reading response heads, and turning what went wrong into an error that
--- says what to do (gated models, unknown ids, outages, full disks, bad bytes).
local C = require "seer._hub"
local task = require "seer.task"

local M = {}

--- A raw response head -> { [lowercase name] = value } (the last of repeated names wins).
function M.parse_headers(raw)
  local h = {}
  for line in (raw or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:%s]+):%s*(.-)%s*$")
    if k then h[k:lower()] = v end
  end
  return h
end

--- Runs jobs (see seer._hub.transfer) to the end and returns their results. Inside a task it
--- yields between steps so that other tasks keep running; on_tick(t) is called after each step.
function M.run(jobs, opts, on_tick)
  local t, err = C.transfer(jobs, opts)
  if not t then error("seer.hub: " .. err, 0) end
  local in_task = task.current() ~= nil
  local ok, res = pcall(function()
    repeat
      local done = t:step(in_task and 20 or 100)
      if on_tick then on_tick(t) end
      if not done and in_task then task.sleep(0) end
    until done
    return t:results()
  end)
  t:close() -- partial files stay for a later resume
  if not ok then error(res, 0) end
  return res
end

-- What a server wrote, made safe to quote in one line.
local function said(res, h)
  local msg = h["x-error-message"]
  if not msg and res.body and res.body ~= "" then
    msg = res.body:match('"error"%s*:%s*"(.-)"') or res.body
  end
  if not msg then return "" end
  msg = msg:gsub("[%c]", " "):gsub("%s+", " ")
  if #msg > 200 then msg = msg:sub(1, 200) .. "..." end
  return msg ~= "" and (" (the hub said: " .. msg .. ")") or ""
end

--- The error for a failed job. ctx: id, endpoint, what ("the file list", "file 'x'"), revision,
--- file, token_sent, dir (the blobs directory, for disk errors), timeout.
function M.describe(ctx, res)
  local what = ctx.what
  local tries = res.attempts and res.attempts > 1 and (" after %d attempts"):format(res.attempts) or ""
  if res.error == "network" then
    return ("cannot reach %s for %s of '%s'%s: %s; check the network and HF_ENDPOINT, or set "
      .. "HF_HUB_OFFLINE=1 to use only what is cached"):format(ctx.endpoint, what, ctx.id, tries, res.message)
  elseif res.error == "timeout" then
    return ("%s of '%s': the server sent nothing for %g s%s; try again later, or raise "
      .. "HF_HUB_DOWNLOAD_TIMEOUT"):format(what, ctx.id, ctx.timeout or 30, tries)
  elseif res.error == "sha" then
    return ("%s of '%s' is corrupt: %s; the download was deleted and nothing was added to the cache; "
      .. "pull again"):format(what, ctx.id, res.message)
  elseif res.error == "disk" then
    return ("disk full while writing %s of '%s' into %s: %s; free some space or set HF_HUB_CACHE to a "
      .. "larger disk (the partial file stays and resumes)"):format(what, ctx.id, ctx.dir or "the cache", res.message)
  elseif res.error then
    return ("%s of '%s' refused: %s"):format(what, ctx.id, res.message)
  end
  local h = M.parse_headers(res.headers)
  local code, status = h["x-error-code"], res.status
  local license = ("%s/%s"):format(ctx.endpoint, ctx.id)
  if code == "GatedRepo" or status == 403 then
    return ("'%s' is gated: access to %s was refused (HTTP %d)%s; accept the license at %s and set "
      .. "HF_TOKEN to a token of that account"):format(ctx.id, what, status, said(res, h), license)
  elseif status == 401 then
    return ("'%s': the hub refused %s (HTTP 401)%s; the model is gated or private, or the id is wrong. "
      .. "If it is gated, accept the license at %s and set HF_TOKEN%s"):format(ctx.id, what, said(res, h), license,
      ctx.token_sent and " (the token that was sent has no access)" or " (no token was sent)")
  elseif code == "RevisionNotFound" then
    return ("'%s' has no revision '%s' (HTTP %d); check the branch, tag or commit"):format(ctx.id,
      tostring(ctx.revision), status)
  elseif code == "EntryNotFound" or (status == 404 and ctx.file) then
    return ("'%s' has no file '%s' at revision '%s' (HTTP %d)"):format(ctx.id, tostring(ctx.file),
      tostring(ctx.revision), status)
  elseif status == 404 then
    return ("no model '%s' on %s (HTTP 404)%s; check the id"):format(ctx.id, ctx.endpoint, said(res, h))
  elseif status == 429 or status >= 500 then
    return ("the hub answered HTTP %d for %s of '%s'%s%s; try again later"):format(status, what, ctx.id, tries,
      said(res, h))
  end
  return ("unexpected HTTP %d for %s of '%s'%s"):format(status, what, ctx.id, said(res, h))
end

return M
