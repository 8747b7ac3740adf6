-- Text in and out of the model API (issue 4): forward(text), generate(text | {messages}), the
-- decoded `text` of results and stop strings, on random-weight models that carry real tokenizers.
local seer = require "seer"
local model = require "seer.model"
local fs = require "seer.fs"
local json = require "seer.json"

local src = os.getenv("SEER_SOURCE_DIR") or "."
local cache = os.getenv("SEER_TEST_CACHE") or (src .. "/build/test-cache")

local function tokenizer_dirs()
  local r = seer.process.run({ cmd = "bash", args = { src .. "/tests/setup/tokenizers.sh", cache } })
  assert(r.ok, "tokenizer setup failed: " .. r.stderr)
  local dirs = {}
  for name, dir in r.stdout:gmatch("(%S+) (%S+)\n") do dirs[name] = dir end
  return dirs
end

local function make_model(tok_dir, vocab, work)
  local cfg = {
    architectures = { "LlamaForCausalLM" }, model_type = "llama", vocab_size = vocab, hidden_size = 32,
    intermediate_size = 64, num_hidden_layers = 2, num_attention_heads = 4, num_key_value_heads = 2,
    max_position_embeddings = 256, rms_norm_eps = 1e-5, rope_theta = 10000.0, tie_word_embeddings = true,
  }
  assert(fs.mkdir(work))
  assert(fs.write(work .. "/config.json", json.encode(cfg)))
  model.create_random(work .. "/config.json", work .. "/m", { dtype = "f32", seed = 3 })
  for _, f in ipairs({ "tokenizer.json", "tokenizer_config.json" }) do
    assert(fs.write(work .. "/m/" .. f, assert(fs.read(tok_dir .. "/" .. f))))
  end
  return model.load(work .. "/m")
end

describe("model text API", function()
  local work, llama2, llama3
  setup(function()
    local dirs = tokenizer_dirs()
    work = assert(fs.tmpdir("seer-text-model"))
    llama2 = make_model(dirs.llama2, 32000, work .. "/l2")
    llama3 = make_model(dirs.llama3, 128256, work .. "/l3")
  end)
  teardown(function() fs.remove(work) end)

  it("loads the tokenizer with the model", function()
    assert.is_not_nil(llama2.tokenizer)
    assert.are.equal(32000, llama2.tokenizer.vocab_size)
  end)

  it("forward(text) equals forward(ids) with the model's default encoding", function()
    local text = "The quick brown fox"
    local ids = llama2.tokenizer:encode(text)
    local a = llama2:forward(text).logits:totable()
    local b = llama2:forward(ids).logits:totable()
    assert.are.same(b, a)
  end)

  it("generate(text) returns ids and their decoded text", function()
    local r = llama2:generate("Once upon a time", { max_new_tokens = 8, stop = {} })
    assert.are.equal(8, #r.ids)
    assert.are.equal(llama2.tokenizer:decode(r.ids, { skip_special_tokens = true }), r.text)
    assert.are.equal("length", r.finish_reason)
  end)

  it("stops at a stop string, which ends the text", function()
    local full = llama2:generate("Once upon a time", { max_new_tokens = 12, stop = {} })
    -- A string the model is known to produce: the text of its 4th..5th tokens.
    local probe = llama2.tokenizer:decode({ full.ids[4], full.ids[5] }, { skip_special_tokens = true })
    probe = probe:gsub("^%s+", "")
    assert.is_true(#probe > 0)
    local r = llama2:generate("Once upon a time", { max_new_tokens = 12, stop = probe })
    assert.are.equal("stop", r.finish_reason)
    assert.is_true(#r.ids < 12)
    assert.are.equal(probe, r.text:sub(-#probe))
    assert.is_nil(r.text:sub(1, -#probe - 1):find(probe, 1, true))
  end)

  it("chats through the template", function()
    local r = llama3:generate(nil, { messages = { { role = "user", content = "Hi there" } },
                                     max_new_tokens = 4, stop = {} })
    assert.are.equal(4, #r.ids)
    assert.is_string(r.text)
    local ok, err = pcall(llama2.generate, llama2, nil, { messages = { { role = "user", content = "x" } } })
    assert.is_false(ok)
    assert.matches("chat_template", err)
  end)

  it("rejects bad stop values and text without a tokenizer", function()
    assert.has_error(function() llama2:generate("x", { stop = { true } }) end)
    local plain = model.load(src .. "/tests/fixtures/models/llama")
    local ok, err = pcall(plain.forward, plain, "some text")
    assert.is_false(ok)
    assert.matches("no tokenizer.json", err)
    ok, err = pcall(plain.generate, plain, { 1, 2, 3 }, { stop = "x" })
    assert.is_false(ok)
    assert.matches("stop strings need a tokenizer", err)
  end)
end)
