-- Starts tests/peers/hub_server.py (the hub-like server) with the venv's Python, and talks to its
-- control endpoints: faults, stats, reset.
local seer = require "seer"
local json = require "seer.json"

local M = {}

M.SRC = os.getenv("SEER_SOURCE_DIR") or "."
M.PY = (os.getenv("SEER_VENV") or (M.SRC .. "/build/test-cache/venv")) .. "/bin/python"

--- repos: { ["org/name"] = dir }; opts.token + opts.gated = { ids } make gated repos.
function M.start(repos, opts)
  opts = opts or {}
  local args = { M.SRC .. "/tests/peers/hub_server.py" }
  for id, dir in pairs(repos) do
    args[#args + 1] = "--repo"
    args[#args + 1] = id .. "=" .. dir
  end
  if opts.token then
    args[#args + 1] = "--token"
    args[#args + 1] = opts.token
  end
  for _, id in ipairs(opts.gated or {}) do
    args[#args + 1] = "--gated"
    args[#args + 1] = id
  end
  local proc = seer.process.spawn({ cmd = M.PY, args = args, stream = true, stdin = true })
  local first = proc:lines()()
  if not first then
    local r = proc:wait()
    error("hub_server.py did not start: " .. tostring(r.stderr))
  end
  local info = json.decode(first)
  local peer = { port = info.port, url = "http://127.0.0.1:" .. info.port, proc = proc }
  function peer.stop()
    if peer.stopped then return end
    peer.stopped = true
    proc:kill("KILL")
    proc:wait()
  end
  function peer.faults(list)
    local r = seer.http.request({ url = peer.url .. "/_faults", method = "POST", body = json.encode(list) })
    assert(r and r.status == 200)
  end
  function peer.stats() return json.decode(seer.http.request({ url = peer.url .. "/_stats" }).body) end
  function peer.reset() seer.http.request({ url = peer.url .. "/_reset", method = "POST", body = "" }) end
  --- Requests whose "METHOD path" contains `needle`, summed.
  function peer.count(needle)
    local n = 0
    for k, v in pairs(peer.stats().requests) do
      if k:find(needle, 1, true) then n = n + v end
    end
    return n
  end
  return peer
end

return M
