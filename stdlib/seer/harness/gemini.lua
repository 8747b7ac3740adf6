--- seer.harness.gemini: the Gemini API (POST {base}/v1beta/models/{model}:streamGenerateContent
--- ?alt=sse) with functionDeclarations. Each SSE event is a GenerateContentResponse; parts are
--- merged into a turn (text, thought parts as thinking, whole functionCall parts), and the model's
--- parts go back into the history as received, so thought signatures survive.
local json = require "seer.json"
local schema = require "seer.harness.schema"

local M = {
  name = "gemini",
  env_key = "GEMINI_API_KEY",
  env_key2 = "GOOGLE_API_KEY",
  env_base_url = "GEMINI_BASE_URL",
  default_base_url = "https://generativelanguage.googleapis.com",
}

local array, object = json.array, json.object

-- The OpenAPI subset that function declarations accept.
local KEEP = { type = true, format = true, description = true, nullable = true, enum = true, properties = true,
               required = true, items = true, minItems = true, maxItems = true, minimum = true, maximum = true,
               anyOf = true, propertyOrdering = true, title = true, minLength = true, maxLength = true }

function M.new_conversation(opts)
  local conv = { contents = array() }
  M.add_user_text(conv, opts.user_message)
  if #opts.tools > 0 then
    local decls = array()
    for i, t in ipairs(opts.tools) do
      decls[i] = object({ name = t.name, description = t.description,
        parameters = schema.to_json(t.input_schema, KEEP) })
    end
    conv.tools = array({ object({ functionDeclarations = decls }) })
  end
  if opts.prompt and opts.prompt ~= "" then
    conv.system = object({ parts = array({ object({ text = opts.prompt }) }) })
  end
  return conv
end

--- Turns alternate: text after an interrupted turn joins the pending user turn.
function M.add_user_text(conv, text)
  local last = conv.contents[#conv.contents]
  if last and last.role == "user" then
    last.parts[#last.parts + 1] = object({ text = text })
    return
  end
  conv.contents[#conv.contents + 1] = object({ role = "user", parts = array({ object({ text = text }) }) })
end

function M.request(conv, opts)
  local gen = object({ maxOutputTokens = opts.max_tokens, temperature = opts.temperature })
  if opts.thinking then gen.thinkingConfig = object({ thinkingBudget = opts.thinking, includeThoughts = true }) end
  local body = object({ contents = conv.contents, systemInstruction = conv.system, tools = conv.tools,
                        generationConfig = gen })
  return {
    url = ("%s/v1beta/models/%s:streamGenerateContent?alt=sse"):format(opts.base_url:gsub("/+$", ""), opts.model),
    headers = { "x-goog-api-key: " .. opts.api_key, "content-type: application/json" },
    body = json.encode(body, { sort_keys = false }),
  }
end

-- ---- streaming ----

local Stream = {}
Stream.__index = Stream

function M.new_stream()
  return setmetatable({ parts = {}, usage = {}, calls = 0 }, Stream)
end

local function is_str(v) return type(v) == "string" end

-- Appends a part, merging consecutive text (or thought) fragments into one part.
function Stream:add_part(p)
  local last = self.parts[#self.parts]
  if is_str(p.text) and last and is_str(last.text) and (p.thought == true) == (last.thought == true)
    and not last.thoughtSignature and p.functionCall == nil then
    last.text = last.text .. p.text
    if p.thoughtSignature then last.thoughtSignature = p.thoughtSignature end
    return
  end
  local copy = {}
  for k, v in pairs(p) do copy[k] = v end
  self.parts[#self.parts + 1] = copy
end

function Stream:event(ev)
  local ok, d = pcall(json.decode, ev.data)
  if not ok or type(d) ~= "table" then
    self.protocol_error = "unparseable event: " .. tostring(ev.data):sub(1, 200)
    return
  end
  if type(d.error) == "table" then
    self.stream_error = { message = ("%s: %s"):format(tostring(d.error.status), tostring(d.error.message)),
                          code = d.error.code }
    return
  end
  local u = d.usageMetadata
  if type(u) == "table" then
    self.usage.input_tokens = u.promptTokenCount or self.usage.input_tokens
    self.usage.output_tokens = (u.candidatesTokenCount or 0) + (u.thoughtsTokenCount or 0)
    self.usage.cache_read_input_tokens = u.cachedContentTokenCount
  end
  local cand = type(d.candidates) == "table" and d.candidates[1]
  if type(cand) ~= "table" then
    if type(d.promptFeedback) == "table" and d.promptFeedback.blockReason then
      self.finish_reason = "blocked: " .. tostring(d.promptFeedback.blockReason)
    end
    return
  end
  local content = type(cand.content) == "table" and cand.content or {}
  for _, p in ipairs(type(content.parts) == "table" and content.parts or {}) do
    if type(p) == "table" then
      self:add_part(p)
      if is_str(p.text) and p.thought ~= true and self.on_text then self.on_text(p.text) end
    end
  end
  if is_str(cand.finishReason) then self.finish_reason = cand.finishReason end
end

function Stream:finish()
  if self.stream_error then
    local c = tonumber(self.stream_error.code)
    return nil, { message = self.stream_error.message, retryable = not c or c == 429 or c >= 500 }
  end
  if self.protocol_error then return nil, { message = self.protocol_error, retryable = true } end
  -- No [DONE] in this API: a finishReason marks the last chunk; without one the stream was cut.
  if not self.finish_reason then
    return nil, { message = "the response stream ended before a finishReason", retryable = true }
  end
  local blocks, has_calls = {}, false
  for _, p in ipairs(self.parts) do
    if type(p.functionCall) == "table" then
      has_calls = true
      self.calls = self.calls + 1
      local fc = p.functionCall
      local args = type(fc.args) == "table" and fc.args or {}
      blocks[#blocks + 1] = { type = "tool_use", id = is_str(fc.id) and fc.id or ("call_" .. self.calls),
                              name = fc.name, input = args, gemini_id = fc.id }
    elseif is_str(p.text) then
      if p.thought == true then blocks[#blocks + 1] = { type = "thinking", text = p.text }
      elseif p.text ~= "" then blocks[#blocks + 1] = { type = "text", text = p.text } end
    end
  end
  local reason = self.finish_reason
  local stop = (reason == "STOP" and (has_calls and "tool_use" or "end_turn"))
    or (reason == "MAX_TOKENS" and "max_tokens") or reason:lower()
  local u = self.usage
  return { blocks = blocks, stop_reason = stop, parts = self.parts,
           usage = { input_tokens = u.input_tokens or 0, output_tokens = u.output_tokens or 0,
                     cache_read_input_tokens = u.cache_read_input_tokens } }
end

--- A non-streamed response body (a proxy that answered with one JSON document).
function M.parse_body(body)
  local s = M.new_stream()
  local ok, d = pcall(json.decode, body)
  if not ok then return nil end
  if type(d) == "table" and d[1] then
    for _, item in ipairs(d) do s:event({ data = json.encode(item) }) end
  else
    s:event({ data = body })
  end
  return s:finish()
end

-- Gives a decoded part back its JSON shape (objects stay objects when empty).
local function part_json(p)
  local out = object()
  for k, v in pairs(p) do
    if k == "functionCall" then
      out[k] = object({ name = v.name, args = object(v.args or {}), id = v.id })
    else
      out[k] = v
    end
  end
  return out
end

function M.add_assistant(conv, turn)
  local parts = array()
  for _, p in ipairs(turn.parts or {}) do parts[#parts + 1] = part_json(p) end
  if #parts == 0 then parts[1] = object({ text = "" }) end
  conv.contents[#conv.contents + 1] = object({ role = "model", parts = parts })
  conv.pending_ids = {}
  for _, b in ipairs(turn.blocks) do
    if b.type == "tool_use" then conv.pending_ids[b.id] = b.gemini_id or false end
  end
end

--- One user turn with a functionResponse per call, in call order.
function M.add_tool_results(conv, results)
  local parts = array()
  for i, r in ipairs(results) do
    local gid = conv.pending_ids and conv.pending_ids[r.id]
    parts[i] = object({ functionResponse = object({
      name = r.name, id = gid or nil,
      response = r.is_error and object({ error = r.content }) or object({ result = r.content }) }) })
  end
  conv.contents[#conv.contents + 1] = object({ role = "user", parts = parts })
end

function M.error_message(_status, body)
  local ok, d = pcall(json.decode, body or "")
  if ok and type(d) == "table" and type(d.error) == "table" then
    return ("%s: %s"):format(tostring(d.error.status), tostring(d.error.message))
  end
  return (body or ""):sub(1, 2000)
end

--- Gemini puts the wait into the error body: details[] with a RetryInfo {retryDelay = "1.5s"}.
function M.retry_after(body)
  local ok, d = pcall(json.decode, body or "")
  if not ok or type(d) ~= "table" or type(d.error) ~= "table" or type(d.error.details) ~= "table" then return nil end
  for _, det in ipairs(d.error.details) do
    if type(det) == "table" and tostring(det["@type"]):find("RetryInfo", 1, true) and is_str(det.retryDelay) then
      return tonumber(det.retryDelay:match("^([%d%.]+)s$"))
    end
  end
  return nil
end

return M
