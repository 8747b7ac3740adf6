-- LoRA adapters in PEFT's format (tests/fixtures/peft): a base model with its adapter gives the
-- hidden states, logits, greedy tokens, batches, KV-cache steps and hooked runs of the `-merged`
-- fixture model (run by this engine, which is exact vs HF): after merge_adapter bit for bit (the
-- merge is the fixture's f64 W + scale·B·A rounded once), unmerged within 1e-5 of each row's scale
-- (see row_tol); disabling returns the base model's outputs bit for bit; the config's matching
-- rules (regex targets, layers_to_transform, rank/alpha patterns, modules_to_save) and its load
-- errors. Run on the CPU (lua.lora) and again with every model on device = "cuda" (lua.lora_cuda).
local model = require "seer.model"
local T = require "seer.tensor"
local json = require "seer.json"
local fs = require "seer.fs"
local helpers = require "spec_helpers"
local max_abs_diff = helpers.max_abs_diff
local read_json = helpers.read_json
local list = helpers.list
local tmpdir = helpers.tmpdir

local FIX = helpers.FIXTURES
local TOL = 1e-5

-- Every model of the spec on one engine: "cpu", or "cuda" for lua.lora_cuda (tests/CMakeLists.txt),
-- where the kernels run on the grid emulator and the comparisons stay those above: the merged and
-- disabled runs against the device's own runs of the -merged and base models, bit for bit.
local DEVICE = os.getenv("SEER_LORA_DEVICE") or "cpu"
local function load(path, opts)
  opts = opts or {}
  opts.device = DEVICE
  return model.load(path, opts)
end

local function assert_close(got, ref, what) helpers.assert_close(got, ref, TOL, what) end

-- The unmerged side path adds x·Wᵀ and scale·(x·Aᵀ)·Bᵀ as two f32 results where the merged model
-- computes x·(W + scale·B·A)ᵀ once, so the two differ by f32 rounding of the largest terms in a row,
-- not of each element: llama-lora drives its residual stream to |h| ≈ 80 (the base model stays
-- near 4), and a few ulps of 80 (≈ 1e-4) exceed 1e-5·max(1, |ref|) on elements near zero of the
-- same row. peft itself shows it: its unmerged forward differs from its merge_and_unload one by
-- 3.2e-5·max(1, |ref|) on this adapter (tests/reference/peft_test.py). So the bound here is
-- 1e-5·max(1, |ref|, max |ref| over the row); measured worst cases are 1.6e-6 (hidden states) and
-- 4.5e-6 (logits) of that scale.
local function row_err(got, ref)
  assert.are.same(ref.shape, got.shape)
  local n = ref.shape[#ref.shape]
  local g, r = got:reshape(-1):totable(), ref:reshape(-1):totable()
  local worst = 0
  for base = 0, #r - 1, n do
    local scale = 1
    for i = base + 1, base + n do scale = math.max(scale, math.abs(r[i])) end
    for i = base + 1, base + n do
      local d = math.abs(g[i] - r[i]) / scale
      if not (d <= worst) then worst = d end -- luacheck: ignore 581 (NaN must count as a failure)
    end
  end
  return worst
end

local function assert_row_close(got, ref, what)
  local e = row_err(got, ref)
  assert(e <= TOL, ("%s: max err %.3g of the row's scale > %.3g"):format(what, e, TOL))
end

local function assert_same_bits(got, ref, what)
  local d = max_abs_diff(got, ref)
  assert(d == 0, ("%s: differs by %.3g, expected identical"):format(what, d))
end

-- A copy of an adapter with its config edited by edit(cfg) (and the tensors kept unless
-- keep_tensors is false).
local function variant(src, edit, opts)
  opts = opts or {}
  local dir = tmpdir()
  local cfg = read_json(src .. "/adapter_config.json")
  if edit then edit(cfg) end
  assert(fs.write(dir .. "/adapter_config.json", json.encode(cfg)))
  if opts.tensors ~= false then
    assert(fs.write(dir .. "/adapter_model.safetensors", assert(fs.read(src .. "/adapter_model.safetensors"))))
  end
  return dir
end

local CASES = {
  { adapter = "llama-lora", base = "llama" },
  { adapter = "qwen3-rslora", base = "qwen3" },
}

for _, case in ipairs(CASES) do
  describe("adapter " .. case.adapter, function()
    local adir = FIX .. "/peft/" .. case.adapter
    local bdir = FIX .. "/models/" .. case.base
    local js = read_json(bdir .. "/reference.json")
    local ids_a, ids_b = list(js.ids_a), list(js.ids_b)
    local steer_layer = js.steer_layer
    local ref = assert(T.load(bdir .. "/reference.safetensors"))
    local merged = load(FIX .. "/peft/" .. case.adapter .. "-merged")
    local base = load(bdir)
    local m = load(adir, { base_model = bdir })
    local L = m.num_layers

    -- What every comparison runs, on the adapter model and on the merged fixture; `short` leaves
    -- out the batches and hooks.
    local function outputs(mm, short)
      local o = {}
      for _, which in ipairs({ "a", "b" }) do
        local out = mm:forward(which == "a" and ids_a or ids_b, { hidden_states = true })
        o[which] = out
      end
      o.greedy = mm:generate(ids_a, { max_new_tokens = 12, stop = {} }).ids
      local cache = mm:new_cache()
      local prefix = { ids_b[1], ids_b[2], ids_b[3], ids_b[4] }
      o.kv = { mm:forward(prefix, { cache = cache }).logits }
      for t = 5, #ids_b do o.kv[#o.kv + 1] = mm:forward({ ids_b[t] }, { cache = cache }).logits end
      if short then return o end
      o.batch = mm:generate({ ids_a, ids_b }, { max_new_tokens = 8, stop = {} })
      o.batch_fwd = mm:forward({ ids_a, ids_b }, { hidden_states = true })
      local steer = function(h) h:add_(ref.steer_vector) end
      o.steer = mm:forward(ids_a, { hidden_states = true, hooks = { [steer_layer] = steer } })
      o.steer_greedy = mm:generate(ids_a, { max_new_tokens = 12, stop = {},
        hooks = { ["layers." .. steer_layer] = steer } }).ids
      return o
    end

    local want = outputs(merged)

    local function check_matches_merged(mm, what, close, short)
      local got = outputs(mm, short)
      for _, which in ipairs({ "a", "b" }) do
        for l = 0, L do
          close(got[which].hidden_states[l], want[which].hidden_states[l],
            ("%s %s.hidden_states[%d]"):format(what, which, l))
        end
        close(got[which].logits, want[which].logits, what .. " " .. which .. ".logits")
      end
      assert.are.same(want.greedy, got.greedy)
      for i = 1, #want.kv do close(got.kv[i], want.kv[i], ("%s kv step %d"):format(what, i)) end
      if short then return end
      assert.are.same(want.batch[1].ids, got.batch[1].ids)
      assert.are.same(want.batch[2].ids, got.batch[2].ids)
      close(got.batch_fwd.logits, want.batch_fwd.logits, what .. " batch logits")
      for l = 0, L do
        close(got.batch_fwd.hidden_states[l], want.batch_fwd.hidden_states[l],
          ("%s batch hidden_states[%d]"):format(what, l))
      end
      for l = 0, L do
        close(got.steer.hidden_states[l], want.steer.hidden_states[l],
          ("%s steered hidden_states[%d]"):format(what, l))
      end
      close(got.steer.logits, want.steer.logits, what .. " steered logits")
      assert.are.same(want.steer_greedy, got.steer_greedy)
    end

    it("loads its base model with the adapter active", function()
      assert.are.equal("default", m:active_adapter())
      local info = m:adapters()
      assert.are.equal(1, #info)
      assert.are.equal("default", info[1].name)
      assert.is_true(info[1].active)
      assert.is_false(info[1].merged)
      local cfg = read_json(adir .. "/adapter_config.json")
      assert.are.equal(cfg.base_model_name_or_path, info[1].base_model)
      assert.are.equal(cfg.r, info[1].r_max)
      assert.are.equal(adir, m.adapter_path)
    end)

    it("costs r·(in+out) floats per targeted matrix", function()
      local st = assert(T.load(adir .. "/adapter_model.safetensors"))
      local n, bytes = 0, 0
      for _, t in pairs(st) do
        n = n + 1
        bytes = bytes + 4 * t.shape[1] * t.shape[2]
      end
      local info = m:adapters()[1]
      assert.are.equal(n / 2, info.targets)
      assert.are.equal(bytes, info.bytes)
    end)

    it("is not ignored: outputs differ from the base model", function()
      local d = max_abs_diff(m:forward(ids_a).logits, base:forward(ids_a).logits)
      assert(d > 0.5, ("adapter changes the logits by only %g"):format(d))
    end)

    it("matches the merged model unmerged: hidden states, logits, greedy, batch, hooks, KV cache", function()
      check_matches_merged(m, "unmerged", assert_row_close)
    end)

    it("disables and re-enables for free, and runs scoped without adapters", function()
      local b = base:forward(ids_a, { hidden_states = true })
      assert_close(b.logits, ref["a.logits"], "base model vs its reference")
      m:disable_adapters()
      assert.is_nil(m:active_adapter())
      local off = m:forward(ids_a, { hidden_states = true })
      assert_same_bits(off.logits, b.logits, "disabled logits")
      for l = 0, L do assert_same_bits(off.hidden_states[l], b.hidden_states[l], "disabled hidden " .. l) end
      assert.are.same(base:generate(ids_a, { max_new_tokens = 12, stop = {} }).ids,
        m:generate(ids_a, { max_new_tokens = 12, stop = {} }).ids)
      m:set_adapter("default")
      local on = m:forward(ids_a).logits
      assert_row_close(on, want.a.logits, "re-enabled")
      local inside, extra = m:without_adapters(function(x)
        assert.is_nil(m:active_adapter())
        return m:forward(ids_a).logits, x
      end, 42)
      assert_same_bits(inside, b.logits, "without_adapters")
      assert.are.equal(42, extra)
      assert.are.equal("default", m:active_adapter())
      local ok, err = pcall(m.without_adapters, m, function() error("inside the scope") end)
      assert.is_false(ok)
      assert.matches("inside the scope", err)
      assert.are.equal("default", m:active_adapter())
      assert_same_bits(m:forward(ids_a).logits, on, "restored after an error")
    end)

    it("matches the merged model after merge_adapter, and unmerges", function()
      m:merge_adapter()
      assert.is_true(m:adapters()[1].merged)
      -- Merged, a device model runs its base path over the merged weights' device copies: forward,
      -- greedy decoding and the cache's steps cover it (the batches and hooks, which the unmerged
      -- check runs, cost ~10 s more per adapter on the emulator).
      check_matches_merged(m, "merged", assert_same_bits, DEVICE ~= "cpu")
      m:without_adapters(function()
        assert_same_bits(m:forward(ids_a).logits, base:forward(ids_a).logits, "merged, scoped off")
      end)
      assert.is_true(m:adapters()[1].merged)
      m:unmerge_adapter()
      assert.is_false(m:adapters()[1].merged)
      assert_row_close(m:forward(ids_a).logits, want.a.logits, "unmerged again")
      m:merge_adapter()
      m:disable_adapters()
      assert.is_false(m:adapters()[1].merged)
      assert_same_bits(m:forward(ids_a).logits, base:forward(ids_a).logits, "disabled after merge")
      m:set_adapter("default")
    end)

    it("loads through model:load_adapter under several names and switches between them", function()
      local mm = load(bdir)
      assert.are.equal("ft", mm:load_adapter(adir, { name = "ft" }))
      assert.are.equal("ft", mm:active_adapter())
      -- the same tensors at twice the scale are a different adapter
      local double = variant(adir, function(cfg) cfg.lora_alpha = cfg.lora_alpha * 2 end)
      mm:load_adapter(double, { name = "double", activate = false })
      assert.are.equal("ft", mm:active_adapter())
      assert_row_close(mm:forward(ids_a).logits, want.a.logits, "ft")
      mm:set_adapter("double")
      local d = mm:forward(ids_a).logits
      assert(max_abs_diff(d, want.a.logits) > 0.1, "double scale changes the outputs")
      mm:set_adapter("ft")
      assert_row_close(mm:forward(ids_a).logits, want.a.logits, "ft again")
      assert.has_error(function() mm:load_adapter(adir, { name = "ft" }) end)
      assert.has_error(function() mm:set_adapter("nope") end)
      mm:delete_adapter("ft")
      assert.is_nil(mm:active_adapter())
      assert.are.equal(1, #mm:adapters())
      assert_same_bits(mm:forward(ids_a).logits, base:forward(ids_a).logits, "after delete")
    end)
  end)
end

describe("adapter_config.json rules", function()
  local adir = FIX .. "/peft/llama-lora"
  local bdir = FIX .. "/models/llama"
  local ids = list(read_json(bdir .. "/reference.json").ids_a)
  local want = load(FIX .. "/peft/llama-lora-merged"):forward(ids).logits
  local base = load(bdir)

  local function logits_with(dir)
    local m = load(bdir)
    m:load_adapter(dir)
    return m:forward(ids).logits
  end

  it("takes target_modules as a full-match regex", function()
    local dir = variant(adir, function(cfg)
      cfg.target_modules = [[model\.layers\.\d+\.(self_attn\.(q|v|o)_proj|mlp\.(gate|down)_proj)]]
    end)
    assert_row_close(logits_with(dir), want, "regex targets")
    -- a partial match of a name is no match (re.fullmatch): nothing is targeted
    local partial = variant(adir, function(cfg) cfg.target_modules = "q_proj" end)
    assert.has_error(function() logits_with(partial) end)
  end)

  it("applies rank_pattern and alpha_pattern", function()
    -- config r and alpha differ, the patterns restore the trained ones for every target
    local dir = variant(adir, function(cfg)
      cfg.r = 16
      cfg.lora_alpha = 1
      cfg.rank_pattern = json.object({ ["(q|v|o|gate|down)_proj"] = 4 })
      cfg.alpha_pattern = json.object({ ["self_attn\\.[qvo]_proj"] = 8, ["mlp\\..*"] = 8 })
    end)
    assert_row_close(logits_with(dir), want, "patterns")
  end)

  it("applies layers_to_transform (a subset of the trained layers is a different adapter)", function()
    local m = load(FIX .. "/peft/qwen3-rslora", { base_model = FIX .. "/models/qwen3" })
    assert.are.equal(4, m:adapters()[1].targets) -- k and up in layers 0 and 2
  end)

  it("accepts fan_in_fan_out for Linear targets, as PEFT does", function()
    local dir = variant(adir, function(cfg) cfg.fan_in_fan_out = true end)
    assert_row_close(logits_with(dir), want, "fan_in_fan_out")
  end)

  it("replaces modules_to_save weights while the adapter is active", function()
    local dir = variant(adir, function(cfg) cfg.modules_to_save = { "lm_head" } end)
    local st = assert(T.load(adir .. "/adapter_model.safetensors"))
    local names, tensors = {}, {}
    for k, v in pairs(st) do
      names[#names + 1] = k
      tensors[#tensors + 1] = v
    end
    local head = assert(T.load(bdir .. "/model.safetensors"))["lm_head.weight"] * 0.5
    names[#names + 1] = "base_model.model.lm_head.weight"
    tensors[#tensors + 1] = head
    local out = {}
    for i, k in ipairs(names) do out[k] = tensors[i] end
    assert(T.save(dir .. "/adapter_model.safetensors", out))
    local m = load(bdir)
    m:load_adapter(dir)
    assert.are.equal(1, m:adapters()[1].saved)
    -- halving the head halves the logits
    assert_row_close(m:forward(ids).logits, want * 0.5, "modules_to_save lm_head")
    m:disable_adapters()
    assert_same_bits(m:forward(ids).logits, base:forward(ids).logits, "base head again")
  end)

  local function load_error(edit, opts)
    local dir = variant(adir, edit, opts)
    local m = load(bdir)
    local ok, err = pcall(m.load_adapter, m, dir)
    assert.is_false(ok)
    assert.is_nil(m:active_adapter())
    assert.are.equal(0, #m:adapters())
    return err, dir
  end

  it("refuses unsupported settings by name", function()
    assert.matches("use_dora is set: DoRA", load_error(function(c) c.use_dora = true end))
    assert.matches("peft_type \"PREFIX_TUNING\" is not supported",
      load_error(function(c) c.peft_type = "PREFIX_TUNING" end))
    assert.matches("peft_type is missing", load_error(function(c) c.peft_type = nil end))
    assert.matches("bias is not \"none\"", load_error(function(c) c.bias = "all" end))
    assert.matches("lora_bias is set", load_error(function(c) c.lora_bias = true end))
    assert.matches("task_type SEQ_CLS is not supported", load_error(function(c) c.task_type = "SEQ_CLS" end))
    assert.matches("r must be an integer", load_error(function(c) c.r = "four" end))
    assert.matches("lora_alpha must be a finite number", load_error(function(c) c.lora_alpha = "8" end))
    assert.matches("LoRA on embeddings and the output head is not supported",
      load_error(function(c) c.target_modules = { "q_proj", "lm_head" } end))
    assert.matches("regex /%(unclosed/ does not compile",
      load_error(function(c) c.target_modules = "(unclosed" end))
    assert.matches("match no module", load_error(function(c) c.target_modules = { "c_attn" } end))
    -- a regex that backtracks without end is cut off, not run for hours
    assert.matches("takes too many steps to match 'model.layers.0.self_attn.q_proj'",
      load_error(function(c) c.target_modules = [[((\w|\.)*)*y_proj]] end))
    assert.matches("rank_pattern has a key longer than 256 bytes",
      load_error(function(c) c.rank_pattern = json.object({ [("q"):rep(300)] = 2 }) end))
    assert.matches("rank_pattern%['q_proj'%] must be a rank",
      load_error(function(c) c.rank_pattern = json.object({ q_proj = 0 }) end))
  end)

  it("checks the tensors against the config and the base model", function()
    -- a target without tensors
    assert.matches("lora_A.weight' is missing %(adapter_config.json targets model.layers.0.self_attn.k_proj%)",
      load_error(function(c) c.target_modules[#c.target_modules + 1] = "k_proj" end))
    -- tensors for a module the config does not target
    assert.matches("tensor 'base_model.model.model.layers.0.mlp.down_proj.lora_A.weight' belongs to no module",
      load_error(function(c) c.target_modules = { "q_proj", "v_proj", "o_proj", "gate_proj" } end))
    -- a rank that disagrees with the tensors
    assert.matches("has shape %[4, 64%], expected %[8, 64%]", load_error(function(c) c.r = 8 end))
    -- an adapter for another model
    local m = load(bdir)
    local ok, err = pcall(m.load_adapter, m, FIX .. "/peft/qwen3-rslora")
    assert.is_false(ok)
    assert.matches("expected %[.*is the adapter for another model", err)
  end)

  it("rejects broken files with clear errors", function()
    local dir = tmpdir()
    local m = load(bdir)
    local ok, err = pcall(m.load_adapter, m, dir)
    assert.is_false(ok)
    assert.matches("adapter_config.json: cannot open", err)
    assert(fs.write(dir .. "/adapter_config.json", "{\"peft_type\": \"LORA\", "))
    ok, err = pcall(m.load_adapter, m, dir)
    assert.is_false(ok)
    assert.matches("invalid JSON", err)
    local d2 = variant(adir, nil, { tensors = false })
    assert(fs.write(d2 .. "/adapter_model.bin", "not a pickle"))
    ok, err = pcall(m.load_adapter, m, d2)
    assert.is_false(ok)
    assert.matches("only adapter_model.safetensors is read", err)
    local d3 = variant(adir, nil, { tensors = false })
    assert(fs.write(d3 .. "/adapter_model.safetensors", "\255\255\255\255\255\255\255\255garbage"))
    ok, err = pcall(m.load_adapter, m, d3)
    assert.is_false(ok)
    assert.matches("adapter_model.safetensors", err)
    assert.are.equal(0, #m:adapters())
  end)

  it("finds the base through base_model_name_or_path (as a sandbox's mount rewrites it)", function()
    local abs = bdir:sub(1, 1) == "/" and bdir or fs.cwd() .. "/" .. bdir
    local dir = variant(adir, function(c) c.base_model_name_or_path = abs end)
    local m = load(dir, { adapter_name = "mounted" })
    assert.are.equal("mounted", m:active_adapter())
    assert_row_close(m:forward(ids).logits, want, "base from the adapter config")
  end)

  it("needs a base model for seer.model.load on an adapter", function()
    local dir = variant(adir, function(c) c.base_model_name_or_path = nil end)
    local ok, err = pcall(model.load, dir)
    assert.is_false(ok)
    assert.matches("names no base_model_name_or_path; pass {base_model = path_or_id}", err)
    -- the fixture's base_model_name_or_path ("fixtures/llama") is not a directory here
    ok, err = pcall(model.load, adir)
    assert.is_false(ok)
    assert.matches("the adapter's base model 'fixtures/llama'", err)
  end)
end)

describe("adapters of multimodal Gemma 3 checkpoints", function()
  local src = FIX .. "/models/gemma3_text"
  local text_cfg = read_json(src .. "/config.json")
  local weights = assert(T.load(src .. "/model.safetensors"))
  local ids = list(read_json(src .. "/reference.json").ids_a)

  -- The text model's weights under a Gemma3ForConditionalGeneration layout.
  local function wrap(layout)
    local dir = tmpdir()
    local tc = {}
    for k, v in pairs(text_cfg) do tc[k] = v end
    tc.architectures = nil
    assert(fs.write(dir .. "/config.json", json.encode({ architectures = { "Gemma3ForConditionalGeneration" },
      model_type = "gemma3", text_config = tc, eos_token_id = text_cfg.eos_token_id })))
    local out = {}
    for name, t in pairs(weights) do
      local body = name:match("^model%.(.*)$")
      out[(body and layout .. body) or name] = t
    end
    assert(T.save(dir .. "/model.safetensors", out))
    return dir
  end

  -- A random adapter on q_proj and down_proj of every layer, its keys under `body`.
  local function adapter(body)
    local dir = tmpdir()
    local H, I = text_cfg.hidden_size, text_cfg.intermediate_size
    local q = text_cfg.num_attention_heads * text_cfg.head_dim
    local st, seed = {}, 100
    for l = 0, text_cfg.num_hidden_layers - 1 do
      for mod, s in pairs({ ["self_attn.q_proj"] = { q, H }, ["mlp.down_proj"] = { H, I } }) do
        local key = ("base_model.model.%slayers.%d.%s"):format(body, l, mod)
        seed = seed + 2
        st[key .. ".lora_A.weight"] = T.randn({ 2, s[2] }, seed) * 0.3
        st[key .. ".lora_B.weight"] = T.randn({ s[1], 2 }, seed + 1) * 0.3
      end
    end
    assert(T.save(dir .. "/adapter_model.safetensors", st))
    assert(fs.write(dir .. "/adapter_config.json", json.encode({ peft_type = "LORA", r = 2, lora_alpha = 4,
      target_modules = { "q_proj", "down_proj" } })))
    return dir
  end

  it("applies an adapter saved from either wrapper layout to either checkpoint layout", function()
    local plain = load(src)
    local base = plain:forward(ids).logits
    plain:load_adapter(adapter("model."))
    local want = plain:forward(ids).logits
    assert(max_abs_diff(want, base) > 0.1, "the adapter changes the outputs")
    for _, ckpt in ipairs({ "model.language_model.", "language_model.model." }) do
      local m = load(wrap(ckpt))
      for _, body in ipairs({ "model.language_model.", "language_model.model." }) do
        m:load_adapter(adapter(body), { name = body })
        assert.are.equal(2 * text_cfg.num_hidden_layers, m:adapters()[#m:adapters()].targets)
        assert_same_bits(m:forward(ids).logits, want, ckpt .. " checkpoint, " .. body .. " adapter")
      end
    end
  end)
end)
