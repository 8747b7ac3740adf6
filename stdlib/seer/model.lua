--- seer.model: load HF causal LMs and run them (DESIGN §7). The engine is C (seer._model); this
--- module owns the policy: option checking and defaults, input forms (ids, batches, text through
--- the tokenizer), HF hidden-state numbering, hook tables and handles.
local C = require "seer._model"
local tensor = require "seer.tensor"
local json = require "seer.json"
local fs = require "seer.fs"
local caller = require "seer.caller"

local M = {}

---@class seer.Model
--- A loaded model: `model:forward`, `model:generate`, hooks and KV caches; `model.tokenizer` is its
--- seer.Tokenizer when the directory has one.
local Model = {}
Model.__index = Model

---@class seer.Hook
--- A persistent hook added by `model:add_hook`.
local Hook = {}
Hook.__index = Hook

---@class seer.Cache
--- A KV cache from `model:new_cache`.
local Cache = {}
Cache.__index = Cache

local check_opts = require("seer.schema").check_options

-- The tokenizer binding (issue 4) provides load(dir); until it is registered, models take ids.
for _, name in ipairs({ "seer.tokenizer", "seer._tokenizer" }) do
  local ok, tok = pcall(require, name)
  if ok and type(tok) == "table" and type(tok.load) == "function" then
    --- Load a tokenizer.json (with the tokenizer_config.json beside it) without a model.
    ---@param path string a directory holding tokenizer.json
    function M.tokenizer(path, opts) return tok.load(path, opts) end
    break
  end
end

--- The architectures the engine runs, as a comma-separated string.
---@return string
function M.supported_architectures() return C.supported_architectures() end

--- Write a random-weight model for a config.json (benchmarks, demos, tests). Raises at the caller's
--- line when the config cannot be read or the model cannot be written.
---@param config string path of a config.json
---@param out_dir string directory to write (created if missing)
---@param opts table? {dtype = "bf16"|"f16"|"f32", seed = integer}
function M.create_random(config, out_dir, opts)
  opts = check_opts("seer.model.create_random", opts, { "dtype", "seed" })
  local ok, err = C.create_random(config, out_dir, opts.dtype or "bf16", opts.seed or 0)
  if not ok then caller.raise(err) end
  return ok
end

--- Load a model directory (config.json + safetensors, sharded or not), or a hub id "org/name":
--- its snapshot in the Hugging Face cache, downloaded first when missing (unless HF_HUB_OFFLINE).
--- On a PEFT adapter (adapter_config.json, no config.json) it loads the adapter's base model
--- (opts.base_model, else the config's base_model_name_or_path; a directory or hub id) with the
--- adapter active, named opts.adapter_name (default "default"). device is "cpu", "auto" (the CPU)
--- or "cuda" (GPU device_index, default 0; hooks get device tensors, copied to the host when read;
--- adapters and attention-weight hooks run there as on the CPU). dtype
--- "auto" keeps the stored weights; on "cuda", "f32", "bf16" or "f16" converts them while
--- uploading (round to nearest even).
--- Raises at the caller's line, naming the file at fault, when the model cannot be loaded.
---@param path string a directory or "org/name"
---@param opts table? {device, device_index, dtype = "auto", threads, revision, base_model, adapter_name, max_memory}
---@return table model
function M.load(path, opts)
  -- A hub id that is not a local directory: its snapshot in the cache, pulled when missing.
  if type(path) == "string" and not fs.is_dir(path) and require("seer.hub.names").check_id(path) then
    local ok, resolved = pcall(require("seer.hub").model_path, path,
      { revision = type(opts) == "table" and opts.revision or nil })
    if not ok then error("seer.model.load: " .. tostring(resolved), 2) end
    local rest = {}
    for k, v in pairs(opts or {}) do
      if k ~= "revision" then rest[k] = v end
    end
    return M.load(resolved, rest)
  end
  local adapter_dir = M._adapter_dir(path)
  if adapter_dir then return M._load_with_adapter(adapter_dir, opts) end
  opts = check_opts("seer.model.load", opts,
    { "device", "device_index", "dtype", "threads", "max_memory" })
  if type(path) ~= "string" then
    error("seer.model.load: pass the path of a model directory", 2)
  end
  local device = opts.device or "auto"
  if opts.device_index ~= nil and (type(opts.device_index) ~= "number"
      or opts.device_index < 0 or opts.device_index % 1 ~= 0) then
    error("seer.model.load: device_index must be an integer >= 0", 2)
  end
  if device ~= "cuda" and device ~= "cpu" and device ~= "auto" then
    error(("seer.model.load: device must be \"cpu\", \"cuda\" or \"auto\", got %s"):format(tostring(device)), 2)
  end
  if opts.threads ~= nil and (type(opts.threads) ~= "number" or opts.threads < 0) then
    error("seer.model.load: threads must be a number >= 0 (0 = all cores)", 2)
  end
  if not fs.is_dir(path) then
    error(("seer.model.load: no model directory at '%s', and it is not a hub id 'org/name'"):format(path), 2)
  end
  if not fs.exists(path .. "/config.json") then
    caller.raise(("seer.model.load: '%s' has no config.json, so it is not a Hugging Face model directory; "
      .. "pass the directory that holds config.json and the *.safetensors (in the HF cache that is "
      .. "models--<org>--<name>/snapshots/<revision>, which seer.hf_cache.resolve(\"org/name\")"
      .. ".snapshot_dir returns)")
      :format(path))
  end
  -- Refuse what cannot fit before mapping anything, with the arithmetic (seer.model_fit).
  local fit = require "seer.model_fit"
  local known, est = pcall(fit.estimate, path .. "/config.json")
  if known then
    local fits, why = fit.fits(est, opts.max_memory)
    if not fits then error(("seer.model.load: %s: %s"):format(path, why), 2) end
  end
  if opts.dtype ~= nil and type(opts.dtype) ~= "string" then
    error("seer.model.load: dtype must be \"auto\", \"f32\", \"bf16\" or \"f16\"", 2)
  end
  -- device = "cuda": the C loader probes the driver and returns its one-sentence diagnosis; it
  -- converts the weights it uploads to dtype. The binding returns nil, err (lua/BINDINGS.md); a
  -- model is what the caller needs to go on, so seer.model.load raises it, at the caller's line.
  local on_device = device == "cuda"
  local m, lerr = C.load(path, opts.threads, on_device, opts.device_index or 0, on_device and opts.dtype or nil)
  if not m then caller.raise(lerr) end
  local info = m:info()
  if on_device and opts.dtype ~= nil and opts.dtype ~= "auto" then
    info.dtype = opts.dtype -- what the device computes with; the host keeps the stored weights
  elseif opts.dtype ~= nil and opts.dtype ~= "auto" and opts.dtype ~= info.dtype then
    error(("seer.model.load: the weights are %s and stay in their stored dtype; dtype = \"%s\" "
      .. "is not supported yet (pass \"auto\")"):format(info.dtype, tostring(opts.dtype)), 2)
  end
  local self = setmetatable({
    _m = m,
    path = path,
    info = info,
    config = json.decode(m:config_json()),
    architecture = info.architecture,
    num_layers = info.num_layers,
    hidden_size = info.hidden_size,
    vocab_size = info.vocab_size,
    device = info.device,
    dtype = info.dtype,
  }, Model)
  local tok_path = path .. "/tokenizer.json"
  if M.tokenizer and fs.exists(tok_path) then
    local ok, tok = pcall(M.tokenizer, path)
    if ok then
      self.tokenizer = tok
    else
      self.tokenizer_error = tostring(tok)
    end
  end
  return self
end

function Model:__tostring()
  return ("Model(%s, %d layers, hidden %d, vocab %d, %s, %s)"):format(self.architecture,
    self.num_layers, self.hidden_size, self.vocab_size, self.dtype, self.device)
end

function Model:_encode(text, fn)
  if not self.tokenizer then
    error(("%s: this model has no tokenizer.json; pass token ids"):format(fn), 4)
  end
  return self.tokenizer:encode(text)
end

-- Normalises input into a list of id rows; returns rows, batched.
function Model:_rows(input, fn)
  if type(input) == "string" then return { self:_encode(input, fn) }, false end
  if tensor.is_tensor(input) then input = input:totable() end
  if type(input) ~= "table" or input[1] == nil then
    error(("%s: pass token ids (a list of integers), a text, or a batch of those"):format(fn), 3)
  end
  if type(input[1]) == "number" then return { input }, false end
  local rows = {}
  for i, row in ipairs(input) do
    if type(row) == "string" then
      rows[i] = self:_encode(row, fn)
    elseif tensor.is_tensor(row) then
      rows[i] = row:totable()
    elseif type(row) == "table" then
      rows[i] = row
    else
      error(("%s: batch row %d is a %s; pass id lists or texts"):format(fn, i, type(row)), 3)
    end
  end
  return rows, true
end

-- Canonical hook point for a key: integer i means "layers.<i>".
local function point_name(k)
  if type(k) == "number" then return "layers." .. k end
  return k
end

-- {[point] = fn | {fn, ...}} -> list of {point, fn}, in a stable order.
local function hook_list(hooks, fn)
  if hooks == nil then return nil end
  if type(hooks) ~= "table" then
    error(("%s: hooks must be a table {[point] = function}"):format(fn), 3)
  end
  local keys = {}
  for k in pairs(hooks) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(point_name(a)) < tostring(point_name(b)) end)
  local list = {}
  for _, k in ipairs(keys) do
    local v = hooks[k]
    if type(k) ~= "number" and type(k) ~= "string" then
      error(("%s: hook points are strings like \"layers.3\" or layer numbers"):format(fn), 3)
    end
    local fns = type(v) == "table" and v or { v }
    for _, f in ipairs(fns) do
      if type(f) ~= "function" then
        error(("%s: the hook at %s must be a function"):format(fn, tostring(point_name(k))), 3)
      end
      list[#list + 1] = { point_name(k), f }
    end
  end
  return list
end

-- hidden_states keeps HF's numbering: [0] is the embedding output, [l] the output of layer l,
-- [L] the final-norm output (so #hs is L, the number of layers, and there are L + 1 entries).
-- Reading an index outside 0..L raises (L + 1 reads nil, so ipairs still ends there).
local HiddenStates = {}

--- The number of entries, L + 1 (the embedding output and one per layer), as HF's len().
---@return integer
function HiddenStates:len() return #self + 1 end

--- Iterate `for l, h in hs:layers() do` over entries first..last in HF numbering (default 0..L:
--- the embedding output first, the final-norm output last).
---@param first integer?
---@param last integer?
---@return function iterator yielding (l, Tensor)
function HiddenStates:layers(first, last)
  local n = #self
  first, last = first or 0, last or n
  if first < 0 or last > n then
    error(("hidden_states:layers: range %d..%d is outside 0..%d"):format(first, last, n), 2)
  end
  local l = first - 1
  return function()
    l = l + 1
    if l <= last then return l, rawget(self, l) end
  end
end

local hidden_mt = {
  __index = function(self, k)
    if type(k) == "number" then
      local n = #self
      if k ~= n + 1 then
        error(("hidden_states[%s]: out of range; the entries are 0 (the embedding output) to %d "
          .. "(the final-norm output), as in HF; iterate with hs:layers()"):format(tostring(k), n), 2)
      end
      return nil
    end
    return HiddenStates[k]
  end,
}

local function hidden_table(hs)
  local t = {}
  for i = 1, #hs do t[i - 1] = hs[i] end
  return setmetatable(t, hidden_mt)
end

--- Run a forward pass.
---@param input any token ids, a text, or a batch of those (left-padded, each row as if alone)
---@param opts table? {hidden_states = bool, logits = "all"|"last"|false, hooks = {[point] = fn}, cache = Cache}
---@return table {logits = Tensor, hidden_states = {[0] = Tensor, ..., [L] = Tensor}} (hs:layers(), hs:len())
function Model:forward(input, opts)
  opts = check_opts("model:forward", opts, { "hidden_states", "logits", "hooks", "cache" })
  local rows, batched = self:_rows(input, "model:forward")
  local logits = opts.logits
  if logits == nil or logits == true then
    logits = "all"
  elseif logits == false then
    logits = "none"
  elseif logits ~= "all" and logits ~= "last" then
    error("model:forward: logits must be \"all\", \"last\" or false", 2)
  end
  local cache = opts.cache
  if cache ~= nil then
    if getmetatable(cache) ~= Cache then error("model:forward: cache must come from model:new_cache()", 2) end
    if cache._model ~= self then error("model:forward: the cache belongs to another model", 2) end
  end
  local lg, hs = self._m:forward(rows, batched, opts.hidden_states and true or false, logits,
    hook_list(opts.hooks, "model:forward"), cache and cache._c)
  local out = { logits = lg }
  if hs then out.hidden_states = hidden_table(hs) end
  return out
end

--- Generate tokens with the KV cache.
---@param input any token ids, a text, or a batch of those (nil with opts.messages)
---@param opts table? {max_new_tokens, temperature, top_k, top_p, seed, stop, hooks, on_token, messages}
---@return table {ids = {...}, finish_reason = "length"|"stop", text = string?} or a list for a batch
function Model:generate(input, opts)
  opts = check_opts("model:generate", opts, { "max_new_tokens", "temperature", "top_k", "top_p",
    "seed", "stop", "hooks", "on_token", "messages" })
  if opts.messages then
    if not self.tokenizer then
      error("model:generate: messages need a tokenizer, and this model has no tokenizer.json", 2)
    end
    input = self.tokenizer:apply_chat_template(opts.messages, { add_generation_prompt = true, tokenize = true })
  end
  local rows, batched = self:_rows(input, "model:generate")
  local function int_opt(name, dflt, min)
    local v = opts[name]
    if v == nil then return dflt end
    if type(v) ~= "number" or v ~= math.floor(v) or v < min then
      error(("model:generate: %s must be an integer >= %d"):format(name, min), 3)
    end
    return v
  end
  local function num_opt(name, dflt, lo, hi)
    local v = opts[name]
    if v == nil then return dflt end
    if type(v) ~= "number" or v < lo or v > hi then
      error(("model:generate: %s must be a number in [%g, %g]"):format(name, lo, hi), 3)
    end
    return v
  end
  -- stop: token ids and/or strings. Without ids, generation also ends at the model's eos ids, as
  -- in HF; a completed stop string ends its row too.
  local stop, stop_strings = {}, {}
  local given = opts.stop
  if type(given) == "number" or type(given) == "string" then given = { given } end
  if given ~= nil and type(given) ~= "table" then
    error("model:generate: stop must be a token id, a string, or a list of those", 2)
  end
  for _, v in ipairs(given or {}) do
    if type(v) == "number" then stop[#stop + 1] = v
    elseif type(v) == "string" and v ~= "" then stop_strings[#stop_strings + 1] = v
    else error("model:generate: stop entries must be token ids or non-empty strings", 2) end
  end
  if given == nil or (#stop == 0 and #stop_strings > 0) then stop = self.info.eos_token_ids end
  if #stop_strings > 0 and not self.tokenizer then
    error("model:generate: stop strings need a tokenizer, and this model has no tokenizer.json", 2)
  end
  local on_token = opts.on_token
  if on_token ~= nil and type(on_token) ~= "function" then
    error("model:generate: on_token must be a function(token, row)", 2)
  end
  if #stop_strings > 0 then
    local user_cb, tok, generated = on_token, self.tokenizer, {}
    on_token = function(token, row)
      if user_cb and user_cb(token, row) == "stop" then return "stop" end
      local ids = generated[row] or {}
      generated[row] = ids
      ids[#ids + 1] = token
      local text = tok:decode(ids, { skip_special_tokens = true })
      for _, s in ipairs(stop_strings) do
        if text:find(s, 1, true) then return "stop" end
      end
    end
  end
  local res = self._m:generate(rows, batched, {
    max_new_tokens = int_opt("max_new_tokens", 20, 0),
    temperature = num_opt("temperature", 0, 0, math.huge),
    top_k = int_opt("top_k", 0, 0),
    top_p = num_opt("top_p", 1, 0, 1),
    seed = int_opt("seed", 0, 0),
    stop = stop,
    hooks = hook_list(opts.hooks, "model:generate"),
    on_token = on_token,
  })
  if self.tokenizer then
    for _, r in ipairs(res) do
      r.text = self.tokenizer:decode(r.ids, { skip_special_tokens = true })
      -- The text ends with the first stop string it completed (included, as HF does).
      local cut
      for _, s in ipairs(stop_strings) do
        local _, e = r.text:find(s, 1, true)
        if e and (not cut or e < cut) then cut = e end
      end
      if cut then r.text = r.text:sub(1, cut) end
    end
  end
  if batched then return res end
  return res[1]
end

--- The model's readout of a hidden state: the final norm (unless opts.norm is false), the
--- unembedding and the final logit softcap, exactly as at the end of forward. Works inside hooks.
---@param h Tensor [..., hidden_size], any dtype
---@param opts table? {norm = boolean} (default true)
---@return Tensor logits [..., vocab_size] (f32)
function Model:unembed(h, opts)
  opts = check_opts("model:unembed", opts, { "norm" })
  if not tensor.is_tensor(h) then error("model:unembed: pass a hidden-state Tensor [..., hidden]", 2) end
  return self._m:unembed(h, opts.norm ~= false)
end

--- Logit lens: the logits layer l's hidden state would give if the model stopped there (final
--- norm and unembedding; the last entry is already normed, so it is only unembedded and equals the
--- forward pass's logits).
---@param hidden_states table the hidden_states of forward(input, {hidden_states = true})
---@param l integer 0..L in HF numbering
---@return Tensor logits
function Model:logit_lens(hidden_states, l)
  if type(hidden_states) ~= "table" or getmetatable(hidden_states) ~= hidden_mt then
    error("model:logit_lens: pass the hidden_states of forward(input, {hidden_states = true})", 2)
  end
  local n = #hidden_states
  if type(l) ~= "number" or l ~= math.floor(l) or l < 0 or l > n then
    error(("model:logit_lens: the layer must be an integer in 0..%d"):format(n), 2)
  end
  return self._m:unembed(rawget(hidden_states, l), l < n)
end

--- Add a persistent hook, run on every forward and generate until removed.
--- Points: "embed", "layers.<i>" (or i), "layers.<i>.attn", "layers.<i>.mlp", "final_norm",
--- "layers.<i>.attn.heads" (each head's output before the output projection, [T, heads * head_dim]),
--- "layers.<i>.attn.weights" (read-only softmax weights, [heads, T, keys]).
---@param point string|integer a hook point
---@param fn function fn(h, ctx) -> nil (changed in place) or a replacement Tensor
---@return table handle with :remove()
function Model:add_hook(point, fn)
  if type(fn) ~= "function" then error("model:add_hook: pass a point and a function(h, ctx)", 2) end
  local id = self._m:add_hook(point_name(point), fn)
  return setmetatable({ _model = self, _id = id, point = point_name(point) }, Hook)
end

--- Remove the hook; removing twice is harmless.
function Hook:remove()
  if self._id then
    self._model._m:remove_hook(self._id)
    self._id = nil
  end
end

--- A KV cache for incremental forward calls: forward(ids, {cache = c}) continues the sequence.
---@param batch integer? rows (default 1)
function Model:new_cache(batch)
  return setmetatable({ _model = self, _c = self._m:new_cache(batch or 1) }, Cache)
end

--- Tokens held per row so far.
function Cache:length() return self._c:length() end
--- Bytes allocated for keys and values.
function Cache:bytes() return self._c:bytes() end

-- ---- LoRA adapters (PEFT's on-disk format; the engine side is runtime/model/lora.c) ----

local unpack = table.unpack or unpack -- luacheck: ignore 143 (LuaJIT's global unpack)

-- A local directory, or a hub id resolved through seer.hub (the cache first, pulled when allowed).
local function resolve_dir(path_or_id, revision, fn, what)
  if type(path_or_id) ~= "string" or path_or_id == "" then
    error(("%s: pass the path or hub id of %s"):format(fn, what), 3)
  end
  if fs.is_dir(path_or_id) then return path_or_id end
  local ok, dir = pcall(require("seer.hub").model_path, path_or_id, { revision = revision })
  if ok then return dir end
  error(("%s: %s '%s' is not a directory, and as a hub id: %s"):format(fn, what, path_or_id, tostring(dir)), 3)
end

-- The directory of a PEFT adapter (adapter_config.json without a config.json), or nil. M.load has
-- already turned a hub id into its snapshot directory.
function M._adapter_dir(path)
  if type(path) == "string" and fs.is_dir(path) and fs.is_file(path .. "/adapter_config.json")
      and not fs.is_file(path .. "/config.json") then
    return path
  end
  return nil
end

-- seer.model.load on an adapter: its base model (opts.base_model, else the adapter config's
-- base_model_name_or_path) with the adapter loaded and active.
function M._load_with_adapter(dir, opts)
  opts = check_opts("seer.model.load", opts,
    { "device", "dtype", "threads", "max_memory", "base_model", "adapter_name" })
  local text = fs.read(dir .. "/adapter_config.json")
  local ok, cfg = pcall(json.decode, text or "")
  if not ok or type(cfg) ~= "table" then
    error(("seer.model.load: %s/adapter_config.json is not valid JSON"):format(dir), 3)
  end
  local base = opts.base_model
  if base == nil then
    base = cfg.base_model_name_or_path
    if type(base) ~= "string" or base == "" then
      error(("seer.model.load: %s/adapter_config.json names no base_model_name_or_path; pass "
        .. "{base_model = path_or_id}"):format(dir), 3)
    end
  end
  local base_dir = resolve_dir(base, nil, "seer.model.load", "the adapter's base model")
  local model = M.load(base_dir, { device = opts.device, dtype = opts.dtype, threads = opts.threads,
    max_memory = opts.max_memory })
  model:load_adapter(dir, { name = opts.adapter_name })
  model.adapter_path = dir
  return model
end

--- Load a LoRA adapter saved by PEFT (adapter_config.json + adapter_model.safetensors) and, unless
--- `activate = false`, make it the active one. Unmerged, it adds r·(in+out) floats per targeted
--- matrix and runs as a side path in those linear layers, so switching it off is free. Unsupported
--- settings (DoRA, non-LoRA peft_type, LoRA biases, ...) and tensors that do not fit the base model
--- raise, naming the field or tensor.
---@param path_or_id string adapter directory, or a hub id ("org/name") in the cache
---@param opts table? {name = string (default "default"), activate = boolean (default true), revision = string}
---@return string name the adapter's name
function Model:load_adapter(path_or_id, opts)
  opts = check_opts("model:load_adapter", opts, { "name", "activate", "revision" })
  local name = opts.name or "default"
  if type(name) ~= "string" then error("model:load_adapter: name must be a string", 2) end
  local dir = resolve_dir(path_or_id, opts.revision, "model:load_adapter", "the adapter")
  local ok, aerr = self._m:load_adapter(dir, name)
  if not ok then caller.raise(aerr) end
  if opts.activate ~= false then self._m:set_adapter(name) end
  return name
end

--- Make a loaded adapter the active one (this also re-enables adapters after disable_adapters).
--- A KV cache keeps the keys and values computed under the adapter that was active then.
---@param name string
function Model:set_adapter(name)
  if type(name) ~= "string" then error("model:set_adapter: pass the name of a loaded adapter", 2) end
  self._m:set_adapter(name)
end

--- Run on the base weights: no adapter is active until set_adapter. Adapters stay loaded.
function Model:disable_adapters() self._m:set_adapter(nil) end

--- The name of the active adapter, or nil.
---@return string|nil
function Model:active_adapter() return self._m:active_adapter() end

--- The loaded adapters in load order: {name, base_model, targets, saved, r_max, bytes, active, merged}.
---@return table[]
function Model:adapters()
  local list, active = self._m:adapters(), self._m:active_adapter()
  for _, a in ipairs(list) do
    a.active = a.name == active
    a.merged = a.active and self._m:adapter_merged()
  end
  return list
end

--- Unload an adapter (disabling adapters first when it is the active one).
---@param name string
function Model:delete_adapter(name)
  if type(name) ~= "string" then error("model:delete_adapter: pass the name of a loaded adapter", 2) end
  self._m:delete_adapter(name)
end

--- Merge the active adapter into copies of its target matrices (W + scale·B·A, in the weights'
--- dtype), so forward passes skip the side path. Costs one copy of each targeted matrix; switching
--- or disabling adapters unmerges (drops the copies).
function Model:merge_adapter() self._m:merge_adapter() end

--- Drop the merged copies; the active adapter runs as a side path again.
function Model:unmerge_adapter() self._m:unmerge_adapter() end

--- Call fn(...) with adapters disabled, then restore the active adapter (and its merge), also when
--- fn raises. Returns what fn returns.
---@param fn function
---@return any ... what fn returns
function Model:without_adapters(fn, ...)
  if type(fn) ~= "function" then error("model:without_adapters: pass a function", 2) end
  local prev, merged = self._m:active_adapter(), self._m:adapter_merged()
  self._m:set_adapter(nil)
  local res = { n = 0 }
  local function collect(ok, ...)
    res = { n = select("#", ...), ok = ok, ... }
  end
  collect(pcall(fn, ...))
  if prev then
    for _, a in ipairs(self._m:adapters()) do
      if a.name == prev then
        self._m:set_adapter(prev)
        if merged then self._m:merge_adapter() end
      end
    end
  end
  if not res.ok then error(res[1], 0) end
  return unpack(res, 1, res.n)
end

M.Model = Model
return M
