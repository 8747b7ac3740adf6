-- Models that Seer's experiments load: Gemma3ForConditionalGeneration checkpoints load their
-- language model (nested text_config, language_model.* or model.language_model.* weights, vision
-- tower ignored) and match the gemma3_text reference exactly; the real configs of Qwen3-32B,
-- Llama-3.3-70B-Instruct and gemma-3-27b-it give the memory arithmetic, are refused on a machine
-- they do not fit, and (at reduced depth and width, with their heads, GQA, head_dim and rope
-- scaling kept) load and run with a KV cache that agrees with the full forward pass.
local model = require "seer.model"
local fit = require "seer.model_fit"
local T = require "seer.tensor"
local json = require "seer.json"
local fs = require "seer.fs"
local helpers = require "spec_helpers"
local rel_err = helpers.rel_err
local read_json = helpers.read_json
local list = helpers.list

local unpack = table.unpack or unpack
local FIX = helpers.FIXTURES

describe("wrapped Gemma 3 checkpoints", function()
  local src = FIX .. "/models/gemma3_text"
  local ref = assert(T.load(src .. "/reference.safetensors"))
  local js = read_json(src .. "/reference.json")
  local text_cfg = read_json(src .. "/config.json")
  local weights = assert(T.load(src .. "/model.safetensors"))

  local function wrap(layout)
    local dir = assert(fs.tmpdir("seer-wrapped"))
    local tc = {}
    for k, v in pairs(text_cfg) do tc[k] = v end
    tc.architectures = nil
    local cfg = { architectures = { "Gemma3ForConditionalGeneration" }, model_type = "gemma3",
      text_config = tc, vision_config = { hidden_size = 8, model_type = "siglip_vision_model" },
      eos_token_id = text_cfg.eos_token_id }
    assert(fs.write(dir .. "/config.json", json.encode(cfg)))
    local out = {}
    for name, t in pairs(weights) do
      local body = name:match("^model%.(.*)$")
      out[(body and layout .. body) or name] = t
    end
    out["vision_tower.vision_model.embeddings.patch_embedding.weight"] = T.randn({ 8, 3, 2, 2 }, 1)
    out["multi_modal_projector.mm_input_projection_weight"] = T.randn({ 8, 64 }, 2)
    assert(T.save(dir .. "/model.safetensors", out))
    return dir
  end

  for _, layout in ipairs({ "language_model.model.", "model.language_model." }) do
    it("loads the language model under " .. layout .. " and matches the text model's reference", function()
      local m = model.load(wrap(layout))
      assert.are.equal("Gemma3ForCausalLM", m.architecture)
      assert.are.equal(4, m.num_layers)
      local ids = list(js.ids_a)
      local e = rel_err(m:forward(ids).logits, ref["a.logits"])
      assert(e <= 1e-4, ("a.logits: %.3g"):format(e))
      assert.are.same(list(js.greedy_a), m:generate(ids, { max_new_tokens = 12 }).ids)
    end)
  end

  it("fills Gemma3TextConfig's defaults for what the text_config leaves out", function()
    local e = fit.estimate(FIX .. "/configs/gemma-3-27b-it/config.json")
    assert.are.equal(262208 * 5376 * 2, e.embed) -- vocab_size from the defaults
    assert.are.equal(0, e.head)                  -- tied
    assert.are.equal(62, e.num_layers)
  end)
end)

describe("the real configs of Seer's models", function()
  local cases = {
    { "Llama-3.3-70B-Instruct", 70553706496, "80 layers x 1.71 GB" },
    { "Qwen3-32B", 32762123264, "64 layers x 0.98 GB" },
    { "gemma-3-27b-it", 27009346304, "62 layers x 0.83 GB" },
  }
  for _, c in ipairs(cases) do
    local name, params, per_layer = c[1], c[2], c[3]
    it(name .. ": the memory arithmetic, and a refusal where it does not fit", function()
      local path = FIX .. "/configs/" .. name
      local e = fit.estimate(path .. "/config.json")
      -- parameters of the language model, as HF counts them (norms included)
      local approx = e.weights / e.bytes_per_param
      assert(math.abs(approx - params) / params < 1e-3,
        ("%s: %.0f params, expected ~%.0f"):format(name, approx, params))
      local ok, why = fit.fits(e, 24e9)
      assert.is_false(ok)
      assert.truthy(why:find(per_layer, 1, true), why)
      assert.truthy(why:find("this device has 24.0 GB of memory", 1, true), why)
      assert.is_true((fit.fits(e, 200e9)))
      local ok2, err = pcall(model.load, path, { max_memory = 24e9 })
      assert.is_false(ok2)
      assert.truthy(err:find("Models larger than one device are not supported yet", 1, true), err)
    end)

    it(name .. " at reduced depth and width runs, and its KV cache agrees with the full pass", function()
      local cfg = read_json(FIX .. "/configs/" .. name .. "/config.json")
      local t = cfg.text_config or cfg
      -- keep heads, kv heads, head_dim, rope and norms; shrink depth, width and vocabulary
      t.num_hidden_layers = name == "gemma-3-27b-it" and 6 or 2
      t.hidden_size = math.floor(t.hidden_size / 16)
      t.intermediate_size = math.floor(t.intermediate_size / 16)
      t.vocab_size = 1024
      cfg.vocab_size = cfg.text_config and nil or 1024
      local dir = assert(fs.tmpdir("seer-real-config"))
      assert(fs.write(dir .. "/config.json", json.encode(cfg)))
      model.create_random(dir .. "/config.json", dir .. "/m", { dtype = "bf16", seed = 7 })
      local m = model.load(dir .. "/m")
      assert.are.equal(t.num_attention_heads, m.info.num_heads)
      assert.are.equal(t.num_key_value_heads, m.info.num_kv_heads)
      assert.are.equal(128, m.info.head_dim)
      local ids = {}
      for i = 1, 24 do ids[i] = (i * 37) % 1024 end
      local full = m:forward(ids).logits
      assert(full:abs():max() < math.huge)
      local cache = m:new_cache()
      m:forward({ unpack(ids, 1, 20) }, { cache = cache })
      for i = 21, 24 do
        local step = m:forward({ ids[i] }, { cache = cache }).logits
        local e = rel_err(step[1], full[i])
        assert(e <= 1e-4, ("%s: decode step %d: %.3g"):format(name, i, e))
      end
      local g = m:generate(ids, { max_new_tokens = 4 })
      assert.are.equal(4, #g.ids)
    end)
  end
end)
