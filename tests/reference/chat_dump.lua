-- The engine's side of tests/reference/chat_template_test.py: renders each case of a JSON list
-- {messages, options} with a tokenizer directory's chat template, as text and as ids.
-- usage: seer-lua chat_dump.lua TOKENIZER_DIR CASES.json OUT.json
local tokenizer = require "seer.tokenizer"
local json = require "seer.json"

local dir, cases_path, out_path = ...
assert(out_path, "usage: seer-lua chat_dump.lua TOKENIZER_DIR CASES.json OUT.json")
local f = assert(io.open(cases_path, "rb"))
local cases = json.decode(f:read("a"))
f:close()

local tok = tokenizer.load(dir)
local results = {}
for i, case in ipairs(cases) do
  local opts = {}
  for k, v in pairs(case.options) do opts[k] = v end
  local ok, text = pcall(tok.apply_chat_template, tok, case.messages, opts)
  if ok then
    opts.tokenize = true
    results[i] = { text = text, ids = tok:apply_chat_template(case.messages, opts) }
  else
    results[i] = { error = tostring(text) }
  end
end
f = assert(io.open(out_path, "wb"))
f:write(json.encode(results))
f:close()
