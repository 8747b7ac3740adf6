--- seer.cuda: whether this build and this machine can run models on an NVIDIA GPU.
--- The driver is loaded at run time (libcuda.so.1, or $SEER_CUDA_LIBRARY); the kernels are embedded
--- in the binary when it was built with the CUDA toolkit's nvcc. A device model's decode steps
--- (one token per row over a KV cache, without hooks) run as CUDA graphs, captured once and
--- replayed; $SEER_CUDA_GRAPHS=0 launches every kernel directly instead (an A/B of the two).
local C = require "seer._cuda"

local M = {}

--- Probe the NVIDIA driver and one GPU. `ready` is true when models can load with device = "cuda";
--- otherwise `message` is one sentence naming what is missing and what to do.
---@param device_index integer? which GPU (default 0)
---@return table status {ready: boolean, state: string, message: string, driver_version: integer,
---  device_count: integer, device_name: string?, compute_capability: string?, total_mem: number?,
---  kernels: string?, build_version: integer, cublaslt_ready: boolean, cublaslt: string (cuBLASLt's
---  version, or what is missing: without it prefill runs on seer's own kernels)}
function M.status(device_index)
  if device_index ~= nil and (type(device_index) ~= "number" or device_index < 0 or device_index % 1 ~= 0) then
    error("seer.cuda.status: device_index must be an integer >= 0", 2)
  end
  return C.status(device_index or 0)
end

--- Where the NVIDIA driver library is, found as the engine's loader finds it ($SEER_CUDA_LIBRARY,
--- else libcuda.so.1 through the dynamic loader), as a real path. GPU sandboxes bind it.
---@param library string? a library name or path to resolve instead
---@return string? path
---@return string? err one sentence when it cannot be loaded
function M.library_path(library)
  if library ~= nil and type(library) ~= "string" then
    error("seer.cuda.library_path: library must be a string", 2)
  end
  return C.library_path(library)
end

return M
