--- seer-lua doctor: report what this machine offers the runtime (Lua flavour, namespaces, cgroups,
--- seccomp, GPU driver, Hugging Face cache, Slurm) so that setup problems are visible before a run.
local seer = require "seer"
local cli = require "seer.cli"
local fs = require "seer.fs"

local M = {}

local function check(label, ok, detail)
  io.write(("%-28s %s%s\n"):format(label, ok and "ok" or "missing", detail and ("  (" .. detail .. ")") or ""))
  return ok
end

local USAGE = [[
usage: seer-lua doctor
  Reports what this machine offers the runtime: Lua flavour, user namespaces, cgroup v2, seccomp,
  CPU kernels, NVIDIA GPU, the Hugging Face cache and Slurm; "missing" lines say what to set up.
]]

function M.main(args)
  local o, err = cli.parse(args or {}, {})
  if not o then return cli.usage_error("seer-lua doctor", err, USAGE) end
  if o.help then
    io.write(USAGE)
    return 0
  end
  io.write(("seer-lua %s, %s\n"):format(seer.version, seer.lua_version))
  local userns = fs.read("/proc/sys/kernel/unprivileged_userns_clone")
  check("user namespaces", fs.exists("/proc/self/ns/user"),
    userns and ("unprivileged_userns_clone=" .. userns:gsub("%s+", "")) or nil)
  check("cgroup v2", fs.exists("/sys/fs/cgroup/cgroup.controllers"))
  check("seccomp", fs.exists("/proc/sys/kernel/seccomp"))
  local level, best = require("seer.tensor").cpu_level()
  check("CPU kernels", true, level == best and level or (level .. ", lowered by SEER_CPU from " .. best))
  local gpu = require("seer.cuda").status(0)
  check("NVIDIA GPU (CUDA)", gpu.ready, gpu.message)
  if gpu.ready then check("cuBLASLt (prefill GEMMs)", gpu.cublaslt_ready, gpu.cublaslt) end
  local hf_home = os.getenv("HF_HOME") or ((os.getenv("HOME") or "") .. "/.cache/huggingface")
  local hub = os.getenv("HF_HUB_CACHE") or (hf_home .. "/hub")
  check("Hugging Face cache", fs.is_dir(hub), hub)
  -- The slurm backend: whether this host reaches a cluster (SLURM_CONF, sinfo), its partitions
  -- and GPU gres.
  local slurm, why = require("seer.sandbox.slurm").describe()
  check("Slurm (backend \"slurm\")", slurm ~= nil, slurm or why)
  return 0
end

return M
