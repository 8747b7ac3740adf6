-- Hooks on a device = "cuda" model, with the kernels on the grid emulator (SEER_CUDA_EMULATE=1, set
-- for this spec by tests/CMakeLists.txt): hook views are device tensors, reading one copies it to a
-- host shadow, writing goes back to the device; steering (in place) and ablation (replacement
-- tensors) match HF transformers at the fixtures' tolerances (tests/fixtures/README.md); arithmetic
-- on hook tensors gives device tensors equal to the host's, host copies once the call is over.
-- attn.weights hooks see the CPU engine's softmax weights. Also LoRA adapters under hooks, and
-- load's dtype, which converts the device's weights.
local model = require "seer.model"
local T = require "seer.tensor"
local json = require "seer.json"
local fs = require "seer.fs"

local FIX = (os.getenv("SEER_FIXTURES") or "tests/fixtures") .. "/models"

local function rel_err(got, ref)
  assert.are.same(ref.shape, got.shape)
  local g, r = got:reshape(-1):totable(), ref:reshape(-1):totable()
  local worst = 0
  for i = 1, #r do
    local d = math.abs(g[i] - r[i]) / math.max(1, math.abs(r[i]))
    if not (d <= worst) then worst = d end -- luacheck: ignore 581 (NaN must count as a failure)
  end
  return worst
end

local function assert_close(got, ref, tol, what)
  local e = rel_err(got, ref)
  assert(e <= tol, ("%s: max rel err %.3g > %.3g"):format(what, e, tol))
end

local function list(t)
  local out = {}
  for i = 1, #t do out[i] = t[i] end
  return out
end

for _, name in ipairs({ "llama3", "gemma2-bf16" }) do
  describe("device hooks " .. name, function()
    local dir = FIX .. "/" .. name
    local tol = name:find("bf16", 1, true) and 2e-4 or 1e-4
    local m = model.load(dir, { device = "cuda" })
    local ref = assert(T.load(dir .. "/reference.safetensors"))
    local js = json.decode(assert(fs.read(dir .. "/reference.json")))
    local ids_a = list(js.ids_a)
    local L, steer_layer = m.num_layers, js.steer_layer

    it("gives hooks device tensors that read and write through to the device", function()
      assert.are.equal("cuda", m.device)
      local devices, kept = {}, nil
      local out = m:forward(ids_a, { hidden_states = true, hooks = { [0] = function(h)
        devices[#devices + 1] = h.device
        kept = h
      end } })
      assert.are.same({ "cuda" }, devices)
      -- The kept view outlives the call as a host copy of the residual stream's last state, the
      -- final norm's output, as on the CPU engine.
      assert.are.equal(0, rel_err(kept, out.hidden_states[L]))
    end)

    local function steer(h) h:add_(ref.steer_vector) end

    it("steers in place through a hook on layers.<steer_layer>", function()
      local out = m:forward(ids_a, { hidden_states = true, hooks = { [steer_layer] = steer } })
      local hs = ref["a.steer.hidden_states"]
      for l = 0, L do
        assert_close(out.hidden_states[l], hs[l + 1], tol, ("a.steer.hidden_states[%d]"):format(l))
      end
      assert_close(out.logits, ref["a.steer.logits"], tol, "a.steer.logits")
      local g = m:generate(ids_a, { max_new_tokens = 12, stop = {},
        hooks = { ["layers." .. steer_layer] = steer } })
      assert.are.same(list(js.greedy_a_steer), g.ids)
      assert_close(m:forward(ids_a).logits, ref["a.logits"], tol, "a.logits after the hooks")
    end)

    it("ablates a direction at every layer with replacement tensors", function()
      local d = ref.ablate_direction
      local function ablate(h) return h - h:matmul(d):unsqueeze(-1) * d end
      local hooks = {}
      for l = 0, L - 1 do hooks[l] = ablate end
      assert_close(m:forward(ids_a, { hooks = hooks }).logits, ref["a.ablate.logits"], tol, "a.ablate.logits")
    end)

    it("runs mean and matmul on hook tensors, equal to the same ops on a host copy", function()
      local d = ref.ablate_direction
      local seen = 0
      m:forward(ids_a, { logits = false, hooks = { [steer_layer] = function(h)
        local host = h:clone()
        assert.are.equal("cuda", h.device)
        assert.are.equal("cpu", host.device)
        -- mean: the device sums in the CPU's order and precision, so the values are equal.
        for dim = 1, #h.shape do
          assert.are.equal(0, rel_err(h:mean(dim), host:mean(dim)))
          assert.are.equal(0, rel_err(h:mean(dim, true), host:mean(dim, true)))
        end
        assert.are.equal(host:mean(), h:mean())
        -- matmul: a different order of f32 additions, within f32 rounding of the host's.
        assert_close(h:matmul(d), host:matmul(d), 1e-5, "h:matmul(d)")
        assert.are.equal("cpu", h:matmul(d).device)
        seen = seen + 1
      end } })
      assert.are.equal(1, seen)
    end)

    it("runs out-of-place arithmetic on hook tensors on the device, equal to the host's", function()
      local d = ref.ablate_direction
      local results, hosts = {}, {}
      m:forward(ids_a, { logits = false, hooks = { [steer_layer] = function(h)
        local host = h:clone()
        -- Each result is a device tensor (a kernel made it), and ops on results stay there too.
        -- Unary ops and in-place ops on a result (an ablation's mul_(0), a copy_) too.
        local z, zh = h + 0, host + 0
        z:mul_(0.1):sub_(h):copy_(z * 0):add_(d)
        zh:mul_(0.1):sub_(host):copy_(zh * 0):add_(d)
        local r = { h * 0.1, 2 - h, h + d, (h / 3) - h, -h, h:abs(), z }
        local want = { host * 0.1, 2 - host, host + d, (host / 3) - host, -host, host:abs(), zh }
        for i = 1, #r do
          assert.are.equal("cuda", r[i].device)
          assert.are.equal(0, rel_err(r[i], want[i]))
        end
        results, hosts = r, want
      end } })
      -- Kept past the call, they are host copies holding the same values.
      assert.are.equal(7, #results)
      for i = 1, #results do
        assert.are.equal("cpu", results[i].device)
        assert.are.equal(0, rel_err(results[i], hosts[i]))
      end
    end)

    -- Each layer's softmax weights as the CPU engine gives them ([B][heads][T][start + T], 0 where
    -- masked), through a prefill of a left-padded batch and graphed decode steps (gemma2's sliding
    -- layers: a ring of 4 slots, wrapped by the prompt and every step).
    local cpu = model.load(dir)
    local function weights_of(mm)
      local seen, hooks = {}, {}
      for l = 0, L - 1 do
        hooks["layers." .. l .. ".attn.weights"] = function(w)
          assert.are.equal(mm.device, w.device)
          seen[#seen + 1] = { layer = l, w = w:clone() }
        end
      end
      local g = mm:generate({ ids_a, list(js.ids_b) }, { max_new_tokens = 4, stop = {}, hooks = hooks })
      return seen, g
    end

    it("gives attn.weights hooks the CPU engine's softmax weights: padded batch, decode, rings", function()
      local got, g = weights_of(m)
      local want, gw = weights_of(cpu)
      assert.are.same(gw[1].ids, g[1].ids)
      assert.are.same(gw[2].ids, g[2].ids)
      assert.are.equal(4 * L, #want) -- the prefill and 3 decode steps (a capture, then replays)
      assert.are.equal(#want, #got)
      for i = 1, #want do
        local what = ("call %d layers.%d.attn.weights"):format(math.floor((i - 1) / L), want[i].layer)
        assert.are.equal(want[i].layer, got[i].layer)
        assert_close(got[i].w, want[i].w, tol, what)
        -- Masked keys (padding, past the window, the future) are exactly 0, as on the CPU.
        local gt, wt = got[i].w:reshape(-1):totable(), want[i].w:reshape(-1):totable()
        for j = 1, #wt do
          if wt[j] == 0 and gt[j] ~= 0 then error(("%s: masked key %d is %g"):format(what, j, gt[j])) end
        end
      end
    end)

    it("keeps each layer's weights in a view of its own; writes to them change nothing", function()
      local kept, edited = {}, {}
      local hooks = {}
      for l = 0, L - 1 do
        hooks["layers." .. l .. ".attn.weights"] = function(w)
          kept[l] = w
          if l == 0 then w:mul_(0) end -- in place, after P.V: no effect on the pass, as on the CPU
          edited[l] = w:clone()
        end
      end
      local base = m:forward(ids_a).logits
      local out = m:forward(ids_a, { hooks = hooks }).logits
      assert.are.equal(0, rel_err(out, base))
      local want = require("seer.techniques").attention_patterns(cpu, ids_a)
      for l = 0, L - 1 do
        assert.are.equal("cpu", kept[l].device)
        assert.are.equal(0, rel_err(kept[l], edited[l]))
        if l > 0 then assert_close(kept[l], want[l], tol, ("kept layers.%d.attn.weights"):format(l)) end
      end
      for _, x in ipairs(kept[0]:reshape(-1):totable()) do assert.are.equal(0, x) end
      local ok, err = pcall(m.forward, m, ids_a, { hooks = { ["layers.0.attn.weights"] = function(w) return w end } })
      assert.is_false(ok)
      assert.matches("layers.0.attn.weights returned a tensor, but this point is read-only", err, 1, true)
      local pats = require("seer.techniques").attention_patterns(m, ids_a)
      for l = 0, L - 1 do assert_close(pats[l], want[l], tol, ("attention_patterns[%d]"):format(l)) end
    end)
  end)
end

describe("LoRA on a device model", function()
  it("runs the adapter's side path under hooks as the CPU engine does, and disables it", function()
    local peft = (os.getenv("SEER_FIXTURES") or "tests/fixtures") .. "/peft/llama-lora"
    local js = json.decode(assert(fs.read(FIX .. "/llama/reference.json")))
    local ref = assert(T.load(FIX .. "/llama/reference.safetensors"))
    local ids = list(js.ids_a)
    local m = model.load(FIX .. "/llama", { device = "cuda" })
    local base = m:forward(ids).logits
    assert.are.equal("ft", m:load_adapter(peft, { name = "ft" }))
    local cpu = model.load(FIX .. "/llama")
    cpu:load_adapter(peft, { name = "ft" })
    -- A steering hook on a layer the adapter changes: the hook sees (and edits) the device's
    -- residual stream with the side paths of the layers before it applied.
    local function steer(h) h:add_(ref.steer_vector) end
    local hooks = { [js.steer_layer] = steer }
    local got, want = m:forward(ids, { hooks = hooks }).logits, cpu:forward(ids, { hooks = hooks }).logits
    assert(rel_err(got, m:without_adapters(function() return m:forward(ids, { hooks = hooks }).logits end)) > 0.1,
      "the adapter changes the steered logits")
    -- The CPU engine with the same adapter and hook, at this spec's f32 tolerance (lua.lora_cuda
    -- checks the device against the fixtures at lora_spec.lua's).
    assert_close(got, want, 1e-4, "steered logits with the adapter")
    m:disable_adapters()
    assert.are.equal(0, rel_err(m:forward(ids).logits, base))
  end)
end)

describe("device dtype", function()
  local dir = FIX .. "/llama-bf16"
  local ref = assert(T.load(dir .. "/reference.safetensors"))
  local js = json.decode(assert(fs.read(dir .. "/reference.json")))

  it("converts bf16 weights to f16 and f32 on the device within the fixture's tolerance", function()
    for _, dtype in ipairs({ "f16", "f32" }) do
      local m = model.load(dir, { device = "cuda", dtype = dtype })
      assert.are.equal(dtype, m.dtype)
      assert_close(m:forward(list(js.ids_a)).logits, ref["a.logits"], 2e-4, dtype .. " a.logits")
    end
  end)

  it("refuses a dtype that is not a float, and conversion on the CPU", function()
    local ok, err = pcall(model.load, dir, { device = "cuda", dtype = "i32" })
    assert.is_false(ok)
    assert.matches('dtype must be "auto", "f32", "bf16" or "f16", got "i32"', err, 1, true)
    ok, err = pcall(model.load, dir, { device = "cpu", dtype = "f16" })
    assert.is_false(ok)
    assert.matches("stay in their stored dtype", err, 1, true)
  end)
end)
