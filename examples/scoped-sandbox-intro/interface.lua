-- interface.lua: runs inside the sandbox. Only the functions defined on `expose` can be called
-- by the agent; everything else here (the model itself) stays private to the sandbox.
local model_name = list_configured_models()[1]
local model = seer.model.load(get_model_path(model_name))

--- Describe the loaded model: its hub name, architecture and sizes.
---@return table
function expose.get_model_info()
  return {
    name = model_name,
    architecture = model.config.architectures and model.config.architectures[1],
    num_layers = model.num_layers,
    hidden_size = model.hidden_size,
    vocab_size = model.vocab_size,
  }
end

--- Get text embedding from model: mean of the last hidden state.
---@param text string The text to embed
---@return table
function expose.get_embedding(text)
  local out = model:forward(text, { hidden_states = true, logits = false })
  return { embedding = out.hidden_states[#out.hidden_states]:mean(1):totable() }
end
