-- interface.lua: runs inside the sandbox with the model and the SAE. The agent calls only the
-- `expose` functions: read an SAE's features on texts, find the features that separate two sets of
-- texts, and steer generation along a feature's decoder direction or clamp the feature.
local sae = require "seer.sae"
local toolkit = require "seer.toolkit"

local model_name = list_configured_models()[1]
local model = seer.model.load(get_model_path(model_name))
local s = sae.load(os.getenv("SEER_SAE_DIR") or "/workspace/sae")
s:check(model)
local layer = tonumber(s.hook_point:match("^layers%.(%d+)$"))

--- Describe the model and the SAE: sizes and the hook point the SAE reads.
---@return table
function expose.describe()
  return { model = model_name, hidden_size = model.hidden_size, num_layers = model.num_layers,
    sae = { architecture = s.architecture, d_in = s.d_in, d_sae = s.d_sae, hook_point = s.hook_point } }
end

-- Mean activation of every feature over the tokens of the texts, as a Lua list (index id + 1).
local function mean_acts(texts)
  local sum
  local n = 0
  for _, text in ipairs(texts) do
    local h
    model:forward(text, { logits = false, hooks = { [s.hook_point] = function(x) h = x:clone() end } })
    local a = s:encode(h):sum(1)
    sum = sum and (sum + a) or a
    n = n + h.shape[1]
  end
  return (sum / n):totable()
end

--- The k most active SAE features at each token of a text: {{token, features = {{id, value}}}}.
---@param text string
---@param k integer? default 5
---@return table
function expose.top_features(text, k)
  local h
  model:forward(text, { logits = false, hooks = { [s.hook_point] = function(x) h = x:clone() end } })
  local ids = model.tokenizer:encode(text)
  local out = {}
  for t, feats in ipairs(s:top_features(h, k or 5)) do
    out[t] = { token = model.tokenizer:decode({ ids[t] }), features = feats }
  end
  return out
end

--- Features whose mean activation is higher on `positives` than on `negatives`, largest
--- difference first: {{id, difference}}.
---@param positives table list of texts
---@param negatives table list of texts
---@param k integer? default 5
---@return table
function expose.find_features(positives, negatives, k)
  local p, q = mean_acts(positives), mean_acts(negatives)
  local diffs = {}
  for i = 1, #p do diffs[i] = { id = i - 1, difference = p[i] - q[i] } end
  table.sort(diffs, function(a, b) return a.difference > b.difference end)
  local out = {}
  for i = 1, math.min(k or 5, #diffs) do out[i] = diffs[i] end
  return out
end

--- Generate greedily from a prompt, without and with steering along feature `id`'s decoder
--- direction (strength x W_dec[id] added at the SAE's layer). changed says whether the text moved.
---@param prompt string
---@param id integer SAE feature id (from 0)
---@param strength number
---@param max_new_tokens integer? default 12
---@return table {baseline, steered, changed}
function expose.steer(prompt, id, strength, max_new_tokens)
  local n = max_new_tokens or 12
  local baseline = model:generate(prompt, { max_new_tokens = n }).text
  local steered = toolkit.steering_hook(model, layer, s.W_dec[id], { strength = strength }):run(function()
    return model:generate(prompt, { max_new_tokens = n }).text
  end)
  return { baseline = baseline, steered = steered, changed = steered ~= baseline }
end

--- Generate greedily with SAE feature `id` clamped to `value` at every token (the SAE's error
--- term kept), and the feature's activation at the last prompt token before and after.
---@param prompt string
---@param id integer
---@param value number
---@param max_new_tokens integer? default 12
---@return table {text, before, after}
function expose.clamp(prompt, id, value, max_new_tokens)
  local seen = {}
  local h = s:hook(model, { clamp = { [id] = value } })
  local ok, res = pcall(function() return model:generate(prompt, { max_new_tokens = max_new_tokens or 12 }) end)
  h:remove()
  if not ok then error(res, 0) end
  local x
  model:forward(prompt, { logits = false, hooks = { [s.hook_point] = function(v) x = v:clone() end } })
  seen.before = s:encode(x[x.shape[1]])[id + 1]
  return { text = res.text, before = seen.before, after = value }
end
