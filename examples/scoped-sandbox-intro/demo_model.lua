-- Builds a small random-weight Llama-style model with a real tokenizer (Llama 2's, which ships in
-- tokenizer/ beside this file) and installs it into a Hugging Face cache as "seer-demo/tiny-llama",
-- so the tutorial runs offline in seconds.
--   seer-lua examples/scoped-sandbox-intro/demo_model.lua TOKENIZER_DIR HF_CACHE_DIR
local model = require "seer.model"
local fs = require "seer.fs"
local json = require "seer.json"
local hf_cache = require "seer.hf_cache"

local tok_dir, cache = arg[1], arg[2]
if not tok_dir or not cache then
  io.stderr:write("usage: seer-lua demo_model.lua TOKENIZER_DIR HF_CACHE_DIR\n")
  os.exit(2)
end
local work = assert(fs.tmpdir("seer-demo-model"))
local config = {
  architectures = { "LlamaForCausalLM" }, model_type = "llama", vocab_size = 32000,
  hidden_size = 64, intermediate_size = 128, num_hidden_layers = 2, num_attention_heads = 4,
  num_key_value_heads = 2, max_position_embeddings = 512, rms_norm_eps = 1e-5, rope_theta = 10000.0,
  bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false, hidden_act = "silu",
  torch_dtype = "float32",
}
assert(fs.write(work .. "/config.json", json.encode(config, { indent = 2 })))
model.create_random(work .. "/config.json", work .. "/model", { dtype = "f32", seed = 7 })
for _, f in ipairs({ "tokenizer.json", "tokenizer_config.json" }) do
  assert(fs.write(work .. "/model/" .. f, assert(fs.read(tok_dir .. "/" .. f))))
end
local m = hf_cache.install("seer-demo/tiny-llama", work .. "/model", { cache = cache })
fs.remove(work)
print(m.snapshot_dir)
