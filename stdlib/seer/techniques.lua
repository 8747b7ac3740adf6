--- seer.techniques: the everyday interpretability techniques, one call each: logit lens (and
--- tuned-lens-style translators), activation patching with a metric, difference-of-means
--- directions and their ablation at every layer, attention patterns per head, per-token logprobs
--- and entropy. Layers are decoder layers from 0; "the residual stream at layer L" is the output of
--- decoder layer L (hook point "layers.L"), and "embed" is the scaled embedding.
local tensor = require "seer.tensor"

local M = {}

-- An integer-valued number (math.type is Lua 5.3+; LuaJIT numbers are doubles).
local function is_int(v) return type(v) == "number" and v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 end

local check_opts = require("seer.schema").check_options

local function check_model(model, fn)
  if type(model) ~= "table" or not model._m then error(fn .. ": pass a model from seer.model.load", 3) end
end

local function ids_of(model, input, fn)
  if type(input) == "string" then
    if not model.tokenizer then error(fn .. ": the model has no tokenizer; pass token ids", 3) end
    return model.tokenizer:encode(input)
  end
  if tensor.is_tensor(input) then return input:totable() end
  if type(input) == "table" and type(input[1]) == "number" then return input end
  error(fn .. ": pass a text or a list of token ids", 3)
end

local function all_layers(model)
  local t = {}
  for l = 0, model.num_layers - 1 do t[#t + 1] = l end
  return t
end

local function check_layers(model, layers, fn)
  for _, l in ipairs(layers) do
    if l ~= "embed" and (not is_int(l) or l < 0 or l >= model.num_layers) then
      error(("%s: layer %s is not one of embed, 0..%d"):format(fn, tostring(l), model.num_layers - 1), 3)
    end
  end
end

local function point_of(l) return l == "embed" and "embed" or "layers." .. l end

--- Logit lens: the model's final norm and unembedding (and final softcap) applied to the residual
--- stream after each layer. The readout of the last layer equals the model's logits. A translator
--- per layer (tuned lens: a function h -> h', or {A = Tensor [H, H], b = Tensor [H]} for h A + b)
--- is applied before the norm.
---@param model table
---@param input any a text or token ids
---@param opts table? {layers = {..} (default all, "embed" allowed), translators = {[layer] = fn | {A, b}}, norm = true}
---@return table {[layer] = Tensor [tokens, vocab]}
function M.logit_lens(model, input, opts)
  check_model(model, "logit_lens")
  opts = check_opts("logit_lens", opts, { "layers", "translators", "norm" })
  local layers = opts.layers or all_layers(model)
  check_layers(model, layers, "logit_lens")
  local ids = ids_of(model, input, "logit_lens")
  local captured, hooks = {}, {}
  for _, l in ipairs(layers) do
    hooks[point_of(l)] = function(h) captured[l] = h:clone() end
  end
  model:forward(ids, { logits = false, hooks = hooks })
  local out = {}
  for _, l in ipairs(layers) do
    local h = captured[l]
    local tr = opts.translators and opts.translators[l]
    if type(tr) == "function" then
      h = tr(h)
    elseif type(tr) == "table" then
      h = h:matmul(tr.A)
      if tr.b then h = h + tr.b end
    end
    out[l] = model:unembed(h, { norm = opts.norm ~= false })
  end
  return out
end

--- The k most likely tokens of a logits row: {{id, logprob, text}, ...}.
---@param model table
---@param logits any Tensor [vocab]
---@param k integer? default 10
---@return table
function M.top_tokens(model, logits, k)
  local lp = logits:log_softmax()
  local v, ix = lp:topk(k or 10)
  local out = {}
  for i = 1, v.shape[1] do
    local id = math.floor(ix[i]) - 1
    out[i] = { id = id, logprob = v[i],
      text = model.tokenizer and model.tokenizer:decode({ id }, { skip_special_tokens = false }) or nil }
  end
  return out
end

--- Per-token log-probabilities of the text's own next tokens, and the entropy of the model's
--- prediction at every position (nats).
---@param model table
---@param input any a text or token ids
---@return table {ids, logprobs = {[t] = log p(ids[t+1]) for t = 1..T-1}, entropy = {[t] for t = 1..T}, sum}
function M.token_logprobs(model, input)
  check_model(model, "token_logprobs")
  local ids = ids_of(model, input, "token_logprobs")
  local lp = model:forward(ids).logits:log_softmax()
  local logprobs, entropy, sum = {}, {}, 0
  for t = 1, #ids do
    local row = lp[t]
    local p = row:totable()
    local h = 0
    for _, x in ipairs(p) do h = h - math.exp(x) * x end
    entropy[t] = h
    if t < #ids then
      logprobs[t] = p[ids[t + 1] + 1]
      sum = sum + logprobs[t]
    end
  end
  return { ids = ids, logprobs = logprobs, entropy = entropy, sum = sum }
end

-- ---- activation patching ----

local function parse_point(model, p, fn)
  if is_int(p) then p = "layers." .. p end
  if type(p) ~= "string" then error(fn .. ": points are strings like \"layers.3.attn\" or layer numbers", 3) end
  local base, head = p:match("^(layers%.%d+%.attn)%.head%.(%d+)$")
  if base then
    head = tonumber(head)
    if head >= model.info.num_heads then
      error(("%s: %s: the model has heads 0..%d"):format(fn, p, model.info.num_heads - 1), 3)
    end
    return { name = p, point = base .. ".heads", head = head }
  end
  local l = tonumber(p:match("^layers%.(%d+)"))
  if l and l >= model.num_layers then
    error(("%s: %s: the model has layers 0..%d"):format(fn, p, model.num_layers - 1), 3)
  end
  return { name = p, point = p }
end

-- Rows of h (a [T, D] view) to copy, as 1-based positions; nil means all.
local function copy_rows(dst, src, positions, head, hd)
  local T = dst.shape[1]
  local function copy(t)
    if head then
      dst[t]:slice(1, head * hd + 1, (head + 1) * hd):copy_(src[t]:slice(1, head * hd + 1, (head + 1) * hd))
    else
      dst[t]:copy_(src[t])
    end
  end
  if positions then
    for _, t in ipairs(positions) do copy(t) end
  else
    for t = 1, T do copy(t) end
  end
end

--- Activation patching: run `clean` and `corrupt`, then rerun `corrupt` with the activation at a
--- hook point replaced by clean's, and score every run with metric(logits [T, V]) -> number.
--- Points: "layers.L" (residual), "layers.L.attn", "layers.L.mlp" (block outputs), "embed",
--- "layers.L.attn.head.H" (head H's output before the output projection). Positions (1-based
--- token indices) restrict the patch; per_position = true patches each position on its own.
--- Both prompts must have the same number of tokens.
---@param model table
---@param clean any text or ids
---@param corrupt any text or ids
---@param opts table {metric = fn(logits) -> number, points = {..} (default all layers), positions, per_position}
---@return table {clean = number, corrupt = number, patched = {[point] = number | {[pos] = number}}}
function M.activation_patching(model, clean, corrupt, opts)
  check_model(model, "activation_patching")
  opts = check_opts("activation_patching", opts, { "metric", "points", "positions", "per_position" })
  if type(opts.metric) ~= "function" then
    error("activation_patching: pass metric = function(logits) -> number", 2)
  end
  local a, b = ids_of(model, clean, "activation_patching"), ids_of(model, corrupt, "activation_patching")
  if #a ~= #b then
    error(("activation_patching: clean has %d tokens and corrupt %d; patching needs equal lengths")
      :format(#a, #b), 2)
  end
  local points = {}
  for i, p in ipairs(opts.points or all_layers(model)) do points[i] = parse_point(model, p, "activation_patching") end
  local hd = model.info.head_dim
  -- one clean run records every point
  local saved, hooks = {}, {}
  for _, p in ipairs(points) do
    hooks[p.point] = function(h) saved[p.point] = h:clone() end
  end
  local clean_logits = model:forward(a, { hooks = hooks }).logits
  local res = { clean = opts.metric(clean_logits), corrupt = opts.metric(model:forward(b).logits), patched = {} }
  local function run(p, positions)
    local src = saved[p.point]
    local patch = function(h) copy_rows(h, src, positions, p.head, hd) end
    local lg = model:forward(b, { hooks = { [p.point] = patch } }).logits
    return opts.metric(lg)
  end
  for _, p in ipairs(points) do
    if opts.per_position then
      local per = {}
      for _, t in ipairs(opts.positions or (function()
        local all = {}
        for t = 1, #a do all[t] = t end
        return all
      end)()) do
        per[t] = run(p, { t })
      end
      res.patched[p.name] = per
    else
      res.patched[p.name] = run(p, opts.positions)
    end
  end
  return res
end

-- ---- directions ----

--- Difference of means: for each layer, mean activation over `positives` minus mean over
--- `negatives`, at one token position of each prompt (default the last).
---@param model table
---@param positives table list of texts or id lists
---@param negatives table list of texts or id lists
---@param opts table? {layers = {..} (default all), position = -1 (0-based, negative from the end), normalize = false}
---@return table {[layer] = Tensor [hidden]}
function M.diff_means(model, positives, negatives, opts)
  check_model(model, "diff_means")
  opts = check_opts("diff_means", opts, { "layers", "position", "normalize" })
  local layers = opts.layers or all_layers(model)
  check_layers(model, layers, "diff_means")
  local pos = opts.position or -1
  local function mean(inputs, what)
    if type(inputs) ~= "table" or #inputs == 0 then
      error(("diff_means: %s must be a non-empty list"):format(what), 4)
    end
    local sums = {}
    for _, inp in ipairs(inputs) do
      local ids = ids_of(model, inp, "diff_means")
      local t = pos >= 0 and pos + 1 or #ids + pos + 1
      if t < 1 or t > #ids then
        error(("diff_means: position %d is outside a prompt of %d tokens"):format(pos, #ids), 4)
      end
      local hooks = {}
      for _, l in ipairs(layers) do
        hooks[point_of(l)] = function(h)
          local v = h[t]:clone()
          sums[l] = sums[l] and (sums[l] + v) or v
        end
      end
      model:forward(ids, { logits = false, hooks = hooks })
    end
    for l, s in pairs(sums) do sums[l] = s / #inputs end
    return sums
  end
  local mp, mn = mean(positives, "positives"), mean(negatives, "negatives")
  local out = {}
  for _, l in ipairs(layers) do
    out[l] = mp[l] - mn[l]
    if opts.normalize then out[l] = out[l]:normalize() end
  end
  return out
end

local Handle = {}
Handle.__index = Handle
--- Remove the hooks; removing twice is harmless.
function Handle:remove()
  for _, h in ipairs(self._hooks) do h:remove() end
  self._hooks = {}
end
Handle.__close = Handle.remove

--- Ablate a direction at every layer: x - (x . d) d on the output of each decoder layer (d made
--- unit length), in every forward and generate until handle:remove().
---@param model table
---@param direction any Tensor [hidden]
---@param opts table? {layers = {..} (default all decoder layers; "embed" allowed)}
---@return table handle with :remove()
function M.ablate_direction(model, direction, opts)
  check_model(model, "ablate_direction")
  opts = check_opts("ablate_direction", opts, { "layers" })
  if not tensor.is_tensor(direction) or direction.ndim ~= 1 or direction.shape[1] ~= model.hidden_size then
    error(("ablate_direction: direction must be a Tensor [%d]"):format(model.hidden_size), 2)
  end
  local layers = opts.layers or all_layers(model)
  check_layers(model, layers, "ablate_direction")
  local d = direction:to("f32"):normalize()
  local dcol = d:reshape({ model.hidden_size, 1 })
  local function ablate(h)
    local x = h:reshape({ -1, model.hidden_size }) -- a view: edits land in h
    x:sub_(x:matmul(dcol) * d)
  end
  local hooks = {}
  for _, l in ipairs(layers) do hooks[#hooks + 1] = model:add_hook(point_of(l), ablate) end
  return setmetatable({ _hooks = hooks }, Handle)
end

--- Attention patterns: softmax weights per head, [heads, tokens, tokens] (query, key) for each
--- layer, from one forward pass.
---@param model table
---@param input any a text or token ids
---@param opts table? {layers = {..} (default all)}
---@return table {[layer] = Tensor [heads, T, T]}
function M.attention_patterns(model, input, opts)
  check_model(model, "attention_patterns")
  opts = check_opts("attention_patterns", opts, { "layers" })
  local layers = opts.layers or all_layers(model)
  check_layers(model, layers, "attention_patterns")
  local ids = ids_of(model, input, "attention_patterns")
  local out, hooks = {}, {}
  for _, l in ipairs(layers) do
    hooks["layers." .. l .. ".attn.weights"] = function(w) out[l] = w:clone() end
  end
  model:forward(ids, { logits = false, hooks = hooks })
  return out
end

return M
