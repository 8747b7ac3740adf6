-- harness_peer.lua: starts a Node peer from tests/peers/ for a spec (the test setup owns it): spawns
-- `node tests/peers/<name>.js`, reads the port from its first stdout line, and stops it in teardown.
local seer = require "seer"
local json = require "seer.json"

local M = {}

--- Start peer `name` (e.g. "anthropic"); returns { url = "http://127.0.0.1:PORT", port, stop = fn,
--- stats = fn, reset = fn }.
function M.start(name, extra_args)
  local src = os.getenv("SEER_SOURCE_DIR") or "."
  local args = { src .. "/tests/peers/" .. name .. ".js", "--lifeline" }
  for _, a in ipairs(extra_args or {}) do args[#args + 1] = a end
  local proc = seer.process.spawn({ cmd = "node", args = args, stream = true, stdin = true })
  local lines = proc:lines()
  local first = lines()
  if not first then
    local r = proc:wait()
    error("peer " .. name .. " did not start: " .. tostring(r.stderr))
  end
  local info = json.decode(first)
  local peer = { port = info.port, url = "http://127.0.0.1:" .. info.port, proc = proc }
  function peer.stop()
    if peer.stopped then return end
    peer.stopped = true
    proc:kill("KILL")
    proc:wait()
  end
  function peer.stats()
    local r = seer.http.request({ url = peer.url .. "/_peer/stats" })
    return json.decode(r.body)
  end
  function peer.reset() seer.http.request({ url = peer.url .. "/_peer/reset", method = "POST", body = "" }) end
  return peer
end

return M
