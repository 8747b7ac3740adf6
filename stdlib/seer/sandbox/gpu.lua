--- seer.sandbox.gpu: what a local sandbox started with SandboxConfig{gpu = ..., gpu_count = n}
--- gets from the host: the NVIDIA device nodes (nvidiactl, nvidia-uvm and the first n GPU nodes
--- nvidia0, nvidia1, ...) bound under its own /dev, and the driver's user-space libraries
--- (libcuda.so.1, found as seer.cuda finds it, and the libraries beside it that it loads) visible
--- read-only at their host paths. A host without them is a clear error at start() naming what is
--- missing. The GPU name (Seer's "H100") selects a machine elsewhere; locally the host's GPUs are
--- the ones there are.
local cuda = require "seer._cuda"
local fs = require "seer.fs"
local path = require "seer.path"

local M = {}

-- Where the device nodes are; tests point it at a directory of stand-in nodes.
M.device_root = "/dev"
-- The driver library to resolve; nil: as the engine's loader finds it ($SEER_CUDA_LIBRARY, else
-- libcuda.so.1 through the dynamic loader).
M.library = nil

-- Every CUDA process opens these; nvidia-uvm-tools and nvidia-modeset only some tools do.
local CONTROL_NODES = { "nvidiactl", "nvidia-uvm" }
local OPTIONAL_NODES = { "nvidia-uvm-tools", "nvidia-modeset" }
-- The driver's user-space libraries libcuda loads at run time (PTX JIT, NVVM, the compiler of
-- newer drivers) and NVML for nvidia-smi: kept beside libcuda by every driver installer.
local DRIVER_LIBRARIES = {
  "^libcuda%.so", "^libnvidia%-ptxjitcompiler%.so", "^libnvidia%-nvvm%.so",
  "^libnvidia%-gpucomp%.so", "^libnvidia%-ml%.so",
}

local function fail(msg) error("sandbox.start: " .. msg, 0) end

-- The GPU nodes (nvidia0, nvidia1, ...) under the device root, in index order.
local function gpu_nodes(root)
  local found = {}
  for _, name in ipairs(fs.list(root) or {}) do
    local n = name:match("^nvidia(%d+)$")
    if n then found[#found + 1] = { index = tonumber(n), name = name } end
  end
  table.sort(found, function(a, b) return a.index < b.index end)
  return found
end

local function under(p, dirs)
  for _, d in ipairs(dirs) do
    if p == d or p:sub(1, #d + 1) == d .. "/" then return true end
  end
  return false
end

--- The device nodes, library binds and environment for a sandbox with `count` GPUs, or an error
--- (raised) naming what the host lacks.
---@param count integer GPUs to bind (>= 1)
---@param visible string[] host directories the sandbox sees anyway (its system binds)
---@return table devices {src, dst} nodes for the spec's `devices`
---@return table binds read-only {src, dst} library binds
---@return table env variables for commands run inside (SEER_CUDA_LIBRARY, LD_LIBRARY_PATH)
function M.mounts(count, visible)
  local root = M.device_root
  local devices = {}
  for _, name in ipairs(CONTROL_NODES) do
    local p = path.join(root, name)
    if not fs.exists(p) then
      fail(("SandboxConfig asks for %d GPU%s, but this host has no NVIDIA GPU: %s is missing (the "
        .. "NVIDIA kernel driver is not loaded); run it on a machine with an NVIDIA GPU, or leave "
        .. "out gpu"):format(count, count == 1 and "" or "s", p))
    end
    devices[#devices + 1] = { src = p, dst = name }
  end
  for _, name in ipairs(OPTIONAL_NODES) do
    local p = path.join(root, name)
    if fs.exists(p) then devices[#devices + 1] = { src = p, dst = name } end
  end
  local gpus = gpu_nodes(root)
  if #gpus < count then
    local names = {}
    for i, g in ipairs(gpus) do names[i] = g.name end
    fail(("SandboxConfig asks for %d GPUs, but %s has %d (%s); lower gpu_count"):format(
      count, root, #gpus, #names > 0 and table.concat(names, ", ") or "no nvidiaN node"))
  end
  for i = 1, count do
    devices[#devices + 1] = { src = path.join(root, gpus[i].name), dst = gpus[i].name }
  end

  local lib, why = cuda.library_path(M.library)
  if not lib then
    fail("SandboxConfig asks for a GPU, but the NVIDIA driver library was not found: " .. why
      .. "; install the NVIDIA driver (or set SEER_CUDA_LIBRARY to its libcuda.so.1)")
  end
  local dir = path.dirname(lib)
  local binds, env = {}, { SEER_CUDA_LIBRARY = lib }
  if not under(dir, visible) then
    -- Bound file by file at the host's paths, so the sandbox sees the driver and nothing else of
    -- that directory; the loader inside finds them through SEER_CUDA_LIBRARY and the library path.
    for _, name in ipairs(fs.list(dir) or {}) do
      for _, pattern in ipairs(DRIVER_LIBRARIES) do
        if name:match(pattern) then
          local p = path.join(dir, name)
          binds[#binds + 1] = { src = p, dst = p }
          break
        end
      end
    end
    env.LD_LIBRARY_PATH = dir
  end
  return devices, binds, env
end

return M
