--- seer.model_fit: the memory arithmetic of a model, from its config.json, before anything is
--- loaded: weights by part (embeddings, head, one decoder layer), the KV cache per token, and whether
--- that fits the machine. seer.model.load refuses what does not fit, with this arithmetic.
local json = require "seer.json"

local M = {}

local GB = 1e9

-- Bytes per parameter of a config's torch_dtype (the stored weights).
local dtype_bytes = { bfloat16 = 2, float16 = 2, float32 = 4, bf16 = 2, f16 = 2, f32 = 4 }

-- Gemma3TextConfig's defaults for what a wrapped Gemma 3 config leaves out (runtime/model/wrapped.c
-- fills the same ones).
local gemma3_defaults = { vocab_size = 262208, hidden_size = 2304, intermediate_size = 9216,
  num_hidden_layers = 26, num_attention_heads = 8, num_key_value_heads = 4, head_dim = 256 }

local function text_config(cfg)
  local arch = type(cfg.architectures) == "table" and cfg.architectures[1] or nil
  if arch == "Gemma3ForConditionalGeneration" and type(cfg.text_config) == "table" then
    local t = {}
    for k, v in pairs(gemma3_defaults) do t[k] = v end
    for k, v in pairs(cfg.text_config) do t[k] = v end
    if t.tie_word_embeddings == nil then t.tie_word_embeddings = cfg.tie_word_embeddings end
    t.torch_dtype = t.torch_dtype or cfg.torch_dtype
    return t, arch
  end
  return cfg, arch
end

local function num(v) return type(v) == "number" and v or nil end

--- The memory a model needs, from its config (a table or the path of a config.json).
---@param config any
---@return table {weights, embed, head, layer, layers, kv_per_token, dtype, bytes_per_param, architecture}
function M.estimate(config)
  local cfg = config
  if type(config) == "string" then
    local f = assert(io.open(config, "rb"))
    cfg = json.decode(f:read("*a"))
    f:close()
  end
  local t, arch = text_config(cfg)
  local H, L, V, I = num(t.hidden_size), num(t.num_hidden_layers), num(t.vocab_size), num(t.intermediate_size)
  local nh = num(t.num_attention_heads)
  if not (H and L and V and I and nh) then
    error("seer.model_fit: the config lacks hidden_size, num_hidden_layers, vocab_size, "
      .. "intermediate_size or num_attention_heads", 2)
  end
  local nkv = num(t.num_key_value_heads) or nh
  local hd = num(t.head_dim) or math.floor(H / nh)
  local bpp = dtype_bytes[t.torch_dtype or t.dtype or "bfloat16"] or 2
  local tie = t.tie_word_embeddings
  if tie == nil then tie = arch and arch:find("^Gemma") ~= nil end
  local norms = (arch and arch:find("^Gemma[23]")) and 4 or 2 -- Gemma 2/3 have sandwich norms
  local layer_params = nh * hd * H * 2 + nkv * hd * H * 2 + 3 * I * H + norms * H
  local r = {
    architecture = arch,
    dtype = t.torch_dtype or "bfloat16",
    bytes_per_param = bpp,
    num_layers = L,
    embed = V * H * bpp,
    head = tie and 0 or V * H * bpp,
    layer = layer_params * bpp,
    -- the engine's cache holds keys and values in f32
    kv_per_token = 2 * L * nkv * hd * 4,
  }
  r.layers = r.layer * L
  r.weights = r.embed + r.head + r.layers
  return r
end

--- Physical memory of this machine in bytes (MemTotal), or nil.
function M.machine_memory()
  local f = io.open("/proc/meminfo", "r")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  local kb = s:match("MemTotal:%s*(%d+)")
  return kb and tonumber(kb) * 1024 or nil
end

--- The arithmetic as one line, e.g. "weights 141.1 GB (bfloat16: 80 layers x 1.71 GB + embeddings
--- 2.10 GB + head 2.10 GB), KV cache 0.33 MB per token".
---@param e table from estimate
---@return string
function M.describe(e)
  local head = e.head > 0 and (" + head %.2f GB"):format(e.head / GB) or " (head tied)"
  return ("weights %.1f GB (%s: %d layers x %.2f GB + embeddings %.2f GB%s), KV cache %.2f MB per token")
    :format(e.weights / GB, e.dtype, e.num_layers, e.layer / GB, e.embed / GB, head, e.kv_per_token / 1e6)
end

--- Whether a model of this estimate fits in `memory` bytes (default this machine's); false and the
--- reason, with the arithmetic, when it does not.
---@param e table from estimate
---@param memory number?
---@return boolean
---@return string? why
function M.fits(e, memory)
  memory = memory or M.machine_memory()
  if not memory then return true end
  if e.weights <= memory then return true end
  return false, ("%s; this device has %.1f GB of memory. Models larger than one device are not "
    .. "supported yet"):format(M.describe(e), memory / GB)
end

return M
