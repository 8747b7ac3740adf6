--- seer.sandbox.config: the validated config records of seer.environment. Every constructor
--- checks each field's type, fills defaults, and refuses unknown fields with the list of valid ones.
local M = {}

M.ExecutionMode = { LOCAL = "local", NOTEBOOK = "notebook", CLI = "cli" }

local function field_error(record, msg, level)
  error(("%s: %s"):format(record, msg), level + 1)
end

local function check_fields(record, given, spec)
  if type(given) ~= "table" then field_error(record, "expected a table of fields", 3) end
  for k in pairs(given) do
    if spec[k] == nil then
      local names = {}
      for n in pairs(spec) do names[#names + 1] = n end
      table.sort(names)
      field_error(record, ("unknown field '%s' (valid fields: %s)"):format(tostring(k), table.concat(names, ", ")), 3)
    end
  end
  for k, want in pairs(spec) do
    local v = given[k]
    if v ~= nil and want ~= "any" and type(v) ~= want then
      field_error(record, ("field '%s' must be a %s, got %s"):format(k, want, type(v)), 3)
    end
  end
end

local UNITS = { [""] = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3, t = 1024 ^ 4 }

--- "512M", "4G", "1.5g", 1073741824 -> bytes
function M.parse_bytes(v, what)
  if type(v) == "number" then return math.floor(v) end
  local num, unit = tostring(v):lower():match("^%s*([%d.]+)%s*([kmgt]?)i?b?%s*$")
  if not num or not tonumber(num) then
    error(("%s: cannot read '%s' as a size (use bytes or a string like \"512M\" or \"4G\")")
      :format(what, tostring(v)), 3)
  end
  return math.floor(tonumber(num) * UNITS[unit])
end

local MODEL_FIELDS = { name = "string", revision = "string", var_name = "string", hidden = "boolean",
                       dtype = "string", device = "string" }

local ModelConfig = {}
ModelConfig.__index = ModelConfig
ModelConfig.__name = "ModelConfig"
M.ModelConfig = setmetatable(ModelConfig, {
  ---@return table
  __call = function(_, fields)
    check_fields("ModelConfig", fields, MODEL_FIELDS)
    if not fields.name or not fields.name:match("^[%w._-]+/[%w._-]+$") then
      error("ModelConfig: 'name' must be a hub id of the form 'org/name'", 2)
    end
    local m = { var_name = "model", hidden = false }
    for k, v in pairs(fields) do m[k] = v end
    return setmetatable(m, ModelConfig)
  end,
})

local SANDBOX_FIELDS = {
  gpu = "any", gpu_count = "number", models = "table", secrets = "table", env = "table",
  timeout = "number", local_files = "table", local_dirs = "table", execution_mode = "string",
  backend = "string", memory = "any", cpus = "number", pids = "number", network = "boolean",
  nofile = "number", python_packages = "any", disk = "any", tmp = "any", cpu_time = "number",
}

-- A sandbox ends after this long unless `timeout` says otherwise: none runs forever unnoticed.
M.DEFAULT_TIMEOUT = 24 * 3600
-- /workspace and /tmp are tmpfs mounts of these sizes, at most the memory limit, which counts them.
local DEFAULT_DISK, DEFAULT_TMP = 2 * 1024 ^ 3, 1024 ^ 3

local SandboxConfig = {}
SandboxConfig.__index = SandboxConfig
SandboxConfig.__name = "SandboxConfig"
M.SandboxConfig = setmetatable(SandboxConfig, {
  __call = function(_, fields)
    check_fields("SandboxConfig", fields, SANDBOX_FIELDS)
    if fields.python_packages ~= nil then
      error("SandboxConfig: 'python_packages' has no meaning in seer-lua (sandboxes run Lua and the "
        .. "system's programs; there is no Python environment to install into)", 2)
    end
    local c = {
      backend = "local", network = false, memory = "8G", pids = 512, nofile = 4096, cpus = 0,
      models = {}, secrets = {}, env = {}, local_files = {}, local_dirs = {},
      execution_mode = M.ExecutionMode.LOCAL, gpu = nil, gpu_count = 0,
    }
    for k, v in pairs(fields) do c[k] = v end
    if c.backend ~= "local" then
      error(("SandboxConfig: backend '%s' is not available (available: local)"):format(c.backend), 2)
    end
    for i, m in ipairs(c.models) do
      if getmetatable(m) ~= ModelConfig then
        if type(m) == "string" then m = { name = m } end
        local ok, res = pcall(M.ModelConfig, m)
        if not ok then error(("SandboxConfig: models[%d]: %s"):format(i, res), 2) end
        c.models[i] = res
      end
    end
    for i, s in ipairs(c.secrets) do
      if type(s) ~= "string" then error(("SandboxConfig: secrets[%d] must be a variable name"):format(i), 2) end
    end
    for k, v in pairs(c.env) do
      if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
        error("SandboxConfig: 'env' must map names to strings", 2)
      end
    end
    for _, list in ipairs({ "local_files", "local_dirs" }) do
      for i, pair in ipairs(c[list]) do
        if type(pair) ~= "table" or type(pair[1]) ~= "string" or type(pair[2]) ~= "string" then
          error(("SandboxConfig: %s[%d] must be {host_path, sandbox_path}"):format(list, i), 2)
        end
      end
    end
    if c.gpu ~= nil and c.gpu ~= false then
      -- Named GPUs (Seer's "A100") select a Modal machine; locally every visible GPU is the one.
      c.gpu_count = c.gpu_count > 0 and c.gpu_count or 1
    end
    c.memory_bytes = M.parse_bytes(c.memory, "SandboxConfig.memory")
    local cap = c.memory_bytes > 0 and c.memory_bytes or math.huge
    c.disk_bytes = c.disk and M.parse_bytes(c.disk, "SandboxConfig.disk") or math.min(DEFAULT_DISK, cap)
    c.tmp_bytes = c.tmp and M.parse_bytes(c.tmp, "SandboxConfig.tmp") or math.min(DEFAULT_TMP, cap)
    if c.disk_bytes <= 0 or c.tmp_bytes <= 0 then error("SandboxConfig: 'disk' and 'tmp' must be positive sizes", 2) end
    if c.timeout ~= nil and c.timeout <= 0 then error("SandboxConfig: 'timeout' must be positive seconds", 2) end
    c.timeout = c.timeout or M.DEFAULT_TIMEOUT
    if c.cpu_time ~= nil and c.cpu_time <= 0 then error("SandboxConfig: 'cpu_time' must be positive seconds", 2) end
    return setmetatable(c, SandboxConfig)
  end,
})

return M
