-- Quickstart: the event loop and JSON, the two things everything else in seer-lua stands on.
-- Run it with:  seer-lua examples/quickstart/main.lua
local seer = require "seer"

print(("seer-lua %s on %s"):format(seer.version, seer.lua_version))

-- Three "agents" working concurrently on one loop; each sleeps as if waiting for a model reply.
local function agent(name, delay)
  seer.sleep(delay)
  return { agent = name, waited = delay }
end

local started = seer.now()
local results = seer.gather(
  function() return agent("alpha", 0.20) end,
  function() return agent("beta", 0.10) end,
  function() return agent("gamma", 0.15) end)
local elapsed = seer.now() - started
print(("3 agents finished in %.2f s (they overlapped: the sum of their waits is 0.45 s)"):format(elapsed))

-- Results travel as JSON: integers stay integers, and empty arrays stay arrays.
local doc = seer.json.encode({ results = results, empty = seer.json.array() }, { indent = 2 })
print(doc)
assert(seer.json.decode(doc).results[2].agent == "beta")

-- Child processes run on the same loop.
local r = seer.process.run({ cmd = "uname", args = { "-s" } })
print("uname says: " .. r.stdout:gsub("%s+$", ""))

print("quickstart done")
