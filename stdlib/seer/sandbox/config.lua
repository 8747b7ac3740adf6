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

-- hidden: mounted at /models/model-<n> with its hub ids rewritten out of its files. is_peft: a PEFT
-- LoRA adapter; its base model (base_model, else adapter_config.json's base_model_name_or_path) is
-- pulled and mounted too, and the adapter's config names where.
local MODEL_FIELDS = { name = "string", revision = "string", var_name = "string", hidden = "boolean",
                       dtype = "string", device = "string", is_peft = "boolean", base_model = "string",
                       base_revision = "string" }

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
    if fields.base_model ~= nil and not fields.is_peft then
      error("ModelConfig: 'base_model' is for PEFT adapters; set is_peft = true as well", 2)
    end
    if fields.base_model ~= nil and not fields.base_model:match("^[%w._-]+/[%w._-]+$") then
      error("ModelConfig: 'base_model' must be a hub id of the form 'org/name'", 2)
    end
    local m = { var_name = "model", hidden = false, is_peft = false }
    for k, v in pairs(fields) do m[k] = v end
    return setmetatable(m, ModelConfig)
  end,
})

local SANDBOX_FIELDS = {
  gpu = "any", gpu_count = "number", models = "table", secrets = "table", env = "table",
  timeout = "number", local_files = "table", local_dirs = "table", execution_mode = "string",
  backend = "string", memory = "any", cpus = "number", pids = "number", network = "boolean",
  nofile = "number", python_packages = "any", disk = "any", tmp = "any", cpu_time = "number",
  slurm = "table",
}

M.BACKENDS = { ["local"] = true, slurm = true }

-- SandboxConfig.slurm fields, each defaulting to $SEER_SLURM_<NAME> (so a script written for the
-- local backend moves to a cluster with SEER_SANDBOX_BACKEND=slurm and these, and no edits).
local SLURM_FIELDS = {
  partition = "string", account = "string", qos = "string", time = "string", constraint = "string",
  extra_args = "table", job_dir = "string", bind = "string", job_name = "string",
  start_timeout = "number", heartbeat_grace = "number", tls = "boolean", node_cache = "string",
}

local function slurm_settings(given)
  check_fields("SandboxConfig.slurm", given, SLURM_FIELDS)
  local s = {}
  for name, kind in pairs(SLURM_FIELDS) do
    local v = given[name]
    if v == nil then
      local env = os.getenv("SEER_SLURM_" .. name:upper())
      if env and env ~= "" then
        if kind == "number" then v = tonumber(env)
        elseif kind == "boolean" then v = env == "1" or env == "true" or env == "yes"
        elseif kind == "table" then
          v = {}
          for word in env:gmatch("%S+") do v[#v + 1] = word end
        else v = env end
      end
    end
    s[name] = v
  end
  for i, a in ipairs(s.extra_args or {}) do
    if type(a) ~= "string" or not a:match("^%-%-?[%w]") then
      error(("SandboxConfig.slurm.extra_args[%d] must be an sbatch option such as '--exclusive'"):format(i), 3)
    end
  end
  return s
end

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
      backend = os.getenv("SEER_SANDBOX_BACKEND") or "local", network = false, memory = "8G", pids = 512,
      nofile = 4096, cpus = 0,
      models = {}, secrets = {}, env = {}, local_files = {}, local_dirs = {},
      execution_mode = M.ExecutionMode.LOCAL, gpu = nil, gpu_count = 0,
    }
    for k, v in pairs(fields) do c[k] = v end
    if not M.BACKENDS[c.backend] then
      error(("SandboxConfig: backend '%s' is not available (available: local, slurm)"):format(c.backend), 2)
    end
    if c.slurm ~= nil and c.backend ~= "slurm" then
      error("SandboxConfig: 'slurm' settings need backend = \"slurm\"", 2)
    end
    if c.backend == "slurm" then c.slurm = slurm_settings(c.slurm or {}) end
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
