--- seer.model: load HF causal LMs and run them (DESIGN §7). The engine is C (seer._model); this
--- module owns the policy: option checking and defaults, input forms (ids, batches, text through
--- the tokenizer), HF hidden-state numbering, hook tables and handles.
local C = require "seer._model"
local tensor = require "seer.tensor"
local json = require "seer.json"
local fs = require "seer.fs"

local M = {}

local Model = {}
Model.__index = Model

local Hook = {}
Hook.__index = Hook

local Cache = {}
Cache.__index = Cache

--- Raises when opts has a key outside `valid` (a list), naming the valid ones.
local function check_opts(fn, opts, valid)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("%s: options must be a table, got %s"):format(fn, type(opts)), 3)
  end
  local set = {}
  for _, k in ipairs(valid) do set[k] = true end
  for k in pairs(opts) do
    if not set[k] then
      error(("%s: unknown option '%s' (valid: %s)"):format(fn, tostring(k), table.concat(valid, ", ")), 3)
    end
  end
  return opts
end

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

--- Write a random-weight model for a config.json (benchmarks, demos, tests).
---@param config string path of a config.json
---@param out_dir string directory to write (created if missing)
---@param opts table? {dtype = "bf16"|"f16"|"f32", seed = integer}
function M.create_random(config, out_dir, opts)
  opts = check_opts("seer.model.create_random", opts, { "dtype", "seed" })
  return C.create_random(config, out_dir, opts.dtype or "bf16", opts.seed or 0)
end

--- Load a model directory (config.json + safetensors, sharded or not).
---@param path string
---@param opts table? {device = "cpu"|"auto", dtype = "auto", threads = integer}
---@return table model
function M.load(path, opts)
  opts = check_opts("seer.model.load", opts, { "device", "dtype", "threads" })
  if type(path) ~= "string" then
    error("seer.model.load: pass the path of a model directory", 2)
  end
  local device = opts.device or "auto"
  if device == "cuda" then
    error("seer.model.load: CUDA is not available in this build yet; use device = \"cpu\" or \"auto\"", 2)
  elseif device ~= "cpu" and device ~= "auto" then
    error(("seer.model.load: device must be \"cpu\", \"cuda\" or \"auto\", got %s"):format(tostring(device)), 2)
  end
  if opts.threads ~= nil and (type(opts.threads) ~= "number" or opts.threads < 0) then
    error("seer.model.load: threads must be a number >= 0 (0 = all cores)", 2)
  end
  if not fs.is_dir(path) then
    error(("seer.model.load: no model directory at '%s' (hub ids arrive with seer.hub; pass a local directory)")
      :format(path), 2)
  end
  local m = C.load(path, opts.threads)
  local info = m:info()
  if opts.dtype ~= nil and opts.dtype ~= "auto" and opts.dtype ~= info.dtype then
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

local function hidden_table(hs)
  local t = {}
  for i = 1, #hs do t[i - 1] = hs[i] end
  return t
end

--- Run a forward pass.
---@param input any token ids, a text, or a batch of those (left-padded, each row as if alone)
---@param opts table? {hidden_states = bool, logits = "all"|"last"|false, hooks = {[point] = fn}, cache = Cache}
---@return table {logits = Tensor, hidden_states = {[0] = Tensor, ..., [L] = Tensor}}
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

--- Add a persistent hook, run on every forward and generate until removed.
---@param point string|integer "embed", "layers.<i>" (or i), "layers.<i>.attn", "layers.<i>.mlp", "final_norm"
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

M.Model = Model
return M
