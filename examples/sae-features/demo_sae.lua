-- Writes a small random SAE in SAELens' layout for the demo model of examples/scoped-sandbox-intro
-- ("seer-demo/tiny-llama": hidden size 64, 2 layers), reading its residual stream after layer 0, so
-- that the example runs offline in seconds. A real experiment loads a trained SAE instead:
-- sae.load("google/gemma-scope-2b-pt-res", {subfolder = "layer_12/width_16k/average_l0_82"}).
--   seer-lua demo_sae.lua OUT_DIR
local T = require "seer.tensor"
local json = require "seer.json"
local fs = require "seer.fs"

local out = (...) or (arg and arg[1])
if not out then
  io.stderr:write("usage: seer-lua demo_sae.lua OUT_DIR\n")
  os.exit(2)
end
assert(fs.mkdir(out))
local d_in, d_sae = 64, 128
local cfg = {
  architecture = "jumprelu", d_in = d_in, d_sae = d_sae, dtype = "float32",
  hook_name = "blocks.0.hook_resid_post", hook_layer = 0, apply_b_dec_to_input = false,
  normalize_activations = "none", model_name = "seer-demo/tiny-llama",
}
assert(fs.write(out .. "/cfg.json", json.encode(cfg, { indent = 2 })))
-- Unit-norm decoder rows, an encoder that is its transpose (a tied init), small thresholds.
local W_dec = T.randn({ d_sae, d_in }, 11):normalize(2)
assert(T.save(out .. "/sae_weights.safetensors", {
  W_dec = W_dec,
  W_enc = W_dec:transpose(1, 2):clone(),
  b_enc = T.zeros({ d_sae }),
  b_dec = T.zeros({ d_in }),
  threshold = T.full({ d_sae }, 0.05),
}))
