-- bench/download: seer.hub's throughput on one large LFS file against the `curl` CLI fetching the
-- same file from the same local hub server (tests/peers/hub_server.py) in the same run.
--   seer-lua bench/download.lua [MB] [ROUNDS]     (default 1000 MB, 3 rounds; target >= 90% of curl)
-- The file is generated here (random bytes), served as an LFS file (resolve -> 302 -> storage
-- server with sendfile). seer.hub's time includes the model info call, the HEAD, the sha256 check
-- and placing the blob; curl's is `curl -sfL -o FILE URL` on the resolve URL (no hashing).
local seer = require "seer"
local core = require "seer.core"
local fs = require "seer.fs"
local json = require "seer.json"
local path = require "seer.path"
local hub = require "seer.hub"

local MB = tonumber(arg and arg[1]) or 1000
local ROUNDS = tonumber(arg and arg[2]) or 3
local SRC = os.getenv("SEER_SOURCE_DIR") or "."
local PY = os.getenv("SEER_VENV") and (os.getenv("SEER_VENV") .. "/bin/python")
  or (os.getenv("SEER_TEST_CACHE") and (os.getenv("SEER_TEST_CACHE") .. "/venv/bin/python")) or "python3"

local function run(cmd, args)
  local r = seer.process.run({ cmd = cmd, args = args })
  if not r.ok then error(("%s failed: %s"):format(cmd, r.stderr)) end
  return r.stdout
end

local work = assert(fs.tmpdir("seer-bench-download"))
local repo = path.join(work, "repo")
assert(fs.mkdir(repo))
io.write(("generating %d MB of random bytes...\n"):format(MB))
run("sh", { "-c", ('head -c %d /dev/urandom > "%s/big.safetensors"'):format(MB * 1000 * 1000, repo) })
assert(fs.write(path.join(repo, "config.json"), "{}"))

local server = seer.process.spawn({ cmd = PY, stream = true, stdin = true,
                                    args = { SRC .. "/tests/peers/hub_server.py", "--repo", "bench/big=" .. repo } })
local first = server:lines()()
if not first then error("hub_server.py did not start: " .. tostring(server:wait().stderr)) end
local url = "http://127.0.0.1:" .. json.decode(first).port

local function seer_once()
  local cache = path.join(work, "cache")
  fs.remove(cache)
  local t0 = core.now()
  hub.download("bench/big", { cache_dir = cache, endpoint = url, quiet = true, token = false,
                              allow_patterns = { "big.safetensors" } })
  local dt = core.now() - t0
  fs.remove(cache)
  return dt
end

local commit = json.decode(run("curl", { "-sf", url .. "/api/models/bench/big" })).sha
local function curl_once()
  local out = path.join(work, "curl.out")
  os.remove(out)
  local t0 = core.now()
  run("curl", { "-sfL", "-o", out, ("%s/bench/big/resolve/%s/big.safetensors"):format(url, commit) })
  local dt = core.now() - t0
  assert(fs.size(out) == MB * 1000 * 1000, "curl fetched a different size")
  os.remove(out)
  return dt
end

seer_once() -- warm-up: the server hashes the file on first use, and the page cache fills
local best_seer, best_curl = math.huge, math.huge
for round = 1, ROUNDS do
  local c, s = curl_once(), seer_once()
  best_seer, best_curl = math.min(best_seer, s), math.min(best_curl, c)
  io.write(("round %d: curl %.0f MB/s, seer.hub %.0f MB/s\n"):format(round, MB / c, MB / s))
end
server:kill("KILL")
server:wait()
fs.remove(work)
local cpu = (fs.read("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "unknown CPU"
io.write(("%s, %d MB, best of %d: curl %.0f MB/s, seer.hub %.0f MB/s (sha256 included): %.0f%% of curl "
  .. "(target >= 90%%)\n"):format(cpu, MB, ROUNDS, MB / best_curl, MB / best_seer, 100 * best_curl / best_seer))
