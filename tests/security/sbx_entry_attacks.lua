-- Red-team attacks on what a sandbox closes on entry and on how the host talks to it (issue 10,
-- items 2-6, the seccomp filter and the helper executable). Each attack runs from inside a real
-- sandbox, through tests/security/sbx_entry_probe.c where it needs raw system calls. Run by
-- tests/security/sbx_entry.sh, which sets the canary variables, puts the whole run under a
-- pseudo-terminal (so there is a terminal to attack), and repeats it as an unprivileged user.
local env = require "seer.environment"
local fs = require "seer.fs"
local path = require "seer.path"
local rpc = require "seer.rpc"
local task = require "seer.task"
local core = require "seer.core"

local PROBE = assert(os.getenv("SEER_sbx_entry_probe"), "SEER_sbx_entry_probe is not set: run through sbx_entry.sh")
local CANARY = assert(os.getenv("SEER_SBX_CANARY"), "SEER_SBX_CANARY is not set: run through sbx_entry.sh")
local SECRET = assert(os.getenv("SEER_SBX_SECRET"), "SEER_SBX_SECRET is not set: run through sbx_entry.sh")
local as_root = core.ids() == 0

local function start(cfg)
  local sb = env.Sandbox(env.SandboxConfig(cfg or {}))
  sb:start()
  sb:write_file("/workspace/probe", assert(fs.read(PROBE)))
  sb:exec({ "chmod", "755", "/workspace/probe" })
  return sb
end

--- Runs the probe in `mode`; returns its "NAME RESULT" lines as a table and the raw output.
local function probe(sb, ...)
  local out = sb:exec({ "/workspace/probe", ... })
  local results = {}
  for name, result in out:gmatch("(%S+) (%S+)\n") do results[name] = result end
  return results, out
end

local function fd_list(dir)
  local fds = {}
  for _, name in ipairs(assert(fs.list(dir))) do fds[#fds + 1] = tonumber(name) end
  table.sort(fds)
  return table.concat(fds, ",")
end

describe("sandbox entry", function()
  it("gives the sandbox no terminal: TIOCSTI and TIOCLINUX fail on fds 0-2 and /dev/tty", function()
    local tty = io.open("/dev/tty", "r")
    assert(tty, "the host has no controlling terminal: run through sbx_entry.sh (under a pty)")
    tty:close()
    local sb = start()
    local r = probe(sb, "tty")
    sb:terminate()
    for fd = 0, 2 do
      assert.are_not.equal("ok", r["tiocsti_fd" .. fd], "TIOCSTI on fd " .. fd)
      assert.are_not.equal("ok", r["tioclinux_fd" .. fd], "TIOCLINUX on fd " .. fd)
    end
    assert.are.equal("ENXIO", r.open_dev_tty) -- no controlling terminal at all
    assert.is_nil(r.tiocsti_dev_tty)
  end)

  it("starts its helpers with none of the host's environment; secrets reach only the commands", function()
    local sb = start({ secrets = { "SEER_SBX_SECRET" }, env = { DECLARED = "yes" } })
    local cmd_env = sb:exec("env")
    local all = sb:exec("cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'; true")
    local pid1 = sb:exec("tr '\\0' '\\n' < /proc/1/environ 2>/dev/null; true")
    local secret_seen = sb:exec({ "printenv", "SEER_SBX_SECRET" })
    local init_env = assert(fs.read("/proc/" .. sb.backend.init.pid .. "/environ"))
    local host_pid1_env = fs.read("/proc/" .. sb.backend.pid .. "/environ") -- unreadable unless root
    sb:terminate()
    assert.is_nil(cmd_env:find(CANARY, 1, true), "the canary reached a command")
    assert.matches("DECLARED=yes", cmd_env)
    assert.is_nil(all:find(CANARY, 1, true), "the canary is in some /proc/*/environ inside")
    assert.are.equal(SECRET .. "\n", secret_seen)
    assert.is_nil(pid1:find(SECRET, 1, true), "the secret is in /proc/1/environ")
    assert.are.equal("", init_env, "the init helper has an environment")
    if host_pid1_env then assert.are.equal("", host_pid1_env, "pid 1 has an environment") end
  end)

  it("closes every inherited host fd (io.open without O_CLOEXEC, a root-only file)", function()
    local dir = assert(fs.tmpdir("sbx-entry-fds"))
    local transcript = assert(io.open(path.join(dir, "transcript.jsonl"), "a"))
    local secret_file = as_root and assert(io.open("/etc/shadow", "r")) or nil
    local sb = start()
    local _, out = probe(sb, "fds")
    local pid1_fds = as_root and fd_list("/proc/" .. sb.backend.pid .. "/fd") or nil
    sb:terminate()
    transcript:close()
    if secret_file then secret_file:close() end
    fs.remove(dir)
    local fds = {}
    for fd in out:gmatch("fd (%d+) ") do fds[#fds + 1] = fd end
    assert.are.equal("0,1,2", table.concat(fds, ","), "open in the sandbox:\n" .. out)
    if pid1_fds then assert.are.equal("0,1,2", pid1_fds, "pid 1 holds more than its stdio") end
  end)

  it("keeps the supervisor out of reach: no pidfd_getfd, /proc/1/mem or /proc/1/fd, no forged exit", function()
    local sb = start()
    local forged = "exit killed (out of memory: 99999 MiB resident, limit 1 MiB)"
    local r = probe(sb, "pid1", forged)
    task.sleep(0.3) -- a forged line would have reached the watcher by now
    assert.are_not.equal("ok", r.pidfd_getfd_1)
    assert.are_not.equal("ok", r.open_proc1_fd1)
    assert.are_not.equal("ok", r.open_proc1_mem)
    assert.is_true(sb.backend.alive)
    assert.is_nil(sb.backend.exit_reason)
    assert.are.equal("still here\n", sb:exec("echo still here"))
    sb:terminate()
  end)

  it("denies dangerous system calls inside (seccomp)", function()
    local sb = start()
    local r, out = probe(sb, "syscalls")
    sb:terminate()
    local denied = {
      "io_uring_setup", "io_uring_enter", "io_uring_register", "socket_packet_raw",
      "socket_packet_dgram", "socket_inet_raw", "socket_inet6_raw", "socket_inet_packet",
      "socket_vsock", "keyctl", "add_key", "request_key", "bpf", "userfaultfd", "perf_event_open",
      "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "mount",
      "umount2", "pivot_root", "unshare_user", "unshare_mnt", "setns", "clone_newuser",
      "modify_ldt", "ptrace_traceme", "process_vm_readv", "process_vm_writev", "pidfd_getfd_self",
    }
    for _, name in ipairs(denied) do
      assert.are.equal("EPERM", r[name], name .. " was not denied:\n" .. out)
    end
    -- Families outside the allow-list (unix, inet, inet6, netlink) look absent from the kernel.
    for _, name in ipairs({ "socket_key", "socket_alg", "socket_tipc" }) do
      assert.are.equal("EAFNOSUPPORT", r[name], name .. " was not refused:\n" .. out)
    end
    assert.are.equal("ok", r.allowed_socket_inet_stream)
    assert.are.equal("ok", r.allowed_socket_unix)
    assert.are.equal("ok", r.allowed_socket_netlink)
  end)
end)

--- Is `id` inside a range of /etc/subuid or /etc/subgid ("owner:start:count" lines)?
local function in_subid_range(id)
  for _, file in ipairs({ "/etc/subuid", "/etc/subgid" }) do
    for first, count in (fs.read(file) or ""):gmatch("[^\n:]*:(%d+):(%d+)") do
      if id >= tonumber(first) and id < tonumber(first) + tonumber(count) then return file end
    end
  end
  return nil
end

describe("sandbox identity", function()
  it("runs as a host uid of its own: never an account's, never in a /etc/subuid or /etc/subgid range", function()
    local sb = start()
    local status = assert(fs.read("/proc/" .. sb.backend.pid .. "/status"))
    sb:terminate()
    local uid = tonumber(status:match("\nUid:%s+%d+%s+(%d+)"))
    local gid = tonumber(status:match("\nGid:%s+%d+%s+(%d+)"))
    local my_uid, my_gid = core.ids()
    if not as_root then
      assert.are.equal(my_uid, uid) -- an ordinary user's sandbox is that user
      return
    end
    assert.is_true(uid >= 0x70000000, ("uid %d is below the sandbox id base"):format(uid))
    assert.is_nil(in_subid_range(uid), ("uid %d lies in a subordinate id range"):format(uid))
    assert.is_nil(in_subid_range(gid), ("gid %d lies in a subordinate id range"):format(gid))
    assert.is_nil((fs.read("/etc/passwd") or ""):match("\n[^:]*:[^:]*:" .. uid .. ":"))
    assert.are_not.equal(my_gid, gid)
  end)
end)

describe("host-side paths", function()
  it("never writes an interface copy through a path the sandbox replaced", function()
    local victim = assert(fs.tmpdir("sbx-entry-victim"))
    local sb = start()
    sb:exec({ "sh", "-c", 'rm -rf /run/seer/iface; ln -s "$1" /run/seer/iface', "sh", victim },
      { check = false })
    local iface = path.join(victim, "..", path.basename(victim) .. "-iface.lua")
    assert(fs.write(iface, "function expose.ping() return 'pong' end\n"))
    local ok, err = pcall(sb.serve, sb, iface, { name = "victim_iface" })
    sb:terminate()
    local written = fs.exists(path.join(victim, "victim_iface.lua"))
    fs.remove(victim)
    fs.remove(iface)
    assert.is_true(ok, tostring(err))
    assert.is_false(written, "the host wrote through the sandbox's symlink")
  end)

  it("never connects to a host socket the sandbox points its socket path at", function()
    local dir = assert(fs.tmpdir("sbx-entry-sock"))
    local host_sock = path.join(dir, "host.sock")
    local accepted = 0
    local server = rpc.listen("unix:" .. host_sock, function() return "host" end)
    local accept = server._accept
    server._accept = function(self, conn) accepted = accepted + 1 return accept(self, conn) end
    local sb = start()
    -- An interface that, instead of serving, points its socket at the host's and says it listens.
    local iface = path.join(dir, "evil.lua")
    assert(fs.write(iface, ([[
os.execute("ln -sf %s /run/seer/evil.sock")
io.stdout:write("listening on unix:/run/seer/evil.sock\n")
io.stdout:flush()
os.execute("sleep 30")
]]):format(host_sock)))
    local ok, err = pcall(sb.serve, sb, iface, { name = "evil", timeout = 5 })
    sb:terminate()
    server:close()
    fs.remove(dir)
    assert.is_false(ok)
    assert.matches("symlink", err)
    assert.are.equal(0, accepted, "the host connected to its own socket for the sandbox")
  end)
end)
