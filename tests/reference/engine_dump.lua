-- The engine's side of the reference tier (tests/reference/engine_test.py): loads one model
-- directory, runs the inputs from a JSON file, and writes hidden states and logits to a
-- safetensors file and the generated tokens to a JSON file.
-- usage: seer-lua engine_dump.lua MODEL_DIR INPUT.json OUT.safetensors OUT.json
local model = require "seer.model"
local tensor = require "seer.tensor"
local json = require "seer.json"

local dir, input_path, out_tensors, out_json = ...
assert(out_json, "usage: seer-lua engine_dump.lua MODEL_DIR INPUT.json OUT.safetensors OUT.json")

local f = assert(io.open(input_path, "rb"))
local input = json.decode(f:read("a"))
f:close()

local m = model.load(dir)
local out = m:forward(input.ids, { hidden_states = true })
local tensors = { logits = out.logits:clone() }
for l = 0, #out.hidden_states do
  tensors["hidden_states." .. l] = out.hidden_states[l]:clone()
end
assert(tensor.save(out_tensors, tensors))

local result = {
  greedy = m:generate(input.ids, { max_new_tokens = input.new_tokens, stop = {} }).ids,
  batch_greedy = {},
}
local batch = m:generate(input.batch, { max_new_tokens = input.new_tokens, stop = {} })
for i, row in ipairs(batch) do result.batch_greedy[i] = row.ids end
f = assert(io.open(out_json, "wb"))
f:write(json.encode(result))
f:close()
