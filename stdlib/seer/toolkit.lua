--- seer.toolkit: Seer's toolkit libraries in Lua, with Seer's names and semantics, so that prompts
--- and experiments written for them work here: `steering_hook`, `extract_activation`,
--- `batch_generate`, and the activation-oracle helpers `collect_activations_multiple_layers` and
--- `layer_percent_to_layer`. Layers are decoder block indices from 0 and "the activation of layer
--- L" is that block's output (the residual stream after it), as in Seer's hooks on
--- `model.layers[L]`. Positions are Python-style: 0-based, negative from the end.
local tensor = require "seer.tensor"

local M = {}

-- An integer-valued number (math.type is Lua 5.3+; LuaJIT numbers are doubles).
local function is_int(v) return type(v) == "number" and v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 end
local pack = table.pack or function(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack

local Steering = {}
Steering.__index = Steering

local function check_layer(model, layer, fn)
  if type(model) ~= "table" or not model.num_layers then
    error(fn .. ": pass a model from seer.model.load", 3)
  end
  if not is_int(layer) or layer < 0 or layer >= model.num_layers then
    error(("%s: layer_idx %s out of bounds. Model has %d layers (0-%d)"):format(fn, tostring(layer),
      model.num_layers, model.num_layers - 1), 3)
  end
end

local check_opts = require("seer.schema").check_options

-- Token ids for Seer's inputs: a string is tokenized with special tokens (HF's tokenizer(text));
-- a list of messages goes through the chat template with the generation prompt, and the result is
-- tokenized again with special tokens, as Seer's extract_activation does; ids pass through.
local function ids_of(model, input, fn)
  if type(input) == "table" and type(input[1]) == "number" then return input end
  if tensor.is_tensor(input) then return input:totable() end
  if not model.tokenizer then error(fn .. ": the model has no tokenizer; pass token ids", 3) end
  if type(input) == "string" then return model.tokenizer:encode(input) end
  if type(input) == "table" and type(input[1]) == "table" and input[1].role then
    local text = model.tokenizer:apply_chat_template(input, { add_generation_prompt = true, tokenize = false })
    return model.tokenizer:encode(text)
  end
  error(fn .. ": pass a text, a list of chat messages, or token ids", 3)
end

-- Python index (0-based, negative from the end) into n items -> 1-based, or raises.
local function py_index(i, n, fn, what)
  if not is_int(i) then error(("%s: %s must be an integer"):format(fn, what), 3) end
  local j = i >= 0 and i + 1 or n + i + 1
  if j < 1 or j > n then
    error(("%s: %s %d is out of range for %d tokens"):format(fn, what, i, n), 3)
  end
  return j
end

--- A steering hook: adds strength * vector to the output of decoder layer `layer` at every
--- position from start_pos on, in forward and generate, until the handle is removed. Seer's
--- create_steering_hook. The hook is active as soon as it is made; remove it with
--- handle:remove(), or scope it: `local h <close> = toolkit.steering_hook(...)` (Lua 5.4) or
--- `handle:run(function() ... end)` (any Lua), which removes it even when fn raises.
--- As in Seer, start_pos counts within each forward call: with start_pos > 0 the one-token
--- decode steps of generate are not steered.
---@param model table from seer.model.load
---@param layer integer decoder layer, from 0
---@param vector any Tensor [hidden]
---@param opts table? {strength = 1.0, start_pos = 0}
---@return table handle with :remove() and :run(fn)
function M.steering_hook(model, layer, vector, opts)
  check_layer(model, layer, "steering_hook")
  opts = check_opts("steering_hook", opts, { "strength", "start_pos" })
  if not tensor.is_tensor(vector) then error("steering_hook: vector must be a Tensor", 2) end
  local shape = vector.shape
  if #shape ~= 1 or shape[1] ~= model.hidden_size then
    error(("steering_hook: Vector dimension %s doesn't match hidden dimension %d"):format(
      table.concat(shape, "x"), model.hidden_size), 2)
  end
  local strength, start_pos = opts.strength or 1.0, opts.start_pos or 0
  if type(strength) ~= "number" then error("steering_hook: strength must be a number", 2) end
  if not is_int(start_pos) or start_pos < 0 then
    error("steering_hook: start_pos must be an integer >= 0", 2)
  end
  local add = vector:to("f32") * strength
  local h = model:add_hook(layer, function(hs)
    local T = hs.shape[#hs.shape - 1]
    if T <= start_pos then return nil end
    if start_pos == 0 then
      hs:add_(add)
    elseif #hs.shape == 2 then
      hs:slice(1, start_pos + 1, T):add_(add)
    else
      hs:slice(2, start_pos + 1, T):add_(add)
    end
  end)
  return setmetatable({ _h = h, layer = layer, strength = strength, start_pos = start_pos }, Steering)
end

--- Remove the steering hook; removing twice is harmless.
function Steering:remove()
  if self._h then self._h:remove(); self._h = nil end
end

--- Run fn with the hook in place, then remove it (also when fn raises); returns fn's results.
---@param fn function
function Steering:run(fn)
  local res = pack(pcall(fn))
  self:remove()
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, res.n)
end

Steering.__close = Steering.remove

--- The activation of decoder layer `layer` (its output) at one token position. Seer's
--- extract_activation: a text is tokenized with special tokens; chat messages go through the
--- chat template with the generation prompt first.
---@param model table
---@param text any a text, a list of chat messages, or token ids
---@param layer integer decoder layer, from 0
---@param opts table? {position = -1}
---@return any Tensor [hidden]
function M.extract_activation(model, text, layer, opts)
  check_layer(model, layer, "extract_activation")
  opts = check_opts("extract_activation", opts, { "position" })
  local ids = ids_of(model, text, "extract_activation")
  local pos = py_index(opts.position or -1, #ids, "extract_activation", "position")
  local got
  model:forward(ids, { logits = false, hooks = { [layer] = function(h) got = h[pos]:clone() end } })
  return got
end

--- Generate for several prompts at once (a left-padded batch); returns the generated texts, in
--- order. Texts are used as they are (with the tokenizer's special tokens); chat message lists go
--- through the chat template with the generation prompt.
---@param model table
---@param prompts table list of texts or message lists
---@param opts table? {max_new_tokens = 100, temperature = 0, top_p, top_k, seed, stop}
---@return table texts
function M.batch_generate(model, prompts, opts)
  opts = check_opts("batch_generate", opts, { "max_new_tokens", "temperature", "top_p", "top_k", "seed", "stop" })
  if type(prompts) ~= "table" or #prompts == 0 then error("batch_generate: pass a list of prompts", 2) end
  if not model.tokenizer then error("batch_generate: the model has no tokenizer", 2) end
  local rows = {}
  for i, p in ipairs(prompts) do
    if type(p) == "table" and type(p[1]) == "table" and p[1].role then
      rows[i] = model.tokenizer:apply_chat_template(p, { add_generation_prompt = true, tokenize = true })
    elseif type(p) == "string" then
      rows[i] = model.tokenizer:encode(p)
    else
      error(("batch_generate: prompt %d must be a text or a list of chat messages"):format(i), 2)
    end
  end
  local res = model:generate(rows, {
    max_new_tokens = opts.max_new_tokens or 100, temperature = opts.temperature or 0,
    top_p = opts.top_p, top_k = opts.top_k, seed = opts.seed, stop = opts.stop,
  })
  local out = {}
  for i, r in ipairs(res) do out[i] = r.text end
  return out
end

--- The activations of several decoder layers for a batch, from one forward pass: a table
--- {[layer] = Tensor [batch, tokens, hidden]}. With min_offset and max_offset (negative, max <
--- min) only tokens [max_offset, min_offset) of each row are kept, as in Seer's activation oracle.
--- Rows are left-padded, so the offsets count from every row's last token.
---@param model table
---@param layers table list of decoder layers, from 0
---@param inputs any a text, ids, or a batch (list) of those
---@param opts table? {min_offset = integer, max_offset = integer}
---@return table
function M.collect_activations_multiple_layers(model, layers, inputs, opts)
  opts = check_opts("collect_activations_multiple_layers", opts, { "min_offset", "max_offset" })
  local lo, hi = opts.max_offset, opts.min_offset
  if (lo == nil) ~= (hi == nil) then
    error("collect_activations_multiple_layers: give both min_offset and max_offset, or neither", 2)
  end
  if lo and not (is_int(lo) and is_int(hi) and lo < hi and hi < 0) then
    error("collect_activations_multiple_layers: offsets must be negative integers with max_offset < min_offset", 2)
  end
  if type(layers) ~= "table" or #layers == 0 then
    error("collect_activations_multiple_layers: pass a list of layers", 2)
  end
  for _, l in ipairs(layers) do check_layer(model, l, "collect_activations_multiple_layers") end
  local batch = inputs
  if type(inputs) == "string" or (type(inputs) == "table" and type(inputs[1]) == "number") then
    batch = { inputs }
  end
  local out, hooks = {}, {}
  for _, l in ipairs(layers) do
    hooks[l] = function(h)
      local T = h.shape[2]
      if lo then
        if -lo > T then
          error(("collect_activations_multiple_layers: max_offset %d reaches before the first of %d tokens")
            :format(lo, T), 0)
        end
        out[l] = h:slice(2, T + lo + 1, T + hi):clone()
      else
        out[l] = h:clone()
      end
    end
  end
  model:forward(batch, { logits = false, hooks = hooks })
  return out
end

--- Decoder layer for a depth in percent: floor(num_layers * percent / 100), as Seer's
--- layer_percent_to_layer (50% of Qwen3-8B's 36 layers is layer 18).
---@param model_or_layers any a model, or its number of layers
---@param percent number
---@return integer
function M.layer_percent_to_layer(model_or_layers, percent)
  local n = type(model_or_layers) == "table" and model_or_layers.num_layers or model_or_layers
  if not is_int(n) or n < 1 then error("layer_percent_to_layer: pass a model or its layer count", 2) end
  if type(percent) ~= "number" or percent < 0 or percent > 100 then
    error("layer_percent_to_layer: percent must be in [0, 100]", 2)
  end
  return math.floor(n * (percent / 100))
end

M.DOCS = [[
# toolkit (seer.toolkit)

Seer's toolkit functions. Layers are decoder block indices from 0; an activation of layer L is the
output of block L. Positions count from 0; negative positions count from the end.

- `toolkit.steering_hook(model, layer, vector, {strength = 1.0, start_pos = 0})` -> handle.
  Adds strength * vector to layer's output from start_pos on, until `handle:remove()`;
  `handle:run(function() ... end)` scopes it. start_pos counts within each forward call.
- `toolkit.extract_activation(model, text_or_messages, layer, {position = -1})` -> Tensor [hidden].
- `toolkit.batch_generate(model, prompts, {max_new_tokens = 100, temperature = 0})` -> list of texts.
- `toolkit.collect_activations_multiple_layers(model, layers, inputs, {min_offset, max_offset})`
  -> {[layer] = Tensor [batch, tokens, hidden]}.
- `toolkit.layer_percent_to_layer(model, percent)` -> integer.
]]

return M
