--- seer.sae: sparse autoencoders as interpretability work loads them from the hub, run natively.
--- Two formats: SAELens (cfg.json + sae_weights.safetensors; standard, jumprelu, topk and gated
--- architectures) and Gemma Scope (params.npz; JumpReLU). The maths is SAELens' (C, seer._sae);
--- this module owns the formats, the mapping of hook names to the model's hook points, shapes and
--- the hooks that read or edit features during forward and generate.
---
--- Feature ids are the SAE's own numbering, from 0, as SAELens and Neuronpedia count them:
--- `s.W_dec[id]` is feature id's decoder row, and `top_features` reports ids. Column id + 1 of an
--- activations Tensor holds feature id (Tensors index from 1).
local C = require "seer._sae"
local tensor = require "seer.tensor"
local json = require "seer.json"
local fs = require "seer.fs"

local M = {}

-- An integer-valued number (math.type is Lua 5.3+; LuaJIT numbers are doubles).
local function is_int(v) return type(v) == "number" and v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 end

local SAE = {}
SAE.__index = SAE

local Handle = {}
Handle.__index = Handle

-- What the engine reads at most from an .npz unless told otherwise (Gemma Scope's widest SAEs
-- are ~30 GB in f32; a declared size past this is refused before anything is inflated).
local DEFAULT_MAX_BYTES = 64 * 2 ^ 30

local check_opts = require("seer.schema").check_options

-- ---- hook names ----

-- TransformerLens hook names (what SAELens records) -> the engine's hook points. Each entry maps
-- the captures of its pattern to a point, or returns nil, reason.
local hook_names = {
  { "^blocks%.(%d+)%.hook_resid_post$", function(l) return "layers." .. l end },
  { "^blocks%.(%d+)%.hook_resid_pre$", function(l)
    if l == 0 then return "embed" end
    return "layers." .. (l - 1)
  end },
  { "^blocks%.(%d+)%.hook_attn_out$", function(l) return "layers." .. l .. ".attn" end },
  { "^blocks%.(%d+)%.hook_mlp_out$", function(l) return "layers." .. l .. ".mlp" end },
  { "^ln_final%.hook_normalized$", function() return "final_norm" end },
  -- SAELens' HF-model SAEs name the decoder layer module itself: its output is the residual stream.
  { "^model%.layers%.(%d+)$", function(l) return "layers." .. l end },
  { "^model%.language_model%.layers%.(%d+)$", function(l) return "layers." .. l end },
}

--- The engine's hook point for a SAELens/TransformerLens hook name, or nil and why not.
---@param name string e.g. "blocks.12.hook_resid_post"
---@return string|nil point e.g. "layers.12"
---@return string? err
function M.hook_point(name)
  if type(name) ~= "string" then return nil, "the SAE has no hook_name" end
  for _, e in ipairs(hook_names) do
    local cap = name:match(e[1])
    if cap or name:match(e[1]) then return e[2](tonumber(cap)) end
  end
  return nil, ("hook_name '%s' has no hook point here (supported: blocks.L.hook_resid_post, "
    .. "blocks.L.hook_resid_pre, blocks.L.hook_attn_out, blocks.L.hook_mlp_out, "
    .. "ln_final.hook_normalized, model.layers.L)"):format(name)
end

-- ---- loading ----

local function fail(path, msg) error(("seer.sae.load: %s: %s"):format(path, msg), 3) end

local function read_json(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  local ok, v = pcall(json.decode, s)
  if not ok then return nil, "not valid JSON (" .. tostring(v) .. ")" end
  return v
end

local function cfg_value(cfg, key)
  local v = cfg[key]
  if v == nil and type(cfg.metadata) == "table" then v = cfg.metadata[key] end
  if v == json.null then return nil end
  return v
end

-- SAELens cfg.json -> spec fields, or an error naming what is not supported.
local function saelens_spec(dir, cfg)
  local arch = cfg_value(cfg, "architecture") or "standard"
  local act = cfg_value(cfg, "activation_fn_str") or cfg_value(cfg, "activation_fn")
  local kwargs = cfg_value(cfg, "activation_fn_kwargs") or {}
  local spec = { architecture = arch }
  if arch == "standard" and act == "topk" then spec.architecture = "topk" end
  if act ~= nil and act ~= "relu" and act ~= "topk" then
    fail(dir, ("activation_fn '%s' is not supported (relu and topk are)"):format(tostring(act)))
  end
  if spec.architecture == "topk" then
    spec.k = cfg_value(cfg, "k") or kwargs.k
    if not is_int(spec.k) then
      fail(dir, "a topk SAE needs an integer k (cfg k or activation_fn_kwargs.k)")
    end
    if cfg_value(cfg, "rescale_acts_by_decoder_norm") then
      fail(dir, "rescale_acts_by_decoder_norm is not supported")
    end
  elseif arch ~= "standard" and arch ~= "jumprelu" and arch ~= "gated" then
    fail(dir, ("architecture '%s' is not supported (standard, jumprelu, topk, gated are)"):format(tostring(arch)))
  end
  local norm = cfg_value(cfg, "normalize_activations") or "none"
  -- expected_average_only_in scales inputs during training only; at run time it is the identity.
  if norm == "expected_average_only_in" then norm = "none" end
  if norm ~= "none" and norm ~= "constant_norm_rescale" and norm ~= "layer_norm" then
    fail(dir, ("normalize_activations '%s' is not supported (none, expected_average_only_in, "
      .. "constant_norm_rescale, layer_norm are)"):format(tostring(norm)))
  end
  spec.normalize_activations = norm
  -- SAELens' configs default apply_b_dec_to_input to true when a cfg.json leaves it out.
  local bdec = cfg_value(cfg, "apply_b_dec_to_input")
  if bdec == nil then bdec = true end
  spec.apply_b_dec_to_input = bdec and true or false
  local head = cfg_value(cfg, "hook_head_index")
  if head ~= nil then fail(dir, "hook_head_index (per-head SAEs) is not supported") end
  return spec
end

local function load_saelens(dir, opts)
  local cfg, err = read_json(dir .. "/cfg.json")
  if not cfg then fail(dir .. "/cfg.json", err) end
  if type(cfg) ~= "table" then fail(dir .. "/cfg.json", "expected a JSON object") end
  local spec = saelens_spec(dir, cfg)
  local w, werr = tensor.load(dir .. "/sae_weights.safetensors")
  if not w then fail(dir, werr) end
  for k, v in pairs(w) do spec[k] = v end
  if spec.log_threshold and not spec.threshold then
    spec.threshold = spec.log_threshold:to("f32")
    local t = spec.threshold
    for i = 1, t.shape[1] do t[i] = math.exp(t[i]) end
  end
  if cfg_value(cfg, "finetuning_scaling_factor") ~= true then spec.finetuning_scaling_factor = nil
  elseif not spec.finetuning_scaling_factor then
    fail(dir, "cfg says finetuning_scaling_factor but the weights have no such tensor")
  end
  local hook_name = cfg_value(cfg, "hook_name")
  local point, perr = opts.hook_point, nil
  if not point then point, perr = M.hook_point(hook_name) end
  if not point then fail(dir, perr .. "; pass hook_point to choose one") end
  return spec, {
    format = "saelens",
    hook_name = hook_name,
    hook_point = point,
    d_in = cfg_value(cfg, "d_in"),
    d_sae = cfg_value(cfg, "d_sae"),
    cfg = cfg,
  }
end

-- Gemma Scope names its SAEs by site and layer: gemma-scope-2b-pt-res/layer_12/width_16k/...
local function gemmascope_point(where, opts)
  if opts.hook_point then return opts.hook_point end
  local layer = where:match("layer_(%d+)")
  if not layer then return nil, "cannot tell the layer from the path (no layer_N); pass hook_point" end
  if where:find("%-att") or where:find("/att") then
    return nil, "attention-output SAEs (hook_z, per head) are not supported"
  elseif where:find("%-mlp") or where:find("/mlp") then
    return "layers." .. layer .. ".mlp"
  end
  return "layers." .. layer -- res, or no site named: the residual stream after layer N
end

local function load_gemmascope(file, where, opts)
  local arrays, err = C.load_npz(file, opts.max_bytes or DEFAULT_MAX_BYTES)
  if not arrays then fail(file, err) end
  for _, k in ipairs({ "W_enc", "W_dec", "b_enc", "b_dec", "threshold" }) do
    if not arrays[k] then fail(file, ("the archive has no %s array (Gemma Scope has W_enc, W_dec, "
      .. "b_enc, b_dec, threshold)"):format(k)) end
  end
  local spec = {
    architecture = "jumprelu",
    normalize_activations = "none",
    apply_b_dec_to_input = false,
    W_enc = arrays.W_enc, W_dec = arrays.W_dec, b_enc = arrays.b_enc, b_dec = arrays.b_dec,
    threshold = arrays.threshold,
  }
  local point, perr = gemmascope_point(where, opts)
  if not point then fail(file, perr .. "; pass hook_point to choose one") end
  local ws = arrays.W_enc.shape
  return spec, { format = "gemmascope", hook_point = point, d_in = ws[1], d_sae = ws[2] }
end

local function is_hub_id(s)
  return not fs.exists(s) and (require("seer.hub.names").check_id(s)) == true
end

-- The local directory of an SAE in hub repository `id`: the cached snapshot when it holds the SAE,
-- else a download of that subfolder's files only (Gemma Scope repositories hold thousands of SAEs).
local function from_hub(id, opts)
  local hub = require "seer.hub"
  local sub = opts.subfolder
  local h = opts.hub or {}
  local function sae_in(snap)
    local dir = sub and (snap .. "/" .. sub) or snap
    if fs.exists(dir .. "/cfg.json") or fs.exists(dir .. "/params.npz") then return dir end
    return nil
  end
  local snap = hub.cached_path(id, { revision = opts.revision, cache_dir = h.cache_dir })
  local dir = snap and sae_in(snap)
  if dir then return dir end
  local patterns = sub and { sub .. "/*" } or { "cfg.json", "sae_weights.safetensors", "params.npz" }
  local ok, got = pcall(hub.download, id, { revision = opts.revision, allow_patterns = patterns,
    cache_dir = h.cache_dir, endpoint = h.endpoint, token = h.token, quiet = h.quiet })
  if not ok then error(("seer.sae.load: %s"):format(tostring(got)), 0) end
  dir = sae_in(got)
  if not dir then
    error(("seer.sae.load: %s has no SAE%s (no cfg.json or params.npz there); pass the SAE's "
      .. "folder as subfolder"):format(id, sub and (" in '" .. sub .. "'") or ""), 0)
  end
  return dir
end

-- Rows of a decoder-shaped matrix indexed by feature id (from 0).
local function feature_rows(mat, name)
  return setmetatable({}, {
    __index = function(_, id)
      if id == "tensor" then return mat end
      if not is_int(id) or id < 0 or id >= mat.shape[1] then
        error(("%s[id]: feature ids run from 0 to %d"):format(name, mat.shape[1] - 1), 2)
      end
      return mat[id + 1]
    end,
    __len = function() return mat.shape[1] end,
    __tostring = function() return ("%s: %d features x %d"):format(name, mat.shape[1], mat.shape[2]) end,
  })
end

--- Load an SAE: a SAELens directory (cfg.json + sae_weights.safetensors), a Gemma Scope
--- params.npz (or the directory holding it), or a hub id with the SAE in `subfolder`.
---@param path_or_id string local directory or file, or a hub repository id
---@param opts table? {subfolder, revision, hook_point (override), max_bytes, hub = {cache_dir, endpoint, token}}
---@return table sae with encode, decode, reconstruct, error, hook, top_features, W_dec, hook_point
function M.load(path_or_id, opts)
  opts = check_opts("seer.sae.load", opts, { "subfolder", "hook_point", "max_bytes", "revision", "hub" })
  if type(path_or_id) ~= "string" or path_or_id == "" then
    error("seer.sae.load: pass a directory, a params.npz, or a hub id", 2)
  end
  local sub = opts.subfolder
  if sub ~= nil and (type(sub) ~= "string" or sub == "" or sub:find("..", 1, true) or sub:match("^/")
      or sub:find("[%c\\]")) then
    error("seer.sae.load: subfolder must be a relative path inside the repository or directory", 2)
  end
  local path, label = path_or_id, path_or_id
  if is_hub_id(path_or_id) then
    path = from_hub(path_or_id, opts)
    label = path_or_id .. "/" .. (opts.subfolder or "")
  elseif opts.subfolder then
    path = path_or_id .. "/" .. opts.subfolder
    label = path
  end
  local spec, meta
  if fs.is_dir(path) and fs.exists(path .. "/cfg.json") then
    spec, meta = load_saelens(path, opts)
  elseif fs.is_dir(path) and fs.exists(path .. "/params.npz") then
    spec, meta = load_gemmascope(path .. "/params.npz", label, opts)
  elseif not fs.is_dir(path) and fs.exists(path) and path:match("%.npz$") then
    spec, meta = load_gemmascope(path, label, opts)
  else
    error(("seer.sae.load: no SAE at '%s' (expected cfg.json + sae_weights.safetensors, or params.npz)")
      :format(path), 2)
  end
  local ok, c = pcall(C.new, spec)
  if not ok then error(("seer.sae.load: %s: %s"):format(path, tostring(c)), 2) end
  local d_in, d_sae = c:dims()
  if meta.d_in and meta.d_in ~= d_in or meta.d_sae and meta.d_sae ~= d_sae then
    error(("seer.sae.load: %s: cfg.json says d_in %s, d_sae %s but the weights are %d x %d")
      :format(path, tostring(meta.d_in), tostring(meta.d_sae), d_in, d_sae), 2)
  end
  return setmetatable({
    _c = c,
    path = path,
    format = meta.format,
    architecture = spec.architecture,
    normalize_activations = spec.normalize_activations,
    apply_b_dec_to_input = spec.apply_b_dec_to_input,
    k = spec.k,
    d_in = d_in,
    d_sae = d_sae,
    hook_name = meta.hook_name,
    hook_point = meta.hook_point,
    cfg = meta.cfg,
    W_dec = feature_rows(spec.W_dec, "W_dec"),
    W_enc = spec.W_enc,
    b_enc = spec.b_enc or spec.b_gate,
    b_dec = spec.b_dec,
    threshold = spec.threshold,
  }, SAE)
end

function SAE:__tostring()
  return ("SAE(%s %s, d_in %d, d_sae %d, at %s)"):format(self.format, self.architecture, self.d_in,
    self.d_sae, tostring(self.hook_point))
end

-- ---- maths on any leading shape ----

-- x [..., d] -> x2 [rows, d] and the leading shape.
local function flatten(x, d, fn)
  if not tensor.is_tensor(x) then error(("%s: pass a Tensor [..., %d]"):format(fn, d), 3) end
  local shape = x.shape
  if #shape == 0 or shape[#shape] ~= d then
    error(("%s: the last dim is %s, the SAE needs %d"):format(fn, tostring(shape[#shape]), d), 3)
  end
  local lead, rows = {}, 1
  for i = 1, #shape - 1 do lead[i], rows = shape[i], rows * shape[i] end
  if not x:is_contiguous() then x = x:clone() end
  return x:reshape({ rows, d }), lead
end

local function unflatten(t, lead, d)
  local shape = {}
  for i, v in ipairs(lead) do shape[i] = v end
  shape[#shape + 1] = d
  return t:reshape(shape)
end

--- Feature activations for x [..., d_in]: a Tensor [..., d_sae].
---@param x any Tensor
---@return any Tensor
function SAE:encode(x)
  local x2, lead = flatten(x, self.d_in, "sae:encode")
  return unflatten(self._c:encode(x2), lead, self.d_sae)
end

--- Decode feature activations f [..., d_sae] to [..., d_in] (in the SAE's normalised space when
--- normalize_activations rescales; reconstruct undoes that per token).
---@param f any Tensor
---@return any Tensor
function SAE:decode(f)
  local f2, lead = flatten(f, self.d_sae, "sae:decode")
  return unflatten(self._c:decode(f2), lead, self.d_in)
end

--- decode(encode(x)) for x [..., d_in], and the activations.
---@param x any Tensor
---@return any recon Tensor [..., d_in]
---@return any acts Tensor [..., d_sae]
function SAE:reconstruct(x)
  local x2, lead = flatten(x, self.d_in, "sae:reconstruct")
  local r, a = self._c:reconstruct(x2)
  return unflatten(r, lead, self.d_in), unflatten(a, lead, self.d_sae)
end

--- The SAE's error term x - reconstruct(x), [..., d_in].
---@param x any Tensor
---@return any Tensor
function SAE:error(x)
  local r = self:reconstruct(x)
  return x - r
end

--- The k most active features of each token: for x [d_in], a list of {id, value}; for x
--- [T, d_in] (or [B, T, d_in]), one list per token (per row, then token). Only active
--- (non-zero) features are listed; ids count from 0.
---@param x any Tensor of activations at the hook point
---@param k integer? default 10
---@return table
function SAE:top_features(x, k)
  k = k or 10
  if not is_int(k) or k < 1 then error("sae:top_features: k must be an integer >= 1", 2) end
  k = math.min(k, self.d_sae)
  local acts = self:encode(x)
  local function top_of(row)
    local vals, idx = row:topk(k)
    local out = {}
    for i = 1, k do
      local v = vals[i]
      if v <= 0 then break end
      out[#out + 1] = { id = math.floor(idx[i]) - 1, value = v }
    end
    return out
  end
  local function walk(t)
    if t.ndim == 1 then return top_of(t) end
    local res = {}
    for i = 1, t.shape[1] do res[i] = walk(t[i]) end
    return res
  end
  return walk(acts)
end

-- ---- hooks ----

-- Per-row factor that maps a change in the SAE's normalised space back to the model's.
local function norm_scale(self, x2)
  local nm = self.normalize_activations
  if nm == "constant_norm_rescale" then
    return x2:norm(2, true) / math.sqrt(self.d_in)
  elseif nm == "layer_norm" then
    local mu = x2:mean(2, true)
    local c = x2 - mu
    return ((c * c):sum(2, true) / (self.d_in - 1)):reshape({ x2.shape[1], 1 }), true
  end
  return nil
end

local function sqrt_(t)
  local n = t.shape[1]
  for i = 1, n do t[i][1] = math.sqrt(t[i][1]) end
  return t
end

-- Applies ablate/clamp edits to a copy of acts [rows, d_sae]; nil when there are none.
local function edited(acts, ablate, clamp)
  if not ablate and not clamp then return nil end
  local a = acts:clone()
  local rows = a.shape[1]
  for r = 1, rows do
    local row = a[r]
    if ablate then for _, id in ipairs(ablate) do row[id + 1] = 0 end end
    if clamp then for id, v in pairs(clamp) do row[id + 1] = v end end
  end
  return a
end

local function check_ids(self, fn, ablate, clamp)
  local function check(id)
    if not is_int(id) or id < 0 or id >= self.d_sae then
      error(("%s: feature ids run from 0 to %d, got %s"):format(fn, self.d_sae - 1, tostring(id)), 4)
    end
  end
  if ablate ~= nil then
    if type(ablate) ~= "table" then error(fn .. ": ablate must be a list of feature ids", 4) end
    for _, id in ipairs(ablate) do check(id) end
  end
  if clamp ~= nil then
    if type(clamp) ~= "table" then error(fn .. ": clamp must be a table {[feature id] = value}", 4) end
    for id, v in pairs(clamp) do
      check(id)
      if type(v) ~= "number" then error(fn .. ": clamp values must be numbers", 4) end
    end
  end
end

--- The hook function for this SAE's point, for model:forward/generate{hooks = {[point] = fn}} or
--- model:add_hook. on_acts(acts, ctx) sees the features ([..., d_sae], as the hook's leading dims)
--- and may return a replacement Tensor of features; ablate (ids) and clamp ({[id] = value}) edit
--- them at every position from start_pos (0-based). Edits change the activations by the change
--- in the SAE's output, keeping its error term; replace = true writes the reconstruction instead.
---@param opts table? {on_acts = fn, ablate = {ids}, clamp = {[id] = v}, replace = bool, start_pos = integer}
---@return string point
---@return function fn
function SAE:hook_fn(opts)
  opts = check_opts("sae:hook", opts, { "on_acts", "ablate", "clamp", "replace", "start_pos" })
  if opts.on_acts ~= nil and type(opts.on_acts) ~= "function" then
    error("sae:hook: on_acts must be a function(acts, ctx)", 3)
  end
  check_ids(self, "sae:hook", opts.ablate, opts.clamp)
  local start_pos = opts.start_pos or 0
  local on_acts, ablate, clamp, replace = opts.on_acts, opts.ablate, opts.clamp, opts.replace
  return self.hook_point, function(h, ctx)
    local x2, lead = flatten(h, self.d_in, "sae hook")
    local recon, acts = self._c:reconstruct(x2)
    local new = nil
    if on_acts then
      local r = on_acts(unflatten(acts, lead, self.d_sae), ctx)
      if r ~= nil then
        if not tensor.is_tensor(r) then error("sae hook: on_acts must return nil or a Tensor of features", 2) end
        new = flatten(r, self.d_sae, "sae hook: on_acts result")
      end
    end
    new = edited(new or acts, ablate, clamp) or new
    if not new and not replace then return nil end
    -- Rows before start_pos keep their own features.
    if new and start_pos > 0 then
      local T = lead[#lead] or 1
      for r = 1, x2.shape[1] do
        local pos = (ctx.position or 0) + (r - 1) % T
        if pos < start_pos then new[r] = acts[r] end
      end
    end
    local out
    if replace then
      if new and self.normalize_activations ~= "none" then
        error("sae:hook: replace with edits needs normalize_activations = none", 2)
      end
      out = new and (self._c:decode(new) - self._c:decode(acts) + recon) or recon
    else
      local delta = self._c:decode(new - acts) - self.b_dec
      local sc, is_var = norm_scale(self, x2)
      if sc then delta = delta * (is_var and sqrt_(sc) or sc) end
      out = x2 + delta
    end
    return unflatten(out, lead, self.d_in)
  end
end

local function check_model(self, model)
  if type(model) ~= "table" or not model.hidden_size then error("sae:hook: pass a model from seer.model.load", 3) end
  if self.d_in ~= model.hidden_size then
    error(("sae:hook: the SAE's d_in is %d but the model's hidden size is %d; this SAE belongs to "
      .. "another model"):format(self.d_in, model.hidden_size), 3)
  end
  local l = tonumber(self.hook_point:match("^layers%.(%d+)"))
  if l and l >= model.num_layers then
    error(("sae:hook: the SAE reads %s (%s) but the model has layers 0..%d"):format(self.hook_point,
      tostring(self.hook_name or self.path), model.num_layers - 1), 3)
  end
end

--- Attach the SAE to a model at its hook point until handle:remove(): on_acts sees the features
--- of every forward and generate step; ablate/clamp edit them (see hook_fn).
---@param model table from seer.model.load
---@param opts table? {on_acts = fn(acts, ctx), ablate = {ids}, clamp = {[id] = v}, replace = bool, start_pos = integer}
---@return table handle with :remove()
function SAE:hook(model, opts)
  check_model(self, model)
  local point, fn = self:hook_fn(opts)
  local h = model:add_hook(point, fn)
  return setmetatable({ _h = h, point = point }, Handle)
end

--- Detach the hook; removing twice is harmless.
function Handle:remove() self._h:remove() end

--- Check that this SAE fits the model (d_in, hook point); raises with the reason when not.
---@param model table
function SAE:check(model) check_model(self, model) end

M.SAE = SAE
return M
