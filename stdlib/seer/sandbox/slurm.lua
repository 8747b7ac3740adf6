--- seer.sandbox.slurm: the scheduler side of the "slurm" backend, through Slurm's own tools:
--- `sbatch --parsable` to submit, one `squeue` per interval for every job this process tracks (and
--- `scontrol show job` for one that left the queue, to learn why), `scancel` to end one. Nothing
--- of ours runs on the cluster but the job itself. SLURM_CONF and PATH decide which cluster.
local process = require "seer.process"
local task = require "seer.task"

local M = {}

--- Seconds between two `squeue` calls of the tracker (one call for all jobs).
M.POLL_INTERVAL = 1
--- How many `squeue` calls the tracker made (bench/slurm.lua checks it stays one per interval).
M.squeue_calls = 0

-- squeue/sbatch may hang when the controller does not answer: never wait on them unbounded.
local COMMAND_TIMEOUT = 30

local function run(cmd, args)
  local ok, r = pcall(process.run, { cmd = cmd, args = args, timeout = COMMAND_TIMEOUT })
  if not ok then
    return nil, ("'%s' could not be run (%s); is Slurm installed on this host?"):format(cmd, tostring(r))
  end
  if r.timed_out then return nil, ("'%s %s' did not answer within %d s"):format(cmd, args[1] or "", COMMAND_TIMEOUT) end
  if not r.ok then
    local why = (r.stderr ~= "" and r.stderr or r.stdout):gsub("^%s+", ""):gsub("%s+$", "")
    why = why:gsub("sbatch: error: ", ""):gsub("\n", "; ")
    return nil, why ~= "" and why or ("exit status " .. tostring(r.code))
  end
  return r.stdout
end

--- Minutes, as sbatch's --time takes them, from seconds.
local function minutes(seconds) return math.max(1, math.ceil(seconds / 60)) end

local function mem_megabytes(bytes) return math.max(1, math.ceil(bytes / 1048576)) end

--- The sbatch arguments for a sandbox config (seer.sandbox.config's SandboxConfig), its Slurm
--- settings (cfg.slurm over the SEER_SLURM_* defaults) and a job directory. GPUs: a gpu name
--- ("H100") becomes --gres=gpu:h100:N; gpu = true becomes --gpus=N.
function M.sbatch_args(cfg, s, job)
  local args = { "--parsable", "--job-name=" .. job.name, "--output=" .. job.log, "--export=NONE",
                 "--chdir=" .. job.dir, "--time=" .. (s.time or tostring(minutes(cfg.timeout + (s.grace or 60)))) }
  for _, f in ipairs({ "partition", "account", "qos", "constraint" }) do
    if s[f] then args[#args + 1] = ("--%s=%s"):format(f, s[f]) end
  end
  if cfg.gpu ~= nil and cfg.gpu ~= false then
    local n = cfg.gpu_count > 0 and cfg.gpu_count or 1
    if type(cfg.gpu) == "string" then
      args[#args + 1] = ("--gres=gpu:%s:%d"):format(cfg.gpu:lower(), n)
    else
      args[#args + 1] = "--gpus=" .. n
    end
  end
  if cfg.cpus and cfg.cpus > 0 then args[#args + 1] = "--cpus-per-task=" .. math.ceil(cfg.cpus) end
  if cfg.memory_bytes and cfg.memory_bytes > 0 then args[#args + 1] = "--mem=" .. mem_megabytes(cfg.memory_bytes) end
  for _, a in ipairs(s.extra_args or {}) do args[#args + 1] = a end
  args[#args + 1] = job.script
  return args
end

--- Submit; returns the job id or nil and sbatch's reason.
function M.submit(args)
  local out, err = run("sbatch", args)
  if not out then return nil, err end
  local id = out:match("^(%d+)")
  if not id then return nil, "sbatch printed no job id: " .. out:sub(1, 200) end
  return id
end

function M.cancel(id) return run("scancel", { tostring(id) }) end

--- One job's state from `scontrol show job` (for jobs squeue no longer lists): state, reason.
function M.show(id)
  local out = run("scontrol", { "show", "job", "-o", tostring(id) })
  if not out then return nil end
  local state = out:match("JobState=(%S+)")
  local reason = out:match("Reason=(%S+)")
  if reason == "None" then reason = nil end
  return state, reason, out:match("RunTime=(%S+)"), out:match("TimeLimit=(%S+)")
end

-- The tracker: jobs[id] = fn(state, reason, position). One squeue per interval for all of them.
local jobs, njobs, poller = {}, 0, nil

local function poll_once()
  local ids = {}
  for id in pairs(jobs) do ids[#ids + 1] = id end
  if #ids == 0 then return end
  M.squeue_calls = M.squeue_calls + 1
  local out = run("squeue", { "-h", "-j", table.concat(ids, ","), "-o", "%i|%T|%r" })
  local seen = {}
  -- Pending jobs in priority order give each its place in the queue of its partition.
  local position = 0
  for line in (out or ""):gmatch("[^\n]+") do
    local id, state, reason = line:match("^(%d+)|([^|]*)|(.*)$")
    if id and jobs[id] then
      seen[id] = true
      if state == "PENDING" then position = position + 1 end
      pcall(jobs[id], state, reason ~= "None" and reason or nil, state == "PENDING" and position or nil)
    end
  end
  if not out then return end
  for _, id in ipairs(ids) do
    if not seen[id] and jobs[id] then
      local state, reason = M.show(id)
      pcall(jobs[id], state or "GONE", reason)
    end
  end
end

--- Track job `id`: fn(state, reason, queue_position) after every poll, until `untrack(id)`.
function M.track(id, fn)
  id = tostring(id)
  if not jobs[id] then njobs = njobs + 1 end
  jobs[id] = fn
  if not poller then
    poller = task.spawn(function()
      while njobs > 0 do
        poll_once()
        task.sleep(M.POLL_INTERVAL)
      end
      poller = nil
    end)
    poller.name = "slurm-poll"
  end
end

function M.untrack(id)
  id = tostring(id)
  if jobs[id] then
    jobs[id] = nil
    njobs = njobs - 1
  end
end

--- How many jobs the tracker follows (for tests and the bench).
function M.tracked() return njobs end

--- A one-line description of the cluster for `seer-lua doctor`: reachable, its partitions and GPU
--- gres, or why not.
function M.describe()
  local out, err = run("sinfo", { "-h", "-o", "%P|%a|%D|%G" })
  if not out then
    -- sinfo's last word says it best ("Could not establish a configuration source").
    return nil, (err:match("([^;]*)$"):gsub("^%s+", "")) .. "; is SLURM_CONF set?"
  end
  local parts = {}
  for line in out:gmatch("[^\n]+") do
    local p, avail, nodes, gres = line:match("^([^|]*)|([^|]*)|([^|]*)|(.*)$")
    if p then parts[#parts + 1] = ("%s (%s, %s nodes, gres %s)"):format(p, avail, nodes, gres) end
  end
  return #parts > 0 and table.concat(parts, "; ") or "no partitions"
end

return M
