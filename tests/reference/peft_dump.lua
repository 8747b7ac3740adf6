-- The engine's side of tests/reference/peft_test.py: loads a base model with a PEFT adapter, runs
-- the inputs from a JSON file unmerged and after merge_adapter, and writes hidden states and logits
-- (prefixed "unmerged." and "merged.") to a safetensors file and the generated tokens to JSON.
-- usage: seer-lua peft_dump.lua BASE_DIR ADAPTER_DIR INPUT.json OUT.safetensors OUT.json
local model = require "seer.model"
local tensor = require "seer.tensor"
local json = require "seer.json"

local base, adapter, input_path, out_tensors, out_json = ...
assert(out_json, "usage: seer-lua peft_dump.lua BASE_DIR ADAPTER_DIR INPUT.json OUT.safetensors OUT.json")

local f = assert(io.open(input_path, "rb"))
local input = json.decode(f:read("a"))
f:close()

local m = model.load(adapter, { base_model = base })
local tensors, result = {}, {}
for _, mode in ipairs({ "unmerged", "merged" }) do
  if mode == "merged" then m:merge_adapter() end
  local out = m:forward(input.ids, { hidden_states = true })
  tensors[mode .. ".logits"] = out.logits:clone()
  for l = 0, #out.hidden_states do
    tensors[mode .. ".hidden_states." .. l] = out.hidden_states[l]:clone()
  end
  local r = { greedy = m:generate(input.ids, { max_new_tokens = input.new_tokens, stop = {} }).ids,
    batch_greedy = {} }
  local batch = m:generate(input.batch, { max_new_tokens = input.new_tokens, stop = {} })
  for i, row in ipairs(batch) do r.batch_greedy[i] = row.ids end
  result[mode] = r
end
assert(tensor.save(out_tensors, tensors))
f = assert(io.open(out_json, "wb"))
f:write(json.encode(result))
f:close()
