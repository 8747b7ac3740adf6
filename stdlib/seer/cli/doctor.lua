--- seer-lua doctor: report what this machine offers the runtime (Lua flavour, namespaces, cgroups,
--- seccomp, GPU driver, Hugging Face cache) so that setup problems are visible before a run.
local seer = require "seer"
local fs = require "seer.fs"

local M = {}

local function check(label, ok, detail)
  io.write(("%-28s %s%s\n"):format(label, ok and "ok" or "missing", detail and ("  (" .. detail .. ")") or ""))
  return ok
end

function M.main(_args)
  io.write(("seer-lua %s, %s\n"):format(seer.version, seer.lua_version))
  local userns = fs.read("/proc/sys/kernel/unprivileged_userns_clone")
  check("user namespaces", fs.exists("/proc/self/ns/user"),
    userns and ("unprivileged_userns_clone=" .. userns:gsub("%s+", "")) or nil)
  check("cgroup v2", fs.exists("/sys/fs/cgroup/cgroup.controllers"))
  check("seccomp", fs.exists("/proc/sys/kernel/seccomp"))
  local gpu = fs.exists("/dev/nvidiactl")
  check("NVIDIA GPU device", gpu, gpu and nil or "CPU only")
  local hf_home = os.getenv("HF_HOME") or ((os.getenv("HOME") or "") .. "/.cache/huggingface")
  local hub = os.getenv("HF_HUB_CACHE") or (hf_home .. "/hub")
  check("Hugging Face cache", fs.is_dir(hub), hub)
  return 0
end

return M
