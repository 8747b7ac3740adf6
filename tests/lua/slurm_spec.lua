-- The "slurm" sandbox backend on a real one-node Slurm (tests/setup/slurm.sh, started by the
-- setup.slurm fixture; SLURM_CONF points at it). The scoped-sandbox spec also runs whole on this
-- backend (lua.scoped_slurm); this spec covers what only a cluster has: sbatch's refusals, jobs
-- ended from outside, time limits, many jobs at once, tokens, and a host that dies.
local env = require "seer.environment"
local seer = require "seer"
local fs = require "seer.fs"
local rpc = require "seer.rpc"
local slurm = require "seer.sandbox.slurm"
local config = require "seer.sandbox.config"
local now = require("seer.core").now

local fixtures = (os.getenv("SEER_SOURCE_DIR") or ".") .. "/tests/lua/fixtures/scoped"

local function slurm_sandbox(fields)
  fields = fields or {}
  fields.backend = "slurm"
  return env.ScopedSandbox(env.SandboxConfig(fields))
end

local function job_state(id)
  return (slurm.show(id))
end

describe("slurm backend", function()
  it("needs a cluster: SLURM_CONF names the test's one", function()
    assert.truthy(os.getenv("SLURM_CONF"), "run through ctest (fixture setup.slurm)")
    assert.matches("debug", assert(slurm.describe()))
    assert.matches("gpu:h100:1", assert(slurm.describe()))
  end)

  it("turns a sandbox config into sbatch options", function()
    local cfg = config.SandboxConfig({ backend = "slurm", gpu = "H100", gpu_count = 2, cpus = 3, memory = "2G",
      slurm = { partition = "p", account = "a", qos = "q", constraint = "c", extra_args = { "--exclusive" } } })
    local job = { name = "n", log = "/l", dir = "/d", script = "/s" }
    local args = table.concat(slurm.sbatch_args(cfg, cfg.slurm, job), " ")
    for _, want in ipairs({ "--gres=gpu:h100:2", "--cpus-per-task=3", "--mem=2048", "--partition=p", "--account=a",
                            "--qos=q", "--constraint=c", "--exclusive", "--export=NONE", "--parsable" }) do
      assert.truthy(args:find(want, 1, true), want .. " missing from " .. args)
    end
    assert.matches("/s$", args)
    local any = config.SandboxConfig({ backend = "slurm", gpu = true, gpu_count = 1 })
    assert.truthy(table.concat(slurm.sbatch_args(any, any.slurm, job), " "):find("--gpus=1", 1, true))
    assert.has_error(function() config.SandboxConfig({ backend = "slurm", slurm = { extra_args = { "rm -rf" } } }) end)
    assert.has_error(function() config.SandboxConfig({ slurm = { partition = "p" } }) end)
    assert.has_error(function() config.SandboxConfig({ backend = "pbs" }) end)
  end)

  it("refuses a partition that does not exist, and an unsatisfiable gres, at start()", function()
    local ok, err = pcall(function() slurm_sandbox({ slurm = { partition = "nosuchpartition" } }):start() end)
    assert.is_false(ok)
    assert.matches("sbatch refused the job: .*[Pp]artition", tostring(err))
    ok, err = pcall(function() slurm_sandbox({ gpu = "H100", gpu_count = 4 }):start() end)
    assert.is_false(ok)
    assert.matches("sbatch refused the job: .*not available", tostring(err))
  end)

  it("runs a GPU job with the gres it asked for", function()
    local sb = slurm_sandbox({ gpu = "H100" })
    sb:start()
    local out = assert(seer.process.run({ cmd = "scontrol", args = { "show", "job", sb.backend.job_id } })).stdout
    assert.matches("gres:gpu:h100:1", out)
    assert.are.equal("hi\n", sb:exec("echo hi"))
    sb:terminate()
  end)

  it("fails a pending call within seconds when someone scancels the job, saying so", function()
    local sb = slurm_sandbox()
    sb:start()
    sb:serve(fixtures .. "/probe.lua", { name = "napper" })
    local client = sb.served.napper.client
    local caller = seer.spawn(function() return client:call("nap", 60) end)
    seer.sleep(0.3)
    local t0 = now()
    assert(seer.process.run({ cmd = "scancel", args = { sb.backend.job_id } }).ok)
    local ok, err = pcall(caller.wait, caller)
    assert.is_false(ok)
    assert.is_true(now() - t0 < 5, "took " .. (now() - t0))
    assert.matches("CANCELLED", tostring(err))
    local eok, eerr = pcall(sb.exec, sb, "true")
    assert.is_false(eok)
    assert.matches("not running", tostring(eerr))
    sb:terminate()
  end)

  it("refuses a wrong token and leaks nothing to the one who tried", function()
    local sb = slurm_sandbox()
    sb:start()
    local endpoint = assert(fs.read(sb.backend.job_dir .. "/endpoint")):match("^(%S+)")
    local token = assert(fs.read(sb.backend.job_dir .. "/token"))
    local mode = seer.process.run({ cmd = "stat", args = { "-c", "%a", sb.backend.job_dir .. "/token" } }).stdout
    assert.are.equal("600\n", mode)
    local ok, err = pcall(rpc.connect, "tcp:" .. endpoint, { token = token:sub(1, -2) .. "0", timeout = 5 })
    if token:sub(-1) == "0" then
      ok, err = pcall(rpc.connect, "tcp:" .. endpoint, { token = token:sub(1, -2) .. "1", timeout = 5 })
    end
    assert.is_false(ok)
    assert.matches("wrong token", tostring(err))
    assert.is_nil(tostring(err):find(token, 1, true))
    -- No token at all: refused too, and the sandbox goes on serving its host.
    local c = rpc.connect("tcp:" .. endpoint, { timeout = 5 })
    local cok, cerr = pcall(c.call, c, "spawn", { "/bin/true" })
    assert.is_false(cok)
    assert.matches("seer.auth", tostring(cerr))
    assert.are.equal("still here\n", sb:exec("echo still here"))
    sb:terminate()
  end)

  it("speaks TLS to its node with slurm.tls, pinning the certificate made for the sandbox", function()
    local sb = slurm_sandbox({ slurm = { tls = true } })
    sb:start()
    assert.are.equal("over tls\n", sb:exec("echo over tls"))
    assert.is_false(fs.exists(sb.backend.job_dir .. "/tls.key"), "the node removes the key once read")
    local endpoint = assert(fs.read(sb.backend.job_dir .. "/endpoint")):match("^(%S+)")
    local token = assert(fs.read(sb.backend.job_dir .. "/token"))
    local _, _, other = rpc.tls_cert()
    local ok, err = pcall(rpc.connect, "tcp:" .. endpoint, { token = token, tls = { pin = other }, timeout = 5 })
    assert.is_false(ok)
    assert.matches("not the pinned one", tostring(err))
    assert.is_nil(tostring(err):find(token, 1, true))
    assert.are.equal("still here\n", sb:exec("echo still here"))
    sb:terminate()
  end)

  it("runs 20 sandboxes at once, tracked with one squeue per interval", function()
    local tasks, tracked_before = {}, slurm.tracked()
    for i = 1, 20 do
      tasks[i] = function()
        local sb = slurm_sandbox({ memory = "256M" })
        sb:start()
        local out = sb:exec("echo " .. i)
        sb:terminate()
        return out
      end
    end
    local results = seer.gather(tasks)
    for i = 1, 20 do assert.are.equal(i .. "\n", results[i]) end
    assert.are.equal(tracked_before, slurm.tracked())
  end)

  it("leaves no job behind when the host is killed with SIGKILL", function()
    local dir = assert(fs.tmpdir("slurm-host"))
    local script = dir .. "/host.lua"
    assert(fs.write(script, [[
      local env = require "seer.environment"
      local sb = env.Sandbox(env.SandboxConfig({ backend = "slurm", slurm = { heartbeat_grace = 3 } }))
      sb:start()
      io.stdout:write(sb.backend.job_id, " ", sb.backend.job_dir, "\n")
      io.stdout:flush()
      require("seer").sleep(3600)
    ]]))
    local p = seer.process.spawn({ cmd = os.getenv("SEER_LUA_BIN"), args = { script }, stream = true })
    local line = p:lines()()
    local id, job_dir = line:match("^(%d+) (%S+)$")
    assert.truthy(id, "the host printed: " .. tostring(line))
    assert.are.equal("RUNNING", job_state(id))
    p:kill(9)
    p:wait()
    local t0 = now()
    while job_state(id) == "RUNNING" and now() - t0 < 20 do seer.sleep(0.5) end
    assert.are_not.equal("RUNNING", job_state(id), "the job outlived its host by 20 s")
    seer.sleep(1)
    assert.is_false(fs.exists(job_dir), "the node removes the job directory nobody will read")
    fs.remove(dir)
  end)
end)

describe("slurm notebook session", function()
  -- nbformat's own validator (Debian's python3-nbformat, as in notebook_session_spec).
  local function validate(nb)
    local r = seer.process.run({ cmd = "/usr/bin/python3", args = { "-c",
      "import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], as_version=4)); print('valid')", nb } })
    assert.is_true(r.ok, (r.stderr or "") .. (r.stdout or ""))
  end

  it("runs cells in a kernel on the node, relayed to the host, and fails them with Slurm's reason", function()
    local json = require "seer.json"
    local sb = env.Sandbox(env.SandboxConfig({ backend = "slurm", execution_mode = "notebook", memory = "256M" }))
    sb:start()
    local session = require("seer.execution").create_notebook_session(sb,
      { custom_init_code = "greeting = 'hello from the node'" }, { jupyter = false })
    -- The host's Jupyter client talks to host sockets that relay the node's (none of them the sandbox's).
    local conn = json.decode(assert(fs.read(session.connection_file)))
    assert.are.equal(sb.backend.state .. "/kernel", conn.ip)
    local r = session:exec("print(greeting)\n6 * 7")
    assert.are.equal("ok", r.status)
    assert.are.equal("hello from the node\n", r.outputs[1].text)
    assert.are.equal("42", r.outputs[2].data["text/plain"])
    r = session:exec("error('on purpose')")
    assert.are.equal("error", r.status)
    assert.matches("on purpose", r.error.evalue)
    -- A cell with more output than one relay read carries all of it, in order.
    r = session:exec("for i = 1, 20000 do io.write(('%05d '):format(i)) end print()")
    assert.are.equal("ok", r.status)
    local text = r.text
    assert.are.equal(20000 * 6 + 1, #text)
    assert.are.equal("00001 ", text:sub(1, 6))
    assert.are.equal("20000 \n", text:sub(-7))
    -- The agent's tools run in another process and reach the same kernel through the relay.
    local c = require("seer.mcp.client").start("notebook", session.mcp_config.notebook)
    local sid = c:call_tool("start_new_session", {}).structuredContent.session_id
    local tr = c:call_tool("execute_code", { session_id = sid, code = "x = 6 * 7\nx + 1" })
    assert.is_not_true(tr.isError)
    assert.are.equal("43", json.decode(tr.content[1].text).outputs[1].data["text/plain"])
    c:close()
    validate(session.notebook_path)
    local nb = json.decode(assert(fs.read(session.notebook_path)))
    assert.are.equal(4, #nb.cells)
    -- Someone scancels the job mid-cell: the cell fails within seconds, with Slurm's reason.
    local caller = seer.spawn(function()
      return session:exec("local t = os.time() while os.time() - t < 120 do end")
    end)
    seer.sleep(0.5)
    local t0 = now()
    assert(seer.process.run({ cmd = "scancel", args = { sb.backend.job_id } }).ok)
    local ok, err = pcall(caller.wait, caller)
    assert.is_false(ok)
    assert.is_true(now() - t0 < 30, "took " .. (now() - t0))
    assert.matches("kernel died: .*CANCELLED", tostring(err))
    session:close()
    sb:terminate()
  end)
end)

describe("slurm models on a node-local cache", function()
  it("pulls on the node, with seer.hub, a model the shared cache lacks, before the sandbox starts", function()
    local path = require "seer.path"
    local hf_cache, hub = require "seer.hf_cache", require "seer.hub"
    local src = os.getenv("SEER_FIXTURES") .. "/models/llama"
    local repo = assert(fs.tmpdir("slurm-hub-repo"))
    for _, f in ipairs({ "config.json", "model.safetensors" }) do
      assert(fs.write(path.join(repo, f), assert(fs.read(path.join(src, f)))))
    end
    local peer = require("hub_peer").start({ ["test-org/tiny-llama"] = repo })
    local host_cache, node_cache = assert(fs.tmpdir("slurm-host-cache")), assert(fs.tmpdir("slurm-node-cache"))
    -- The host's cache (standing for the shared one) is empty; its hub is the test's.
    local saved_dir, saved_endpoint = hf_cache.cache_dir, hub.endpoint
    hf_cache.cache_dir = function() return host_cache end
    hub.endpoint = function() return peer.url end
    local ok, err = pcall(function()
      local sb = slurm_sandbox({ memory = "256M", models = { env.ModelConfig({ name = "test-org/tiny-llama" }) },
                                 slurm = { node_cache = node_cache } })
      sb:start()
      assert.are.equal(assert(fs.read(src .. "/config.json")),
        sb:exec("cat " .. sb.backend.models[1].mount .. "/config.json"))
      sb:terminate()
      -- One the hub does not have: start() fails naming it.
      local bad = slurm_sandbox({ models = { env.ModelConfig({ name = "test-org/missing" }) },
                                  slurm = { node_cache = node_cache } })
      local sok, serr = pcall(bad.start, bad)
      assert.is_false(sok)
      assert.matches("test%-org/missing", tostring(serr))
    end)
    hf_cache.cache_dir, hub.endpoint = saved_dir, saved_endpoint
    local pulled = peer.count("/resolve/")
    peer.stop()
    assert(ok, err)
    assert.is_true(fs.is_dir(path.join(node_cache, "models--test-org--tiny-llama")), "pulled into the node's cache")
    assert.is_false(fs.exists(path.join(host_cache, "models--test-org--tiny-llama")), "not into the host's")
    assert.is_true(pulled >= 2, "files pulled from the hub: " .. pulled)
    fs.remove(repo)
    fs.remove(host_cache)
    fs.remove(node_cache)
  end)
end)

describe("slurm time limit", function()
  it("fails a call in flight when the job hits its time limit, saying so", function()
    local sb = slurm_sandbox({ slurm = { time = "1" } }) -- one minute
    sb:start()
    sb:serve(fixtures .. "/probe.lua", { name = "napper" })
    local t0 = now()
    local ok, err = pcall(sb.served.napper.client.call_with, sb.served.napper.client, { timeout = 300 }, "nap", 240)
    assert.is_false(ok)
    assert.is_true(now() - t0 < 150, "took " .. (now() - t0))
    assert.matches("TIMEOUT", tostring(err))
    sb:terminate()
  end)
end)
