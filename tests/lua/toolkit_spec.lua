-- seer.toolkit: Seer's steering_hook, extract_activation, batch_generate,
-- collect_activations_multiple_layers and layer_percent_to_layer, on the fixture models against the
-- HF references (steering), against forward's own hidden states, and with a real tokenizer for the
-- text and chat paths; handed to a session as a workspace library.
local seer = require "seer"
local toolkit = require "seer.toolkit"
local model = require "seer.model"
local T = require "seer.tensor"
local json = require "seer.json"
local fs = require "seer.fs"
local workspace = require "seer.workspace"
local helpers = require "spec_helpers"
local rel_err = helpers.rel_err
local assert_close = helpers.assert_close
local read_json = helpers.read_json
local list = helpers.list

local FIX = helpers.FIXTURES .. "/models"

for _, name in ipairs({ "gemma2", "llama3" }) do
  describe("toolkit on " .. name, function()
    local dir = FIX .. "/" .. name
    local m = model.load(dir)
    local ref = assert(T.load(dir .. "/reference.safetensors"))
    local js = read_json(dir .. "/reference.json")
    local ids = list(js.ids_a)
    local L = m.num_layers

    it("steering_hook steers forward and generate as the HF reference, and is removed", function()
      local h = toolkit.steering_hook(m, js.steer_layer, ref.steer_vector)
      assert_close(m:forward(ids).logits, ref["a.steer.logits"], 1e-4, "a.steer.logits")
      assert.are.same(list(js.greedy_a_steer), m:generate(ids, { max_new_tokens = 12 }).ids)
      h:remove()
      h:remove()
      assert_close(m:forward(ids).logits, ref["a.logits"], 1e-4, "a.logits after remove")
      -- strength scales the vector
      local v2 = ref.steer_vector * 0.5
      local out = toolkit.steering_hook(m, js.steer_layer, v2, { strength = 2.0 }):run(function()
        return m:forward(ids).logits
      end)
      assert_close(out, ref["a.steer.logits"], 1e-4, "strength 2 x half vector")
      assert_close(m:forward(ids).logits, ref["a.logits"], 1e-4, "after run")
    end)

    it("steering_hook's start_pos counts within each call, as Seer's", function()
      local k = 5
      local got = toolkit.steering_hook(m, js.steer_layer, ref.steer_vector, { start_pos = k }):run(function()
        return m:forward(ids).logits
      end)
      local plain = m:forward(ids).logits
      -- attention is causal: tokens before start_pos see no steered token
      assert_close(got:slice(1, 1, k), plain:slice(1, 1, k), 0, "before start_pos")
      assert(rel_err(got:slice(1, k + 1, 12), plain:slice(1, k + 1, 12)) > 1e-3)
      -- generate: prefill rows >= k steered, one-token decode steps not
      local _, g = toolkit.steering_hook(m, js.steer_layer, ref.steer_vector, { start_pos = k }):run(function()
        return nil, m:generate(ids, { max_new_tokens = 6 })
      end)
      local manual = m:generate(ids, { max_new_tokens = 6, hooks = { [js.steer_layer] = function(h, ctx)
        if ctx.step == "prefill" then h:slice(1, k + 1, h.shape[1]):add_(ref.steer_vector) end
      end } })
      assert.are.same(manual.ids, g.ids)
    end)

    it("steering_hook refuses bad layers and vectors with Seer's messages", function()
      assert.has_error(function() toolkit.steering_hook(m, L, ref.steer_vector) end,
        ("steering_hook: layer_idx %d out of bounds. Model has %d layers (0-%d)"):format(L, L, L - 1))
      assert.has_error(function() toolkit.steering_hook(m, 0, T.zeros({ 3 })) end,
        "steering_hook: Vector dimension 3 doesn't match hidden dimension 64")
    end)

    it("extract_activation is the output of the decoder layer at the position", function()
      local hs = m:forward(ids, { hidden_states = true }).hidden_states
      for l = 0, L - 2 do
        assert_close(toolkit.extract_activation(m, ids, l), hs[l + 1][12], 0, "last position")
        assert_close(toolkit.extract_activation(m, ids, l, { position = 3 }), hs[l + 1][4], 0, "position 3")
        assert_close(toolkit.extract_activation(m, ids, l, { position = -2 }), hs[l + 1][11], 0, "position -2")
      end
      -- the last layer's output is before the final norm (HF's hidden_states[L] is after it)
      local last
      m:forward(ids, { hooks = { [L - 1] = function(h) last = h[12]:clone() end } })
      assert_close(toolkit.extract_activation(m, ids, L - 1), last, 0, "last layer")
      assert(rel_err(toolkit.extract_activation(m, ids, L - 1), hs[L][12]) > 1e-3)
      assert.has_error(function() toolkit.extract_activation(m, ids, 0, { position = 12 }) end,
        "extract_activation: position 12 is out of range for 12 tokens")
    end)

    it("collect_activations_multiple_layers returns [B, T, H] per layer, offsets from the end", function()
      local ids_b = list(js.ids_b)
      local acts = toolkit.collect_activations_multiple_layers(m, { 0, L - 2 }, { ids, ids_b })
      assert.are.same({ 2, 20, 64 }, acts[0].shape)
      local hb = m:forward(ids_b, { hidden_states = true }).hidden_states
      assert_close(acts[L - 2][2], hb[L - 1], 1e-5, "row 2")
      local cut = toolkit.collect_activations_multiple_layers(m, { 1 }, { ids, ids_b },
        { min_offset = -2, max_offset = -6 })
      assert.are.same({ 2, 4, 64 }, cut[1].shape)
      assert_close(cut[1][2], hb[2]:slice(1, 15, 18), 1e-5, "offsets [-6, -2)")
      local ha = m:forward(ids, { hidden_states = true }).hidden_states
      assert_close(cut[1][1], ha[2]:slice(1, 7, 10), 1e-5, "left-padded row")
      assert.has_error(function()
        toolkit.collect_activations_multiple_layers(m, { 1 }, ids, { min_offset = -6, max_offset = -2 })
      end, "collect_activations_multiple_layers: offsets must be negative integers with max_offset < min_offset")
    end)
  end)
end

describe("toolkit", function()
  it("layer_percent_to_layer floors as Seer's", function()
    assert.are.equal(18, toolkit.layer_percent_to_layer(36, 50))
    assert.are.equal(32, toolkit.layer_percent_to_layer(64, 50))
    assert.are.equal(40, toolkit.layer_percent_to_layer(80, 50))
    assert.are.equal(12, toolkit.layer_percent_to_layer(24, 54))
    assert.are.equal(1, toolkit.layer_percent_to_layer({ num_layers = 4 }, 25))
    assert.are.equal(0, toolkit.layer_percent_to_layer(4, 0))
  end)

  describe("with a tokenizer", function()
    local src = os.getenv("SEER_SOURCE_DIR") or "."
    local cache = os.getenv("SEER_TEST_CACHE") or (src .. "/build/test-cache")
    local m
    setup(function()
      local r = seer.process.run({ cmd = "bash", args = { src .. "/tests/setup/tokenizers.sh", cache } })
      assert(r.ok, "tokenizer setup failed: " .. r.stderr)
      local tok
      for name, dir in r.stdout:gmatch("(%S+) (%S+)\n") do if name == "llama2" then tok = dir end end
      local work = assert(fs.tmpdir("seer-toolkit"))
      assert(fs.write(work .. "/config.json", json.encode({
        architectures = { "LlamaForCausalLM" }, model_type = "llama", vocab_size = 32000, hidden_size = 32,
        intermediate_size = 64, num_hidden_layers = 2, num_attention_heads = 4, num_key_value_heads = 2,
        max_position_embeddings = 256, rms_norm_eps = 1e-5, rope_theta = 10000.0, tie_word_embeddings = true })))
      model.create_random(work .. "/config.json", work .. "/m", { dtype = "f32", seed = 5 })
      for _, f in ipairs({ "tokenizer.json", "tokenizer_config.json" }) do
        assert(fs.write(work .. "/m/" .. f, assert(fs.read(tok .. "/" .. f))))
      end
      m = model.load(work .. "/m")
    end)

    it("extract_activation tokenizes texts with special tokens, as HF's tokenizer(text)", function()
      local ids = m.tokenizer:encode("The cat sat")
      assert.are.equal(1, ids[1]) -- BOS
      assert_close(toolkit.extract_activation(m, "The cat sat", 0), toolkit.extract_activation(m, ids, 0), 0, "text")
    end)

    it("batch_generate returns each prompt's continuation, as generating it alone", function()
      local prompts = { "Once upon a time", "The capital of France is" }
      local out = toolkit.batch_generate(m, prompts, { max_new_tokens = 5 })
      assert.are.equal(2, #out)
      for i, p in ipairs(prompts) do
        assert.are.equal(m:generate(p, { max_new_tokens = 5 }).text, out[i])
      end
    end)
  end)

  it("can be handed to a session as a workspace library", function()
    local lib = workspace.Library.from_module("seer.toolkit")
    assert.are.equal("toolkit", lib.name)
    assert.truthy(lib.docs:find("steering_hook", 1, true))
    local dir = assert(fs.tmpdir("seer-toolkit-lib"))
    lib:install(dir)
    local chunk = assert(loadfile(dir .. "/toolkit/init.lua"))
    assert.are.equal(toolkit, chunk())
  end)
end)
