-- seer.model through the Lua API: parity with HF transformers on every fixture model (hidden states,
-- logits, logprobs, greedy, steering, ablation, batches, KV cache) at the tolerances of
-- tests/fixtures/README.md, hooks (ctx, handles, errors), generate options, load errors, and the CLI.
local model = require "seer.model"
local T = require "seer.tensor"
local fs = require "seer.fs"
local helpers = require "spec_helpers"
local rel_err = helpers.rel_err
local assert_close = helpers.assert_close
local read_json = helpers.read_json
local list = helpers.list
local tmpdir = helpers.tmpdir
local copy_file = helpers.copy_file

local FIX = helpers.FIXTURES .. "/models"
local MODELS = { "llama", "llama-bf16", "llama3", "gemma", "gemma2", "gemma2-bf16", "gemma3_text",
  "qwen2", "qwen3", "qwen3-bf16" }

for _, name in ipairs(MODELS) do
  describe("parity " .. name, function()
    local dir = FIX .. "/" .. name
    local tol = name:find("bf16", 1, true) and 2e-4 or 1e-4
    local m = model.load(dir)
    local ref = assert(T.load(dir .. "/reference.safetensors"))
    local js = read_json(dir .. "/reference.json")
    local ids_a, ids_b = list(js.ids_a), list(js.ids_b)
    local L = m.num_layers
    local steer_layer = js.steer_layer

    it("loads the config", function()
      assert.are.equal(m.config.num_hidden_layers, L)
      assert.are.equal(m.config.hidden_size, m.hidden_size)
      assert.are.equal(m.config.vocab_size, m.vocab_size)
      assert.are.equal(name:find("bf16", 1, true) and "bf16" or "f32", m.dtype)
      assert.are.equal("cpu", m.device)
      if type(js.layer_types) == "table" then
        assert.are.same(list(js.layer_types), list(m.info.layer_types))
      end
    end)

    for _, which in ipairs({ "a", "b" }) do
      it("matches hidden states, logits and logprobs for ids_" .. which, function()
        local ids = which == "a" and ids_a or ids_b
        local out = m:forward(ids, { hidden_states = true })
        local hs = ref[which .. ".hidden_states"]
        assert.are.equal(L, #out.hidden_states)
        for l = 0, L do
          assert_close(out.hidden_states[l], hs[l + 1], tol, ("%s.hidden_states[%d]"):format(which, l))
        end
        assert_close(out.logits, ref[which .. ".logits"], tol, which .. ".logits")
        local lp = out.logits:log_softmax()
        local got = {}
        for t = 1, #ids - 1 do got[t] = lp[t][ids[t + 1] + 1] end
        assert_close(T.from(got), ref[which .. ".logprobs_next"], tol, which .. ".logprobs_next")
        local last = m:forward(ids, { logits = "last" }).logits
        assert.are.same({ m.vocab_size }, last.shape)
        assert_close(last, out.logits[#ids], tol, "logits = last")
        assert.is_nil(m:forward(ids, { logits = false }).logits)
      end)
    end

    it("reads out any layer: hidden_states helpers, unembed and the logit lens", function()
      local out = m:forward(ids_a, { hidden_states = true })
      local hs = out.hidden_states
      assert.are.equal(L + 1, hs:len())
      local seen = {}
      for l, h in hs:layers() do
        seen[#seen + 1] = l
        assert.are.equal(rawget(hs, l), h)
      end
      assert.are.equal(L + 1, #seen)
      assert.are.equal(0, seen[1])
      assert.are.equal(L, seen[#seen])
      local n = 0
      for l in hs:layers(1) do n = n + 1; assert.is_true(l >= 1) end
      assert.are.equal(L, n)
      local ok, err = pcall(function() return hs[99] end)
      assert.is_false(ok)
      assert.matches("hidden_states%[99%]: out of range; the entries are 0 %(the embedding output%) to " .. L, err)
      assert.is_false((pcall(function() return hs[-1] end)))
      -- The last entry is the final-norm output: unembedding it is the forward's logits exactly.
      assert.are.equal(0, rel_err(m:logit_lens(hs, L), out.logits))
      assert.are.equal(0, rel_err(m:unembed(hs[L], { norm = false }), out.logits))
      -- The last layer's output before the norm, read out with the norm, is the logits too.
      local pre
      m:forward(ids_a, { hooks = { [L - 1] = function(h) pre = h:clone() end }, logits = false })
      assert.are.equal(0, rel_err(m:unembed(pre), out.logits))
      -- An intermediate layer reads out through the norm: rows are distributions over the vocab.
      local lens = m:logit_lens(hs, 0)
      assert.are.same({ #ids_a, m.vocab_size }, lens.shape)
      assert.are.equal(0, rel_err(lens, m:unembed(hs[0])))
      assert.has_error(function() m:logit_lens(hs, L + 1) end,
        ("model:logit_lens: the layer must be an integer in 0..%d"):format(L))
      assert.has_error(function() m:unembed(T.zeros({ 2, m.hidden_size + 1 })) end,
        ("model:unembed: unembed: the hidden state's last dim must be the model's hidden size %d "
          .. "(and at most 3 dims)"):format(m.hidden_size))
    end)

    it("generates greedy_a exactly", function()
      local g = m:generate(ids_a, { max_new_tokens = 12, stop = {} })
      assert.are.same(list(js.greedy_a), g.ids)
      assert.are.equal("length", g.finish_reason)
    end)

    local function steer(h) h:add_(ref.steer_vector) end

    it("steers through a hook on layers.<steer_layer>", function()
      local out = m:forward(ids_a, { hidden_states = true, hooks = { [steer_layer] = steer } })
      local hs = ref["a.steer.hidden_states"]
      for l = 0, L do
        assert_close(out.hidden_states[l], hs[l + 1], tol, ("a.steer.hidden_states[%d]"):format(l))
      end
      assert_close(out.logits, ref["a.steer.logits"], tol, "a.steer.logits")
      local g = m:generate(ids_a, { max_new_tokens = 12, stop = {},
        hooks = { ["layers." .. steer_layer] = steer } })
      assert.are.same(list(js.greedy_a_steer), g.ids)
      -- the same as a persistent hook, then removed
      local h = m:add_hook("layers." .. steer_layer, steer)
      assert_close(m:forward(ids_a).logits, ref["a.steer.logits"], tol, "persistent steer")
      assert.are.same(list(js.greedy_a_steer), m:generate(ids_a, { max_new_tokens = 12, stop = {} }).ids)
      h:remove()
      h:remove()
      assert_close(m:forward(ids_a).logits, ref["a.logits"], tol, "after remove")
    end)

    it("ablates a direction at every layer with replacement tensors", function()
      local d = ref.ablate_direction
      local function ablate(h) return h - h:matmul(d):unsqueeze(-1) * d end
      local hooks = {}
      for l = 0, L - 1 do hooks[l] = ablate end
      assert_close(m:forward(ids_a, { hooks = hooks }).logits, ref["a.ablate.logits"], tol, "a.ablate.logits")
    end)

    it("takes a batch of more rows than a C function's guaranteed stack (one buffer per row)", function()
      local rows = {}
      for i = 1, 300 do rows[i] = { 5 + i % 7, 9, 11 } end
      local out = m:forward(rows, { logits = "last" })
      assert_close(out.logits[3], m:forward(rows[3], { logits = "last" }).logits, tol, "row 3 of 300")
      collectgarbage()
      collectgarbage()
    end)

    it("runs a left-padded batch: batch_greedy and every row as if alone", function()
      local res = m:generate({ ids_a, ids_b }, { max_new_tokens = 8, stop = {} })
      assert.are.same(list(js.batch_greedy[1]), res[1].ids)
      assert.are.same(list(js.batch_greedy[2]), res[2].ids)
      local out = m:forward({ ids_a, ids_b }, { hidden_states = true })
      local Tb, pad = #ids_b, #ids_b - #ids_a
      assert.are.same({ 2, Tb, m.vocab_size }, out.logits.shape)
      assert_close(out.logits[1]:slice(1, pad + 1, Tb), ref["a.logits"], tol, "batch row a logits")
      assert_close(out.logits[2], ref["b.logits"], tol, "batch row b logits")
      for l = 0, L do
        assert_close(out.hidden_states[l][1]:slice(1, pad + 1, Tb), ref["a.hidden_states"][l + 1], tol,
          ("batch row a hidden_states[%d]"):format(l))
      end
    end)

    it("decodes with a KV cache consistently with the full forward", function()
      local bl = ref["b.logits"]
      for _, k in ipairs({ 1, 4, 7 }) do
        local cache = m:new_cache()
        local prefix = {}
        for i = 1, k do prefix[i] = ids_b[i] end
        local out = m:forward(prefix, { cache = cache })
        assert_close(out.logits, bl:slice(1, 1, k), tol, "kv prefill logits")
        for t = k + 1, #ids_b do
          out = m:forward({ ids_b[t] }, { cache = cache })
          assert_close(out.logits[1], bl[t], tol, ("kv decode (prefill %d) row %d"):format(k, t))
        end
        assert.are.equal(#ids_b, cache:length())
        assert.is_true(cache:bytes() > 0)
      end
    end)
  end)
end

describe("seer.model hooks", function()
  local m = model.load(FIX .. "/llama")
  local js = read_json(FIX .. "/llama/reference.json")
  local ids = list(js.ids_a)
  local base = m:forward(ids).logits

  it("passes ctx for every point, in prefill and decode", function()
    local seen = {}
    local function rec(h, ctx)
      seen[#seen + 1] = { ctx.point, ctx.layer, ctx.step, ctx.position, h.shape[1], ctx.num_tokens }
    end
    m:forward(ids, { hooks = { embed = rec, ["layers.1.attn"] = rec, ["layers.1.mlp"] = rec,
      final_norm = rec, [2] = rec } })
    local points = {}
    for _, s in ipairs(seen) do points[#points + 1] = s[1] end
    assert.are.same({ "embed", "layers.1.attn", "layers.1.mlp", "layers.2", "final_norm" }, points)
    assert.are.same({ "layers.1.attn", 1, "prefill", 0, #ids, #ids }, seen[2])
    assert.is_nil(seen[1][2])
    seen = {}
    m:generate(ids, { max_new_tokens = 3, stop = {}, hooks = { [0] = rec } })
    assert.are.same({ "layers.0", 0, "prefill", 0, #ids, #ids }, seen[1])
    assert.are.same({ "layers.0", 0, "decode", #ids, 1, 1 }, seen[2])
    assert.are.same({ "layers.0", 0, "decode", #ids + 1, 1, 1 }, seen[3])
    seen = {}
    m:forward({ ids, ids }, { hooks = { [0] = function(h) seen[#seen + 1] = h.shape end } })
    assert.are.same({ { 2, #ids, m.hidden_size } }, seen)
  end)

  it("aborts the forward on a hook error with its traceback, and the model stays usable", function()
    local ok, err = pcall(m.forward, m, ids, { hooks = { ["layers.0.mlp"] = function()
      error("deliberate failure")
    end } })
    assert.is_false(ok)
    assert.matches("model:forward: hook at layers.0.mlp: .*deliberate failure", err)
    assert.matches("stack traceback", err)
    assert.are.equal(0, (m:forward(ids).logits - base):abs():max())
    local h = m:add_hook(1, function() error({ code = 1 }) end)
    ok, err = pcall(m.generate, m, ids, { max_new_tokens = 2 })
    assert.is_false(ok)
    assert.matches("model:generate: hook at layers.1: %(error object is a table value%)", err)
    h:remove()
    assert.are.equal(0, (m:forward(ids).logits - base):abs():max())
  end)

  it("rejects bad hook results, unknown points and re-entrant calls", function()
    local ok, err = pcall(m.forward, m, ids, { hooks = { [0] = function() return 1 end } })
    assert.is_false(ok)
    assert.matches("must return nil .* or a Tensor, got number", err)
    ok, err = pcall(m.forward, m, ids, { hooks = { [0] = function() return T.zeros({ 2, 2 }) end } })
    assert.is_false(ok)
    assert.matches("shape differs", err)
    assert.has_error(function() m:forward(ids, { hooks = { ["layers.99"] = function() end } }) end)
    assert.has_error(function() m:add_hook("nowhere", function() end) end)
    ok, err = pcall(m.forward, m, ids, { hooks = { [0] = function() m:forward(ids) end } })
    assert.is_false(ok)
    assert.matches("already running", err)
    -- as from a task: the hook runs inside a C call, so it cannot yield
    ok, err = coroutine.wrap(function()
      return pcall(m.forward, m, ids, { hooks = { [0] = function() coroutine.yield() end } })
    end)()
    assert.is_false(ok)
    assert.matches("cannot yield", err)
    assert.are.equal(0, (m:forward(ids).logits - base):abs():max())
  end)

  it("streams tokens, stops on stop ids, and samples reproducibly by seed", function()
    local streamed = {}
    local g = m:generate(ids, { max_new_tokens = 5, stop = {}, on_token = function(tok, row)
      streamed[#streamed + 1] = tok
      assert.are.equal(1, row)
    end })
    assert.are.same(g.ids, streamed)
    local stop = m:generate(ids, { max_new_tokens = 12, stop = { js.greedy_a[3] } })
    assert.are.same({ js.greedy_a[1], js.greedy_a[2], js.greedy_a[3] }, stop.ids)
    assert.are.equal("stop", stop.finish_reason)
    local o = { max_new_tokens = 8, temperature = 1.0, top_k = 50, top_p = 0.9, seed = 7, stop = {} }
    assert.are.same(m:generate(ids, o).ids, m:generate(ids, o).ids)
    local ok, err = pcall(m.generate, m, ids, { max_new_tokens = 3, on_token = function() error("enough") end })
    assert.is_false(ok)
    assert.matches("on_token: .*enough", err)
    assert.matches("unknown option 'max_tokens'", select(2, pcall(m.generate, m, ids, { max_tokens = 1 })))
    assert.matches("top_p must be a number in", select(2, pcall(m.generate, m, ids, { top_p = 2 })))
  end)

  it("collects a model whose persistent hook refers back to it", function()
    local weak = setmetatable({}, { __mode = "v" })
    do
      local m2 = model.load(FIX .. "/llama")
      m2:add_hook(0, function() return m2.hidden_size end)
      weak[1] = m2._m
    end
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak[1])
  end)

  it("explains what inputs it takes", function()
    assert.matches("no tokenizer.json; pass token ids", select(2, pcall(m.forward, m, "hello")))
    assert.matches("token id 9999 out of range", select(2, pcall(m.forward, m, { 1, 9999 })))
    assert.matches("pass token ids", select(2, pcall(m.forward, m, {})))
    assert.matches("unknown option 'hidden'", select(2, pcall(m.forward, m, ids, { hidden = true })))
  end)
end)

describe("seer.model.load errors", function()
  it("lists the supported architectures for an unsupported one", function()
    local dir = tmpdir()
    local cfg = assert(fs.read(FIX .. "/llama/config.json")):gsub("LlamaForCausalLM", "FalconForCausalLM")
    assert(fs.write(dir .. "/config.json", cfg))
    copy_file(FIX .. "/llama/model.safetensors", dir .. "/model.safetensors")
    local ok, err = pcall(model.load, dir)
    assert.is_false(ok)
    assert.matches("FalconForCausalLM", err)
    for _, a in ipairs({ "LlamaForCausalLM", "MistralForCausalLM", "GemmaForCausalLM", "Gemma2ForCausalLM",
      "Gemma3ForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM" }) do
      assert.matches(a, err, 1, true)
    end
    os.remove(dir .. "/config.json")
    os.remove(dir .. "/model.safetensors")
    os.remove(dir)
  end)

  it("says what a model directory needs when config.json is missing", function()
    local dir = tmpdir()
    copy_file(FIX .. "/llama/model.safetensors", dir .. "/model.safetensors")
    local ok, err = pcall(model.load, dir)
    assert.is_false(ok)
    assert.matches("model_spec.lua:%d+: seer.model.load: '" .. dir:gsub("%p", "%%%0") .. "' has no config.json", err)
    assert.matches("seer.hf_cache.resolve", err, 1, true)
    os.remove(dir .. "/model.safetensors")
    os.remove(dir)
  end)

  it("names the file and the tensor in a corrupted safetensors", function()
    local dir = tmpdir()
    copy_file(FIX .. "/llama/config.json", dir .. "/config.json")
    local data = assert(fs.read(FIX .. "/llama/model.safetensors"))
    -- truncated: the last tensor's data lies past the end
    assert(fs.write(dir .. "/model.safetensors", data:sub(1, #data - 100)))
    local ok, err = pcall(model.load, dir)
    assert.is_false(ok)
    assert.matches("^[^:]*model_spec.lua:%d+: seer%.model%.load: ", err) -- at the caller's line
    assert.matches(dir .. "/model.safetensors", err, 1, true)
    assert.matches("tensor '[%w%._]+'", err)
    assert.matches("truncated", err)
    -- the binding under it returns nil, err for the same file (lua/BINDINGS.md)
    local none, berr = require("seer._model").load(dir)
    assert.is_nil(none)
    assert.matches("^seer%.model%.load: .*truncated", berr)
    -- an unknown dtype in the header
    local bad = data:gsub('"dtype":"F32"', '"dtype":"X32"', 1)
    assert(fs.write(dir .. "/model.safetensors", bad))
    none, err = T.load(dir .. "/model.safetensors")
    assert.is_nil(none)
    assert.matches(dir .. "/model.safetensors", err, 1, true)
    assert.matches("tensor '[%w%._]+'", err)
    assert.matches("X32", err)
    os.remove(dir .. "/config.json")
    os.remove(dir .. "/model.safetensors")
    os.remove(dir)
  end)

  it("checks options", function()
    assert.matches("unknown option 'gpu'", select(2, pcall(model.load, FIX .. "/llama", { gpu = true })))
    -- Without a usable GPU (CI), device = "cuda" fails with the driver probe's one sentence.
    local cuda_err = select(2, pcall(model.load, FIX .. "/llama", { device = "cuda" }))
    assert.matches('device = "cuda": ', cuda_err)
    assert.matches(require("seer.cuda").status(0).message, cuda_err, 1, true)
    assert.matches("device_index must be", select(2, pcall(model.load, FIX .. "/llama", { device_index = -1 })))
    assert.matches("stay in their stored dtype", select(2, pcall(model.load, FIX .. "/llama", { dtype = "bf16" })))
    assert.matches("no model directory", select(2, pcall(model.load, "/nonexistent/model")))
    assert.are.equal("f32", model.load(FIX .. "/llama", { device = "cpu", dtype = "auto", threads = 1 }).dtype)
  end)
end)

describe("seer-lua model CLI", function()
  local bin = os.getenv("SEER_LUA_BIN")

  local function run(args)
    -- the status is echoed because LuaJIT's popen close does not report it
    local p = io.popen(bin .. " model " .. args .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    local code = tonumber(out:match("exit=(%d+)%s*$"))
    return out, code == 0
  end

  it("creates a random model and describes it", function()
    if not bin then return pending("SEER_LUA_BIN not set") end
    local dir = tmpdir()
    local out, ok = run(("create-random --config %s/qwen3/config.json --out %s/m --dtype bf16 --seed 3")
      :format(FIX, dir))
    assert(ok, out)
    local m = model.load(dir .. "/m")
    assert.are.equal("bf16", m.dtype)
    assert.are.equal("Qwen3ForCausalLM", m.architecture)
    local g1 = m:generate({ 1, 2, 3 }, { max_new_tokens = 4, stop = {} })
    assert.are.equal(4, #g1.ids)
    out, ok = run("info " .. dir .. "/m")
    assert(ok, out)
    assert.matches("Qwen3ForCausalLM", out)
    assert.matches("bf16", out)
    assert.matches("weight bytes", out)
    out, ok = run("pull")
    assert.is_false(ok)
    assert.matches("pull needs a model id", out)
    for _, sub in ipairs({ "create-random --help", "info --help", "pull --help", "ls --help", "rm --help",
                           "--help" }) do
      out, ok = run(sub)
      assert(ok, sub .. ": " .. out)
      assert.matches("usage: seer%-lua model", out)
      assert.matches("pull ID", out)
    end
    out, ok = run("create-random --out " .. dir .. "/x")
    assert.is_false(ok)
    assert.matches("%-%-config", out)
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)
