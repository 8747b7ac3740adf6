--- seer.sandbox.slurm_node: what a "slurm" backend job runs on its compute node. It starts the
--- sandbox with the local backend (the same namespaces, mounts, seccomp and limits as on a
--- workstation), then answers the submitting host over TCP: msgpack-RPC, every connection
--- authenticated with the job's token (compared in constant time by seer.rpc), the address
--- published in the job directory (mode 0600) once it listens.
---
--- The host reaches the sandbox only through these methods: run a command and stream its output
--- (spawn / poll / write / close_stdin / kill), and relay calls to the RPC servers the sandbox
--- listens on in /run/seer (probe / describe / relay), or relay their bytes (stream_*, for a
--- notebook kernel's ZeroMQ sockets: seer.sandbox.slurm_streams). The sandbox itself has no network unless its
--- config says so; this process, outside it, is its only door.
---
--- It watches its host: without a heartbeat for `heartbeat_grace` seconds (the host exited or was
--- killed) it ends the sandbox and the job, so a dead host leaves no job behind.
local fs = require "seer.fs"
local json = require "seer.json"
local path = require "seer.path"
local rpc = require "seer.rpc"
local task = require "seer.task"
local local_backend = require "seer.sandbox.local_backend"

local M = {}

--- Output a command may have waiting for the host before it is killed: the host polls all the time,
--- so only a host that stopped reading lets it grow, and the node never buffers without bound.
M.MAX_PENDING = 64 * 1024 * 1024
--- The most output one poll returns.
local POLL_CHUNK = 1024 * 1024
--- Seconds a command's output is read after it exited (seer.environment.OUTPUT_GRACE).
local OUTPUT_GRACE = 2

local function fail(msg)
  io.stderr:write("seer slurm node: ", msg, "\n")
  os.exit(1)
end

-- Commands started for the host, by id.
local procs, next_id = {}, 0

local function notify(rec)
  local w = rec.waiter
  if w then
    rec.waiter = nil
    w()
  end
end

local function on_output(rec, stream)
  return function(chunk)
    if rec.pending > M.MAX_PENDING then return end
    local q = rec[stream]
    q[#q + 1] = chunk
    rec.pending = rec.pending + #chunk
    if rec.pending > M.MAX_PENDING then
      rec.overflow = true
      pcall(rec.p.kill, rec.p, 9)
    end
    notify(rec)
  end
end

local function take(q, limit)
  local parts, n = {}, 0
  while q[1] and n < limit do
    local c = table.remove(q, 1)
    if n + #c > limit then
      table.insert(q, 1, c:sub(limit - n + 1))
      c = c:sub(1, limit - n)
    end
    parts[#parts + 1] = c
    n = n + #c
  end
  return table.concat(parts), n
end

local function record(id)
  local rec = procs[tonumber(id)]
  if not rec then error(("no command %s on this node"):format(tostring(id)), 0) end
  return rec
end

local function handlers(backend)
  local h = {}
  function h.spawn(argv, opts)
    if type(argv) ~= "table" or type(argv[1]) ~= "string" then error("spawn: argv must be a list of strings", 0) end
    opts = type(opts) == "table" and opts or {}
    next_id = next_id + 1
    local id = next_id
    local rec = { stdout = {}, stderr = {}, pending = 0 }
    rec.p = backend:spawn(argv, {
      env = opts.env, cwd = opts.cwd, stdin = opts.stdin == true or nil,
      on_stdout = on_output(rec, "stdout"), on_stderr = on_output(rec, "stderr"),
      -- As seer.environment does on the host: output another process of the sandbox holds open
      -- after the command exited is cut off after a grace, so no poll waits on it for ever.
      on_exit = function(proc)
        task.call_later(OUTPUT_GRACE, function()
          if proc.open_streams > 0 then proc:close_output() end
        end)
      end,
    })
    procs[id] = rec
    task.spawn(function()
      rec.result = rec.p:wait()
      notify(rec)
    end)
    return { id = id, pid = rec.p.pid }
  end
  --- Waits until the command has output or has ended; returns what there is.
  function h.poll(id)
    local rec = record(id)
    if not rec.stdout[1] and not rec.stderr[1] and not rec.result then
      task.await(function(done)
        rec.waiter = done
        return function() if rec.waiter == done then rec.waiter = nil end end
      end)
    end
    local out, n1 = take(rec.stdout, POLL_CHUNK)
    local err, n2 = take(rec.stderr, POLL_CHUNK - n1)
    rec.pending = rec.pending - n1 - n2
    local reply = { stdout = out, stderr = err }
    if rec.result and not rec.stdout[1] and not rec.stderr[1] then
      local r = rec.result
      -- A command killed by a signal may have died with the whole sandbox (out of memory, the
      -- job's own signals): give the supervisor a moment to report that, and say so, so the host
      -- fails its calls with the sandbox's reason rather than the command's.
      if r.signal then
        local deadline = require("seer.core").now() + 0.5
        while backend.alive and require("seer.core").now() < deadline do task.sleep(0.02) end
      end
      reply.exit = { code = r.code or json.null, signal = r.signal or 0, overflow = rec.overflow or false,
                     sandbox_exited = not backend.alive }
      procs[tonumber(id)] = nil
    end
    return reply
  end
  function h.write(id, data) record(id).p:write(data) return true end
  function h.close_stdin(id) record(id).p:close_stdin() return true end
  function h.close_output(id) record(id).p:close_output() return true end
  function h.kill(id, sig)
    local rec = procs[tonumber(id)]
    if rec and not rec.p.exited then pcall(rec.p.kill, rec.p, sig) end
    return true
  end

  -- The sandbox's RPC servers, by socket name in /run/seer. A name is one path component: the
  -- host names sockets it started there, and the node never follows a symlink the sandbox made.
  local upstream = {}
  local function socket_path(name)
    if type(name) ~= "string" or not name:match("^[%w_.-]+$") or name:match("^%.") then
      error(("'%s' is not a socket name"):format(tostring(name)), 0)
    end
    local p = backend:run_path(name)
    if fs.readlink(p) then error(("'%s' is a symlink; refusing to follow it"):format(name), 0) end
    return p
  end
  local function connect(name)
    local c = upstream[name]
    if c and not c.closed then return c end
    -- When the connection drops because the sandbox died, the call fails saying why, as on the
    -- local backend (seer.sandbox.serving).
    c = rpc.connect("unix:" .. socket_path(name), {
      timeout = 2, call_timeout = math.huge, close_grace = 1,
      on_close_reason = function()
        return backend.exit_reason and ("sandbox exited: " .. backend.exit_reason) or nil
      end,
    })
    upstream[name] = c
    return c
  end
  -- Byte streams to those sockets (a notebook kernel's ZeroMQ sockets).
  require("seer.sandbox.slurm_streams").node_handlers(h, socket_path)
  function h.probe(name)
    local p = socket_path(name)
    if not fs.exists(p) then return false end
    return (pcall(connect, name))
  end
  function h.describe(name) return connect(name):describe() end
  function h.relay(name, method, args, kwargs)
    local c = connect(name)
    local unpack = table.unpack or unpack
    if kwargs ~= nil and kwargs ~= json.null then return c:call_named(method, kwargs, unpack(args, 1, #args)) end
    return c:call(method, unpack(args, 1, #args))
  end
  return h
end

--- Run the node side for the job directory in $SEER_SLURM_JOBDIR; returns when the sandbox ends.
function M.main()
  local started = require("seer.core").now()
  local dir = os.getenv("SEER_SLURM_JOBDIR") or fail("SEER_SLURM_JOBDIR is not set")
  local spec = json.decode(assert(fs.read(path.join(dir, "node.json"))))
  local token = assert(fs.read(path.join(dir, "token")))
  local function report(name, text)
    fs.write(path.join(dir, name .. ".tmp"), text)
    os.rename(path.join(dir, name .. ".tmp"), path.join(dir, name))
  end
  local ok, backend = pcall(function()
    -- The models, when the host left them to this node's own cache (slurm.node_cache): found
    -- there, or pulled there with seer.hub before the sandbox starts.
    local m = spec.models
    if m then
      local token_file = path.join(dir, "hf_token")
      local hf_token = fs.read(token_file)
      os.remove(token_file)
      spec.backend.models = require("seer.sandbox.models").resolve(m.configs,
        { cache_dir = m.cache_dir, endpoint = m.endpoint, token = hf_token or false })
    end
    return local_backend.start(spec.backend)
  end)
  if not ok then
    report("failed", tostring(backend))
    fail(tostring(backend))
  end
  local h = handlers(backend)
  h.info = function()
    local models = {}
    for i, m in ipairs(backend.models) do models[i] = { id = m.id, mount = m.mount, revision = m.revision } end
    return { models = json.array(models), model_list = backend.model_list, model_env = backend.model_env,
             has_interpreter = backend.has_interpreter }
  end
  local last_beat, host_alive = os.time(), true
  h.heartbeat = function()
    last_beat = os.time()
    return true
  end
  -- TLS (slurm.tls): the host made the certificate and pins it. The key is read once and removed
  -- from the shared job directory.
  local tls
  if spec.tls then
    tls = { cert = assert(fs.read(path.join(dir, "tls.pem"))), key = assert(fs.read(path.join(dir, "tls.key"))) }
    os.remove(path.join(dir, "tls.key"))
  end
  local server = rpc.listen("tcp:" .. spec.bind .. ":0", function(method, args)
    local fn = h[method]
    if not fn then error({ type = "MethodNotFound", message = ("no node method '%s'"):format(tostring(method)) }) end
    local unpack = table.unpack or unpack
    if method == "relay" then return fn(args[1], args[2], args[3] or {}, args[4]) end
    return fn(unpack(args, 1, 4))
  end, { token = token, tls = tls })
  -- Published only once listening, atomically, readable by the job's owner alone.
  local tmp = path.join(dir, "endpoint.tmp")
  -- Second line: when this process started (seer.core.now, a monotonic clock: comparable with the
  -- host's only on the same machine, which bench/slurm.lua uses to tell the scheduler's share).
  assert(fs.write(tmp, server.address:gsub("^tcp:", "") .. "\n" .. ("%.6f"):format(started) .. "\n"))
  assert(fs.chmod(tmp, 384)) -- 0600
  assert(os.rename(tmp, path.join(dir, "endpoint")))

  local ended
  local reason
  local function finish(why)
    if reason then return end
    reason = why
    if ended then ended() end
  end
  backend:on_exit(function(why) finish("sandbox exited: " .. why) end)
  local watch = require("seer.signal").on_stop(function() finish("the job was signalled to stop") end)
  local grace = spec.heartbeat_grace or 30
  local watchdog = task.spawn(function()
    while not reason do
      task.sleep(1)
      if os.time() - last_beat > grace then
        host_alive = false
        finish(("no word from the host for %d s (it exited or was killed)"):format(grace))
      end
    end
  end)
  if not reason then
    task.await(function(done)
      ended = done
      return nil
    end)
  end
  -- Why the sandbox died on its own (out of memory...) is the host's to read when the connection
  -- drops. When the host or Slurm ended it, the host is removing the job directory: write nothing.
  if reason:match("^sandbox exited") then report("exit_reason", reason) end
  if not host_alive then
    -- Nobody will read or remove the job directory: remove it (its files are this job's own).
    fs.remove(dir)
  end
  io.stderr:write("seer slurm node: ending: ", reason, "\n")
  watchdog:cancel()
  watch:close()
  server:close()
  backend:terminate()
end

return M
