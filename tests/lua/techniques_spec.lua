-- seer.techniques on the fixture models: logit lens (last layer = the HF logits; other layers = the
-- model's own head over that layer's output), per-token logprobs and entropy against the HF
-- reference, activation patching (residual, attention, MLP, per head), difference of means,
-- direction ablation at every layer against the HF reference, attention patterns per head.
local tech = require "seer.techniques"
local model = require "seer.model"
local T = require "seer.tensor"
local helpers = require "spec_helpers"
local assert_close = helpers.assert_close
local read_json = helpers.read_json
local list = helpers.list

local unpack = table.unpack or unpack
local FIX = helpers.FIXTURES .. "/models"

for _, name in ipairs({ "gemma2", "llama3", "qwen3" }) do
  describe("techniques on " .. name, function()
    local dir = FIX .. "/" .. name
    local m = model.load(dir)
    local ref = assert(T.load(dir .. "/reference.safetensors"))
    local js = read_json(dir .. "/reference.json")
    local a, b = list(js.ids_a), list(js.ids_b)
    local L, H = m.num_layers, m.hidden_size

    it("logit_lens: the last layer reads out the model's logits, earlier layers the same head", function()
      local lens = tech.logit_lens(m, a, { layers = { "embed", 0, 1, L - 1 } })
      assert_close(lens[L - 1], ref["a.logits"], 1e-4, "last layer")
      for _, l in ipairs({ "embed", 0, 1 }) do
        -- the model's own final norm and head over layer l's output: put it in place of the last
        -- layer's output and run the forward pass
        local h
        m:forward(a, { logits = false, hooks = { [l == "embed" and "embed" or ("layers." .. l)] = function(x)
          h = x:clone()
        end } })
        local want = m:forward(a, { hooks = { [L - 1] = function() return h end } }).logits
        assert_close(lens[l], want, 1e-5, "layer " .. tostring(l))
      end
      -- translators: a function and an affine map, applied before the norm
      local id = T.zeros({ H, H })
      for i = 1, H do id[i][i] = 1 end
      local affine = { A = id * 2, b = T.zeros({ H }) }
      local tuned = tech.logit_lens(m, a, { layers = { 1 }, translators = { [1] = affine } })
      local by_fn = tech.logit_lens(m, a, { layers = { 1 }, translators = { [1] = function(x) return x * 2 end } })
      assert_close(tuned[1], by_fn[1], 1e-5, "affine vs function")
      assert.has_error(function() tech.logit_lens(m, a, { layers = { L } }) end,
        ("logit_lens: layer %d is not one of embed, 0..%d"):format(L, L - 1))
      local top = tech.top_tokens(m, lens[L - 1][12], 3)
      assert.are.equal(js.greedy_a[1], top[1].id)
    end)

    it("token_logprobs: next-token logprobs as the reference, entropy of each prediction", function()
      local r = tech.token_logprobs(m, a)
      assert.are.equal(11, #r.logprobs)
      assert_close(T.from(r.logprobs), ref["a.logprobs_next"], 1e-4, "logprobs")
      local lp = ref["a.logits"]:log_softmax():totable()
      for t = 1, 12 do
        local h = 0
        for _, x in ipairs(lp[t]) do h = h - math.exp(x) * x end
        assert(math.abs(h - r.entropy[t]) <= 1e-4 * math.max(1, h), "entropy " .. t)
      end
    end)

    it("activation_patching: the whole residual stream restores the clean run at every layer", function()
      local a12, b12 = a, { unpack(b, 1, 12) }
      local target = b[13]
      local metric = function(lg) return lg[12][target + 1] - lg[12][a[2] + 1] end
      local r = tech.activation_patching(m, a12, b12, { metric = metric })
      assert(math.abs(r.clean - r.corrupt) > 1e-3)
      for l = 0, L - 1 do
        assert(math.abs(r.patched["layers." .. l] - r.clean) <= 1e-4 * math.max(1, math.abs(r.clean)), "layer " .. l)
      end
      -- per position at the last layer: only the last position matters to the metric
      local pp = tech.activation_patching(m, a12, b12, { metric = metric, points = { L - 1 }, per_position = true })
      local per = pp.patched["layers." .. (L - 1)]
      assert(math.abs(per[12] - r.clean) <= 1e-4 * math.max(1, math.abs(r.clean)))
      for t = 1, 11 do assert.are.equal(r.corrupt, per[t]) end
      -- attention and MLP outputs and heads patch too, and change the metric
      local pts = { "layers.1.attn", "layers.1.mlp", "layers.1.attn.head.0", "embed" }
      local p2 = tech.activation_patching(m, a12, b12, { metric = metric, points = pts })
      for _, p in ipairs(pts) do assert.is_number(p2.patched[p]) end
      assert(math.abs(p2.patched["embed"] - r.clean) <= 1e-4 * math.max(1, math.abs(r.clean)))
      assert.has_error(function()
        tech.activation_patching(m, a, b, { metric = metric })
      end, "activation_patching: clean has 12 tokens and corrupt 20; patching needs equal lengths")
      assert.has_error(function()
        tech.activation_patching(m, a12, b12, { metric = metric, points = { "layers.1.attn.head.99" } })
      end)
    end)

    it("per-head outputs add up to the attention output", function()
      local nh, hd = m.info.num_heads, m.info.head_dim
      local function attn_out(zero_head)
        local out
        m:forward(a, { logits = false, hooks = {
          ["layers.1.attn.heads"] = function(z)
            assert.are.same({ 12, nh * hd }, z.shape)
            if zero_head == "all" then
              z:mul_(0)
            elseif zero_head then
              for t = 1, 12 do z[t]:slice(1, zero_head * hd + 1, (zero_head + 1) * hd):mul_(0) end
            end
          end,
          ["layers.1.attn"] = function(o) out = o:clone() end } })
        return out
      end
      local full = attn_out(nil)
      if name == "gemma2" then
        -- post-attention norm: zeroing every head gives zero, the norm is not additive
        assert_close(attn_out("all"), full * 0, 0, "all heads zeroed")
        return
      end
      local sum = full * 0
      for h = 0, nh - 1 do sum = sum + (full - attn_out(h)) end
      assert_close(sum, full, 1e-4, "sum of head contributions")
    end)

    it("attention_patterns: causal rows of probabilities per head, the same through the KV cache", function()
      local pats = tech.attention_patterns(m, b)
      local nh = m.info.num_heads
      for l = 0, L - 1 do
        local w = pats[l]
        assert.are.same({ nh, 20, 20 }, w.shape)
        local sliding = type(js.layer_types) == "table" and js.layer_types[l + 1] == "sliding_attention"
        local wt = w:totable()
        for h = 1, nh do
          for t = 1, 20 do
            local s = 0
            for j = 1, 20 do
              local v = wt[h][t][j]
              if j > t or (sliding and j <= t - m.info.sliding_window) then assert.are.equal(0, v) end
              s = s + v
            end
            assert(math.abs(s - 1) < 1e-5, "row sum")
          end
        end
      end
      -- a decode step's weights are the last row of the full pass
      local cache = m:new_cache()
      m:forward({ unpack(b, 1, 19) }, { cache = cache, logits = false })
      local step
      m:forward({ b[20] }, { cache = cache, logits = false, hooks = { ["layers.0.attn.weights"] = function(w)
        step = w:clone()
      end } })
      assert.are.same({ nh, 1, 20 }, step.shape)
      for h = 1, nh do assert_close(step[h][1], pats[0][h][20], 1e-5, "decode row head " .. h) end
      assert.has_error(function()
        m:forward(a, { hooks = { ["layers.0.attn.weights"] = function(w) return w end } })
      end)
    end)

    it("diff_means and ablate_direction", function()
      local d = tech.diff_means(m, { a, list(js.ids_b) }, { list(js.greedy_a) }, { layers = { 0, 1 } })
      local hs_a = m:forward(a, { hidden_states = true }).hidden_states
      local hs_b = m:forward(b, { hidden_states = true }).hidden_states
      local hs_g = m:forward(list(js.greedy_a), { hidden_states = true }).hidden_states
      assert_close(d[1], (hs_a[2][12] + hs_b[2][20]) / 2 - hs_g[2][12], 1e-5, "diff of means")
      local u = tech.diff_means(m, { a }, { b }, { layers = { 0 }, normalize = true, position = 3 })
      assert(math.abs(u[0]:norm() - 1) < 1e-5)
      assert_close(u[0], (hs_a[1][4] - hs_b[1][4]):normalize(), 1e-5, "position 3")
      local h = tech.ablate_direction(m, ref.ablate_direction)
      assert_close(m:forward(a).logits, ref["a.ablate.logits"], 1e-4, "a.ablate.logits")
      h:remove()
      assert_close(m:forward(a).logits, ref["a.logits"], 1e-4, "after remove")
    end)
  end)
end
