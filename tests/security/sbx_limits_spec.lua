-- Red-team checks of the sandbox's resource limits, exec and leftovers (issue items 9, 11, 12,
-- 13): each does what an attacker inside the sandbox (or a crash of the host) would, and checks
-- that the limit holds. Run as root by ctest (security.sbx_limits) and as an ordinary user by
-- sbx_limits_unprivileged.sh. Limits are small (tens to hundreds of MiB) so the checks take
-- seconds and are safe on a shared machine.
local env = require "seer.environment"
local fs = require "seer.fs"
local path = require "seer.path"
local seer = require "seer"
local task = require "seer.task"
local now = require("seer.core").now

local SEER_LUA = assert(os.getenv("SEER_LUA_BIN"), "SEER_LUA_BIN must name the seer-lua binary")

-- The probe (tests/security/sbx_limits_probe.c), built by ctest.
local helper = assert(os.getenv("SEER_sbx_limits_probe"), "SEER_sbx_limits_probe must name the probe")

local function start(fields)
  local sb = env.Sandbox(env.SandboxConfig(fields))
  sb:start()
  return sb
end

-- Host processes whose command line is exactly argv (the host sees every sandbox process).
local function host_processes(argv)
  local want = table.concat(argv, "\0") .. "\0"
  local found = {}
  for _, pid in ipairs(assert(fs.list("/proc"))) do
    if pid:match("^%d+$") then
      local cmdline = fs.read("/proc/" .. pid .. "/cmdline")
      if cmdline == want then found[#found + 1] = pid end
    end
  end
  return found
end

-- A number for sleep unique to this process and call, so the host finds exactly this test's
-- processes (not those of the same spec running as another user at the same time).
local markers = 0
local function marker()
  markers = markers + 1
  return ("%s%03d"):format(assert(fs.readlink("/proc/self")), markers)
end

-- Runs fn, failing (rather than hanging the suite) if it takes longer than s seconds.
local function within(s, fn)
  local ok, err = pcall(task.timeout, s, fn)
  assert(ok, "took longer than " .. s .. " s: " .. tostring(err))
  return err
end

describe("exec output (item 9)", function()
  local sb
  setup(function() sb = start({ memory = "256M" }) end)
  teardown(function() sb:terminate() end)

  it("keeps at most max_output of each stream, drains the rest and says so", function()
    local r = sb:run("head -c 40000000 /dev/zero; head -c 3000 /dev/zero >&2", { max_output = 1000 })
    assert.are.equal(0, r.code)
    assert.are.equal(1000, #r.stdout)
    assert.are.equal(1000, #r.stderr)
    assert.are.equal(40000000, r.stdout_bytes)
    assert.are.equal(3000, r.stderr_bytes)
    assert.is_true(r.truncated)
    assert.matches("more than max_output = 1000 bytes on stderr %(3000 bytes%) and stdout %(40000000 bytes%)", r.note)
  end)

  it("caps output at 16 MiB by default, and exec keeps its return values", function()
    local r = sb:run("head -c 20000000 /dev/zero")
    assert.are.equal(16 * 1024 * 1024, #r.stdout)
    assert.is_true(r.truncated)
    local out, extra = sb:exec("echo 42")
    assert.are.equal("42\n", out)
    assert.is_nil(extra)
    assert.are.equal(42, tonumber(sb:exec("echo 42")))
  end)

  it("refuses to read a file past the cap rather than returning part of it", function()
    sb:exec("head -c 5000 /dev/zero > /workspace/big")
    local ok, err = pcall(sb.read_file, sb, "/workspace/big", { max_output = 4096 })
    assert.is_false(ok)
    assert.matches("'/workspace/big' has more than 4096 bytes", err)
    assert.are.equal(5000, #sb:read_file("/workspace/big", { max_output = 5000 }))
  end)

  it("holds no more than the cap in the host's memory", function()
    -- A fresh host, so its peak resident size measures only this: 300 MB printed, 1 MiB kept.
    local script = path.join(assert(fs.tmpdir("seer-sbxl")), "peak.lua")
    assert(fs.write(script, [[
      local env = require "seer.environment"
      local sb = env.Sandbox(env.SandboxConfig({ memory = "256M" }))
      sb:start()
      local before = io.open("/proc/self/status"):read("a"):match("VmHWM:%s*(%d+)")
      local r = sb:run("head -c 300000000 /dev/zero", { max_output = 1048576 })
      assert(r.stdout_bytes == 300000000 and #r.stdout == 1048576)
      sb:write_file("/workspace/x", "")
      sb:exec("head -c 60000000 /dev/urandom > /workspace/random")
      local snap = sb:snapshot()
      sb:terminate()
      sb = env.Sandbox.from_snapshot(snap, env.SandboxConfig({ memory = "256M" }))
      assert(sb:exec("stat -c %s /workspace/random") == "60000000\n")
      sb:terminate()
      local after = io.open("/proc/self/status"):read("a"):match("VmHWM:%s*(%d+)")
      local size = require("seer.fs").size(snap)
      os.remove(snap)
      print(tonumber(after) - tonumber(before), size)
    ]]))
    -- Under AddressSanitizer, freed memory waits in a quarantine that would count as peak.
    local child_env = { PATH = os.getenv("PATH"), HOME = os.getenv("HOME"), TMPDIR = os.getenv("TMPDIR"),
                        UBSAN_OPTIONS = os.getenv("UBSAN_OPTIONS") }
    if os.getenv("ASAN_OPTIONS") then
      child_env.ASAN_OPTIONS = os.getenv("ASAN_OPTIONS") .. ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    end
    local r = seer.process.run({ cmd = SEER_LUA, args = { script }, timeout = 60, env = child_env })
    fs.remove(path.dirname(script))
    assert.is_true(r.ok, r.stderr)
    local grown_kib, snap_size = r.stdout:match("^(%-?%d+)%s+(%d+)")
    assert.is_true(tonumber(snap_size) > 60000000, "the snapshot holds the 60 MB of random data")
    -- 300 MB of output and a 60 MB snapshot, out and back in, went through; the host's peak grew
    -- by far less.
    assert.is_true(tonumber(grown_kib) < 40 * 1024, "the host's peak grew by " .. grown_kib .. " KiB")
  end)
end)

describe("exec leaves nothing running (item 9)", function()
  local sb
  setup(function() sb = start({ memory = "256M" }) end)
  teardown(function() sb:terminate() end)

  it("kills backgrounded and setsid'd children when the timeout fires, and returns in time", function()
    local m1, m2 = marker(), marker()
    local t0 = now()
    local r = within(10, function()
      return sb:run(("sleep %s & setsid sleep %s & echo started; wait"):format(m1, m2), { timeout = 1 })
    end)
    assert.is_true(r.timed_out)
    assert.are.equal("started\n", r.stdout)
    assert.is_true(now() - t0 < 5)
    seer.sleep(0.2)
    assert.are.same({}, host_processes({ "sleep", m1 }))
    assert.are.same({}, host_processes({ "sleep", m2 }))
  end)

  it("does not wait for a daemon that holds its output, and kills it when the command exits", function()
    local m = marker()
    local out = within(10, function()
      return sb:exec(("setsid sh -c 'sleep %s' & (sleep %s &); echo done"):format(m, m))
    end)
    assert.are.equal("done\n", out)
    seer.sleep(0.2)
    assert.are.same({}, host_processes({ "sleep", m }))
  end)

  it("returns soon after the command exits when another process holds its output open", function()
    sb:write_file("/workspace/probe", assert(fs.read(helper)))
    sb:exec("chmod +x /workspace/probe; rm -f /tmp/hold.sock")
    -- A long-lived process (another exec) that takes the command's stdout over a Unix socket.
    local holder = seer.spawn(function() return sb:run("/workspace/probe holdfd /tmp/hold.sock 30") end)
    within(10, function()
      while sb:run("test -S /tmp/hold.sock").code ~= 0 do seer.sleep(0.05) end
    end)
    local t0 = now()
    local r = within(10, function() return sb:run("/workspace/probe passfd /tmp/hold.sock && echo sent") end)
    assert.are.equal(0, r.code)
    assert.are.equal("sent\n", r.stdout)
    assert.is_true(r.output_held)
    assert.matches("held its output open", r.note)
    assert.is_true(now() - t0 < 6, "took " .. (now() - t0) .. " s")
    holder:cancel()
  end)

  it("kills a double-forked daemon that closed its output when the command exits", function()
    local m = marker()
    sb:exec(("setsid sh -c 'sleep %s' </dev/null >/dev/null 2>&1 &"):format(m))
    seer.sleep(0.2)
    assert.are.same({}, host_processes({ "sleep", m }))
  end)
end)

describe("snapshots (item 9)", function()
  it("stream to disk, stop at max_bytes and leave no partial file", function()
    local sb = start({ memory = "256M" })
    sb:exec("head -c 4000000 /dev/urandom > /workspace/random")
    local dir = assert(fs.tmpdir("seer-sbxl"))
    local file = path.join(dir, "ws.tar.gz")
    local ok, err = pcall(sb.snapshot, sb, file, { max_bytes = 1000000 })
    assert.is_false(ok)
    assert.matches("passed max_bytes = 1000000", err)
    assert.is_false(fs.exists(file))
    assert.are.equal(file, sb:snapshot(file))
    sb:terminate()
    local sb2 = env.Sandbox.from_snapshot(file, env.SandboxConfig({ memory = "256M" }))
    assert.are.equal("4000000\n", sb2:exec("stat -c %s /workspace/random"))
    sb2:terminate()
    fs.remove(dir)
  end)
end)

describe("memory limits (item 11)", function()

  it("sizes /tmp (default: the memory limit, at most 1 GiB) and fails writes past it", function()
    local sb = start({ memory = "256M", tmp = "16M" })
    local _, stderr, code = sb:exec("head -c 32000000 /dev/zero > /tmp/fill", { check = false })
    assert.are_not.equal(0, code)
    assert.matches("No space left", stderr)
    assert.are.equal("16384\n", sb:exec("df -k /tmp | tail -1 | awk '{print $2}'"))
    sb:terminate()
    sb = start({ memory = "48M" })
    assert.are.equal("49152\n", sb:exec("df -k /tmp | tail -1 | awk '{print $2}'"))
    sb:terminate()
  end)

  it("gives /workspace a quota (disk) that writes cannot pass", function()
    local sb = start({ memory = "256M", disk = "16M" })
    local _, stderr, code = sb:exec("head -c 32000000 /dev/zero > /workspace/fill", { check = false })
    assert.are_not.equal(0, code)
    assert.matches("No space left", stderr)
    assert.are.equal("16384\n", sb:exec("df -k /workspace | tail -1 | awk '{print $2}'"))
    sb:terminate()
  end)

  it("kills a sandbox that fills the host directories bound into it (/run/seer) past disk", function()
    local sb = start({ memory = "256M", disk = "16M" })
    local ok, err = pcall(sb.exec, sb, "head -c 48000000 /dev/zero > /run/seer/fill; sleep 5", { timeout = 20 })
    sb:terminate()
    assert.is_false(ok, "48 MB in /run/seer, past disk = 16M, and the sandbox lives")
    assert.matches("sandbox exited: killed %(disk quota", err)
  end)

  local function assert_oom(fields, cmd)
    local sb = start(fields)
    sb:write_file("/workspace/mem", assert(fs.read(helper)))
    sb:exec("chmod +x /workspace/mem")
    local ok, err = pcall(sb.exec, sb, cmd, { timeout = 20 })
    sb:terminate()
    assert.is_false(ok, "'" .. cmd .. "' held more than the limit and was not killed")
    assert.matches("sandbox exited: killed %(out of memory", err)
  end

  it("counts files in /tmp and /dev/shm toward the memory limit", function()
    assert_oom({ memory = "48M", tmp = "256M" }, "head -c 100000000 /dev/zero > /tmp/fill; sleep 3")
    assert_oom({ memory = "40M" }, "head -c 60000000 /dev/zero > /dev/shm/fill; sleep 3")
  end)

  it("counts MAP_SHARED anonymous memory toward the memory limit", function()
    assert_oom({ memory = "96M" }, "/workspace/mem shared 160")
  end)

  it("counts memfds that are never mapped toward the memory limit", function()
    assert_oom({ memory = "96M" }, "/workspace/mem memfd 160")
  end)

  it("counts System V shared memory toward the memory limit", function()
    assert_oom({ memory = "96M" }, "/workspace/mem sysv 160")
  end)

  it("does not count what stays under the limit", function()
    local sb = start({ memory = "256M" })
    sb:write_file("/workspace/mem", assert(fs.read(helper)))
    sb:exec("chmod +x /workspace/mem")
    sb:exec("/workspace/mem shared 32 0")
    sb:terminate()
  end)
end)

describe("CPU limits (item 12)", function()
  it("keeps cpus = 1 when the sandbox asks for more CPUs", function()
    local sb = start({ memory = "256M", cpus = 1 })
    assert.are.equal("1\n", sb:exec("nproc"))
    local _, stderr, code = sb:exec("taskset -a -c -p 0-1023 $$ && nproc", { check = false })
    assert.are_not.equal(0, code)
    assert.matches("[Oo]peration not permitted", stderr)
    assert.are.equal("1\n", sb:exec("taskset -c 0-1023 nproc 2>/dev/null || nproc"))
    sb:terminate()
  end)

  it("kills a process past its CPU time (cpu_time)", function()
    local sb = start({ memory = "256M", cpu_time = 1 })
    local t0 = now()
    local r = sb:run("while :; do :; done", { timeout = 20 })
    assert.is_false(r.timed_out)
    assert.are.equal(9, r.signal) -- SIGKILL at the hard limit
    assert.is_true(now() - t0 < 10)
    sb:terminate()
  end)

  it("has a default wall-clock limit, enforced by the sandbox's pid 1", function()
    assert.are.equal(24 * 3600, env.SandboxConfig({}).timeout)
    local sb = start({ memory = "256M" })
    local spec = require("seer.json").decode(assert(fs.read(path.join(sb.backend.state, "spec.json"))))
    assert.are.equal(24 * 3600, spec.timeout)
    sb:terminate()
    sb = start({ memory = "256M", timeout = 1 })
    local ok, err = pcall(sb.exec, sb, "sleep 30")
    assert.is_false(ok)
    assert.matches("killed %(timeout after 1 s%)", err)
    sb:terminate()
  end)
end)

describe("leftovers (item 13)", function()
  local base, script
  setup(function()
    -- A TMPDIR of this test's own (reachable by the sandbox's uid, as /tmp is).
    base = assert(fs.tmpdir("seer-sbxl-tmp"))
    assert(fs.chmod(base, 493)) -- 0755
    script = path.join(base, "host.lua")
    assert(fs.write(script, [[
      local env = require "seer.environment"
      local sb = env.Sandbox(env.SandboxConfig({ memory = "128M" }))
      sb:start()
      local session = require("seer.execution").create_local_session({})
      print(sb.backend.state)
      print(session.workspace_dir)
      io.stdout:flush()
      -- None of these call terminate().
      if arg[1] == "hold" then -- until stdin closes, or it is killed
        io.read("l")
        os.exit(0)
      elseif arg[1] == "exit" then
        os.exit(3)
      else
        error("the script fails")
      end
    ]]))
  end)
  teardown(function() fs.remove(base) end)

  local function host(mode)
    local p = seer.process.spawn({ cmd = SEER_LUA, args = { script, mode }, stdin = true, stream = true,
                                   env = { TMPDIR = base, PATH = os.getenv("PATH"), HOME = os.getenv("HOME") } })
    local lines = p:lines()
    local dirs = within(20, function() return { lines(), lines() } end)
    assert.matches("/seer%-sandbox%-", dirs[1])
    assert.matches("/seer%-session%-", dirs[2])
    return p, dirs
  end

  it("removes the state dirs of a script that ends without terminate()", function()
    for _, mode in ipairs({ "exit", "error" }) do
      local p, dirs = host(mode)
      within(20, function() return p:wait() end)
      assert.is_false(fs.exists(dirs[1]), mode .. ": the sandbox's state dir is still there")
      assert.is_false(fs.exists(dirs[2]), mode .. ": the session's dir is still there")
    end
  end)

  it("sweeps a killed host's dirs at the next start, and leaves a live host's alone", function()
    local live, live_dirs = host("hold")
    local dead, dead_dirs = host("hold")
    dead:kill(9)
    within(20, function() return dead:wait() end)
    assert.is_true(fs.exists(dead_dirs[1]) and fs.exists(dead_dirs[2]))
    -- A stale dir holding a symlink to a host directory: the sweep removes the link, not the target.
    local canary_dir = assert(fs.tmpdir("seer-sbxl-canary"))
    assert(fs.write(path.join(canary_dir, "keep"), "keep"))
    assert(seer.process.run({ cmd = "ln", args = { "-s", canary_dir, path.join(dead_dirs[1], "run", "escape") } }).ok)
    -- A directory of the same name pattern that no seer-lua of this kind made (no marker, no lock):
    -- an older version's, say, which may well be alive. The sweep must leave it.
    local foreign = path.join(base, "seer-sandbox-OLDVER")
    assert(fs.mkdir(foreign, 448))
    -- Another host starts: its sweep runs.
    local next_host, next_dirs = host("exit")
    within(20, function() return next_host:wait() end)
    assert.is_false(fs.exists(dead_dirs[1]), "the killed host's sandbox dir is still there")
    assert.is_false(fs.exists(dead_dirs[2]), "the killed host's session dir is still there")
    assert.is_false(fs.exists(next_dirs[1]))
    assert.are.equal("keep", fs.read(path.join(canary_dir, "keep")))
    assert.is_true(fs.is_dir(foreign), "the sweep removed a directory it did not make")
    fs.remove(canary_dir)
    assert.is_true(fs.exists(live_dirs[1]) and fs.exists(live_dirs[2]), "a live host's dirs were removed")
    live:close_stdin()
    within(20, function() return live:wait() end)
    assert.is_false(fs.exists(live_dirs[1]))
  end)
end)
