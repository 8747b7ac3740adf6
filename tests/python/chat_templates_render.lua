-- Renders chat-template cases with seer-lua for tests/python/chat_templates_test.py.
-- usage: seer-lua chat_templates_render.lua CASES.json
-- CASES.json: [{tokenizer = dir, template = source or null, messages = [...],
--               kwargs = {...}, plain = bool}], decoded with seer.json so every object keeps its key
-- order; with plain = true the inputs are first copied into plain Lua tables, which have none.
-- Prints a JSON array with {text = ...} or {error = ...} per case.
local json = require "seer.json"
local tokenizer = require "seer.tokenizer"

local path = ...
local f = assert(io.open(path, "rb"))
local cases = json.decode(f:read("*a"))
f:close()

-- A copy made with pairs(): plain tables that carry no key order (they encode sorted).
local function plain(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = plain(x) end
  if getmetatable(v) == getmetatable(json.array()) then return json.array(out) end
  return out
end

local loaded = {}
local results = json.array()
for i, c in ipairs(cases) do
  local tok = loaded[c.tokenizer]
  if not tok then
    tok = tokenizer.load(c.tokenizer)
    loaded[c.tokenizer] = tok
  end
  if c.plain then
    c.messages, c.kwargs = plain(c.messages), plain(c.kwargs)
  end
  local opts = json.object()
  for _, k in ipairs(json.keys(c.kwargs)) do opts[k] = c.kwargs[k] end
  if c.template ~= json.null then opts.chat_template = c.template end
  local ok, r = pcall(tok.apply_chat_template, tok, c.messages, opts)
  results[i] = ok and json.ordered { { "text", r } } or json.ordered { { "error", tostring(r) } }
end
io.write(json.encode(results))
