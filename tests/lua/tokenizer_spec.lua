-- seer.tokenizer: exact HF parity on the fixture cases and chats of four real tokenizers, fields,
-- lookups, chat options, and errors (missing template, raise_exception, bad input).
local json = require "seer.json"

local T = require "seer.tokenizer" -- a load failure fails the spec; it never turns it pending

local cache = os.getenv("SEER_TEST_CACHE") or ".cache/test-cache"
local fixtures = os.getenv("SEER_FIXTURES") or "tests/fixtures"

local function tokenizer_dir(name)
  local dir = cache .. "/tokenizers/" .. name
  local f = io.open(dir .. "/tokenizer.json", "rb")
  if not f then
    assert(os.execute("bash tests/setup/tokenizers.sh '" .. cache .. "' >/dev/null"),
      "tests/setup/tokenizers.sh failed")
  else
    f:close()
  end
  return dir
end

local function fixture(name)
  local f = assert(io.open(fixtures .. "/tokenizers/" .. name .. ".json", "rb"))
  local data = json.decode(f:read("a"))
  f:close()
  return data
end

local function same_ids(got, want)
  if #got ~= #want then return false end
  for i = 1, #want do
    if got[i] ~= want[i] then return false end
  end
  return true
end

local names = { "llama3", "qwen3", "llama2", "gemma3" }

describe("seer.tokenizer", function()
  for _, name in ipairs(names) do
    describe(name, function()
      local tok = T.load(tokenizer_dir(name))
      local fx = fixture(name)

      it("matches HF on every fixture case", function()
        local bad = {}
        for i, c in ipairs(fx.cases) do
          local ok = same_ids(tok:encode(c.text, { add_special_tokens = false }), c.ids)
            and same_ids(tok:encode(c.text), c.ids_special)
            and tok:decode(c.ids_special) == c.decoded
            and tok:decode(c.ids_special, { skip_special_tokens = true }) == c.decoded_skip
          if not ok then bad[#bad + 1] = i end
        end
        assert.are.same({}, bad)
      end)

      it("renders every fixture chat", function()
        for _, c in ipairs(fx.chat) do
          local opts = { add_generation_prompt = c.add_generation_prompt }
          for k, v in pairs(c.kwargs) do opts[k] = v end
          if c.error then
            local ok, err = pcall(tok.apply_chat_template, tok, c.messages, opts)
            assert.is_false(ok)
            assert.truthy(err:find("chat_template", 1, true))
          else
            assert.are.equal(c.text, tok:apply_chat_template(c.messages, opts))
            opts.tokenize = true
            assert.is_true(same_ids(tok:apply_chat_template(c.messages, opts), c.ids))
          end
        end
      end)
    end)
  end

  it("exposes the vocabulary and special tokens", function()
    local tok = T.load(tokenizer_dir("llama3"))
    assert.are.equal(128256, tok.vocab_size)
    assert.are.equal("<|begin_of_text|>", tok.bos_token)
    assert.are.equal(128000, tok.bos_token_id)
    assert.are.equal("<|end_of_text|>", tok.eos_token)
    assert.are.equal(128001, tok.eos_token_id)
    assert.are.equal(128000, tok:token_to_id("<|begin_of_text|>"))
    assert.are.equal("Hello", tok:id_to_token(9906))
    assert.is_nil(tok:token_to_id("definitely not a token"))
    assert.is_nil(tok:id_to_token(10000000))
    local q = T.load(tokenizer_dir("qwen3"))
    assert.is_nil(q.bos_token)
    assert.is_nil(q.bos_token_id)
  end)

  it("passes template options through (enable_thinking)", function()
    local q = T.load(tokenizer_dir("qwen3"))
    local msgs = { { role = "user", content = "Hi" } }
    local off = q:apply_chat_template(msgs, { add_generation_prompt = true, enable_thinking = false })
    local on = q:apply_chat_template(msgs, { add_generation_prompt = true })
    assert.truthy(off:find("<think>\n\n</think>", 1, true))
    assert.is_nil(on:find("<think>", 1, true))
  end)

  it("surfaces raise_exception and load errors", function()
    local g = T.load(tokenizer_dir("gemma3"))
    local ok, err = pcall(g.apply_chat_template, g,
      { { role = "user", content = "a" }, { role = "user", content = "b" } })
    assert.is_false(ok)
    assert.truthy(err:find("Conversation roles must alternate", 1, true))
    ok, err = pcall(T.load, "/nonexistent/tokenizer")
    assert.is_false(ok)
    assert.truthy(err:find("/nonexistent/tokenizer", 1, true))
    ok = pcall(g.encode, g, "\xff\xfe")
    assert.is_false(ok)
  end)

  it("round-trips byte-level text", function()
    local tok = T.load(tokenizer_dir("llama3"))
    for _, s in ipairs({ "", " ", "héllo wörld", "多语言 🙂 code { x += 1; }\n\n\t" }) do
      assert.are.equal(s, tok:decode(tok:encode(s, { add_special_tokens = false })))
    end
  end)
end)
