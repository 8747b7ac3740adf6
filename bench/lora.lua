-- bench/lora.lua: what an unmerged LoRA adapter costs. Makes a random bf16 model (hidden 1024,
-- 8 layers, Llama layout) and a random adapter of rank R on all seven projections, then times, in
-- the same run, prefill (T tokens) and decode (N tokens with the KV cache) on the base weights
-- (the floor), with the adapter unmerged, and merged; prints the ratios to the floor and the
-- adapter's memory against r·(in+out) floats per matrix.
-- usage: seer-lua bench/lora.lua [R] [T] [N]    (defaults 16, 128, 32)
local model = require "seer.model"
local T = require "seer.tensor"
local json = require "seer.json"
local fs = require "seer.fs"
local now = require("seer.core").now

local R, TOK, NEW = tonumber(arg[1]) or 16, tonumber(arg[2]) or 128, tonumber(arg[3]) or 32

local H, I, L, V, heads, kv = 1024, 2816, 8, 32000, 16, 8
local work = assert(fs.tmpdir("seer-bench-lora"))
local cfg = {
  architectures = { "LlamaForCausalLM" }, model_type = "llama", vocab_size = V, hidden_size = H,
  intermediate_size = I, num_hidden_layers = L, num_attention_heads = heads,
  num_key_value_heads = kv, max_position_embeddings = 4096, rms_norm_eps = 1e-5,
  rope_theta = 10000.0, hidden_act = "silu", tie_word_embeddings = false, bos_token_id = 1,
  eos_token_id = 2,
}
assert(fs.write(work .. "/config.json", json.encode(cfg)))
model.create_random(work .. "/config.json", work .. "/base", { dtype = "bf16", seed = 1 })

local adapter = work .. "/adapter"
assert(fs.mkdir(adapter))
local hd = math.floor(H / heads)
local shapes = { -- module = {out, in}
  ["self_attn.q_proj"] = { heads * hd, H }, ["self_attn.k_proj"] = { kv * hd, H },
  ["self_attn.v_proj"] = { kv * hd, H }, ["self_attn.o_proj"] = { H, heads * hd },
  ["mlp.gate_proj"] = { I, H }, ["mlp.up_proj"] = { I, H }, ["mlp.down_proj"] = { H, I },
}
local tensors, floats, seed = {}, 0, 10
for l = 0, L - 1 do
  for mod, s in pairs(shapes) do
    local key = ("base_model.model.model.layers.%d.%s"):format(l, mod)
    seed = seed + 2
    tensors[key .. ".lora_A.weight"] = T.randn({ R, s[2] }, seed) * 0.01
    tensors[key .. ".lora_B.weight"] = T.randn({ s[1], R }, seed + 1) * 0.01
    floats = floats + R * (s[1] + s[2])
  end
end
assert(T.save(adapter .. "/adapter_model.safetensors", tensors))
assert(fs.write(adapter .. "/adapter_config.json", json.encode({
  peft_type = "LORA", task_type = "CAUSAL_LM", r = R, lora_alpha = 2 * R,
  target_modules = { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" },
})))

local m = model.load(work .. "/base")
m:load_adapter(adapter, { name = "ft", activate = false })
local info = m:adapters()[1]

local ids = {}
for i = 1, TOK do ids[i] = (i * 7919) % V end

-- The three modes take turns within each round, so load that drifts during the run (a shared
-- machine) reaches all of them alike; each keeps its best round.
local modes = {
  { ("base weights (floor)"), function() m:disable_adapters() end },
  { ("adapter r=%d unmerged"):format(R), function() m:set_adapter("ft") end },
  { ("adapter r=%d merged"):format(R), function()
    m:set_adapter("ft")
    m:merge_adapter()
  end },
}
local rows = {}
for i, mode in ipairs(modes) do rows[i] = { mode[1], math.huge, math.huge } end
for _ = 1, 3 do
  for i, mode in ipairs(modes) do
    mode[2]()
    local t0 = now()
    m:forward(ids, { logits = "last" })
    local t1 = now()
    m:generate({ ids[1] }, { max_new_tokens = NEW, stop = {} })
    local t2 = now()
    rows[i][2] = math.min(rows[i][2], t1 - t0)
    rows[i][3] = math.min(rows[i][3], (t2 - t1) / NEW)
  end
end

print(("model: hidden %d, intermediate %d, %d layers, vocab %d, bf16 (%.0f MB of weights)")
  :format(H, I, L, V, m.info.weight_bytes / 1e6))
print(("adapter: %d matrices, %d bytes held = 4·r·(in+out) summed: %s"):format(info.targets,
  info.bytes, tostring(info.bytes == 4 * floats)))
print(("%-28s %12s %8s %14s %8s"):format("", "prefill ms", "ratio", "decode ms/tok", "ratio"))
for _, r in ipairs(rows) do
  print(("%-28s %12.1f %8.3f %14.2f %8.3f"):format(r[1], r[2] * 1e3, r[2] / rows[1][2], r[3] * 1e3,
    r[3] / rows[1][3]))
end
m = nil
collectgarbage("collect")
fs.remove(work)
