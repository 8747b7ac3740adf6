-- bench/agent.lua: the agent harness against a local Anthropic peer (tests/peers/anthropic.js, zero
-- latency), in one run:
--   1. overhead per turn: single-turn agents (run_agent ... wait) against plain libcurl POSTing the
--      same request body (bench_agent_raw), both sequential; target <= 10% over the raw request;
--   2. 1000 concurrent agents (3 turns each, 2 tool calls) through seer.gather: wall time, and
--      resident memory per agent (peak RSS over the idle baseline, / 1000); target <= 200 KiB.
--   seer-lua bench/agent.lua [TURNS] [AGENTS]    (run from the repository root; needs node)
local seer = require "seer"
local harness = require "seer.harness"
local json = require "seer.json"
local fs = require "seer.fs"
local now = require("seer.core").now

local TURNS = tonumber(arg and arg[1]) or 1000
local AGENTS = tonumber(arg and arg[2]) or 1000
local src = os.getenv("SEER_SOURCE_DIR") or "."
local raw_bin = os.getenv("SEER_BENCH_RAW") or "build/bench/bench_agent_raw"

local function status_kib(field)
  for line in io.lines("/proc/self/status") do
    local v = line:match("^" .. field .. ":%s+(%d+)")
    if v then return tonumber(v) end
  end
end

local proc = seer.process.spawn({ cmd = "node", args = { src .. "/tests/peers/anthropic.js", "--lifeline" },
                                  stream = true, stdin = true })
local port = json.decode(proc:lines()()).port
local url = "http://127.0.0.1:" .. port

local tools = {
  { name = "add", description = "Add two numbers",
    input_schema = { type = "object", properties = { a = { type = "number" }, b = { type = "number" } },
                     required = { "a", "b" } },
    fn = function(input) return tostring(math.floor(input.a + input.b)) end },
}
local function opts(msg)
  return { provider = "claude", base_url = url, api_key = "test-key", model = "bench", prompt = "You are a bench.",
           user_message = msg, tools = tools, max_tokens = 1024 }
end

-- 1. Per-turn overhead.
local claude = require "seer.harness.claude"
local o = opts("scenario:hello")
o.tools = { { name = "add", description = "Add two numbers", input_schema = tools[1].input_schema } }
local req = claude.request(claude.new_conversation(o), { model = "bench", max_tokens = 1024, base_url = url,
                                                         api_key = "test-key" })
local body_file = os.tmpname()
assert(fs.write(body_file, req.body))

local function harness_turns(n)
  -- Experiments run agents from tasks (seer.gather); so does this loop.
  seer.run(function()
    for _ = 1, n do
      local r = harness.run_agent(opts("scenario:hello")):wait()
      assert(r.stop_reason == "end_turn", r.stop_reason)
    end
  end)
end
local function raw_turns(n)
  local args = { req.url, body_file, tostring(n) }
  for _, h in ipairs(req.headers) do args[#args + 1] = h end
  local r = seer.process.run({ cmd = raw_bin, args = args })
  assert(r.ok, "bench_agent_raw failed: " .. r.stderr)
  return tonumber(r.stdout)
end
harness_turns(100) -- warm up the connection and the code paths
-- Interleaved rounds, best of each: the machine is shared, so the minimum is the stable figure.
local ROUNDS = 8
local per_round = math.max(1, math.floor(TURNS / ROUNDS))
local best_raw, best_h = math.huge, math.huge
for _ = 1, ROUNDS do
  best_raw = math.min(best_raw, raw_turns(per_round))
  collectgarbage("collect")
  local t0 = now()
  harness_turns(per_round)
  best_h = math.min(best_h, (now() - t0) / per_round)
end
os.remove(body_file)
print(("per turn (best of %d rounds of %d): harness %.1f us, raw libcurl %.1f us, overhead %.1f%% (target <= 10%%)")
  :format(ROUNDS, per_round, best_h * 1e6, best_raw * 1e6, (best_h / best_raw - 1) * 100))

-- 2. Many concurrent agents.
collectgarbage("collect")
collectgarbage("collect")
local base_rss = status_kib("VmRSS")
local fns = {}
for i = 1, AGENTS do
  fns[i] = function()
    local r = harness.run_agent(opts("scenario:multi_turn #" .. i)):wait()
    assert(r.text == "The answer is 15.", tostring(r.text))
    return r.turns
  end
end
local t0 = now()
local turns = seer.gather(fns)
local wall = now() - t0
local peak = status_kib("VmHWM")
for i = 1, AGENTS do assert(turns[i] == 3) end
print(("%d concurrent agents x 3 turns: %.2f s, %.0f turns/s; peak RSS %.1f MiB over a %.1f MiB baseline: "
  .. "%.1f KiB per agent (target <= 200 KiB)"):format(AGENTS, wall, AGENTS * 3 / wall, peak / 1024,
  base_rss / 1024, (peak - base_rss) / AGENTS))
proc:kill("KILL")
proc:wait()
