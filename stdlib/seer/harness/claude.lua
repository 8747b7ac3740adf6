--- seer.harness.claude: the Anthropic Messages API (POST /v1/messages, streaming). Builds requests
--- with prompt caching on the system prompt and the tools, parses the SSE event sequence into a
--- turn (text, thinking with its signature, tool_use blocks, usage, stop reason), and keeps the
--- conversation in the API's own message shape.
local json = require "seer.json"
local schema = require "seer.harness.schema"

local M = {
  name = "claude",
  env_key = "ANTHROPIC_API_KEY",
  env_base_url = "ANTHROPIC_BASE_URL",
  default_base_url = "https://api.anthropic.com",
  api_version = "2023-06-01",
}

local array, object = json.array, json.object

--- A new conversation holding the first user message.
function M.new_conversation(opts)
  local conv = { messages = array() }
  M.add_user_text(conv, opts.user_message)
  -- Tools and the system prompt do not change between turns: encode them once.
  if #opts.tools > 0 then
    local tools = array()
    for i, t in ipairs(opts.tools) do
      tools[i] = object({ name = t.name, description = t.description, input_schema = schema.to_json(t.input_schema) })
    end
    tools[#tools].cache_control = object({ type = "ephemeral" })
    conv.tools = tools
  end
  if opts.prompt and opts.prompt ~= "" then
    conv.system = array({ object({ type = "text", text = opts.prompt,
      cache_control = object({ type = "ephemeral" }) }) })
  end
  return conv
end

--- Roles must alternate: text after an interrupted turn joins the pending user message.
function M.add_user_text(conv, text)
  local last = conv.messages[#conv.messages]
  if last and last.role == "user" then
    last.content[#last.content + 1] = object({ type = "text", text = text })
    return
  end
  conv.messages[#conv.messages + 1] = object({ role = "user", content = array({ object({ type = "text",
    text = text }) }) })
end

local ENCODE_OPTS = { sort_keys = false }

--- {url, headers, body} for the next turn.
function M.request(conv, opts)
  -- Everything but the messages is the same on every turn of a conversation (the same options):
  -- the url, the headers and the body's other members are built and encoded once.
  local fixed = conv.fixed
  if not fixed or fixed.opts ~= opts or fixed.model ~= opts.model or fixed.api_key ~= opts.api_key
    or fixed.base_url ~= opts.base_url or fixed.max_tokens ~= opts.max_tokens
    or fixed.temperature ~= opts.temperature or fixed.thinking ~= opts.thinking then
    local rest = object({
      model = opts.model, max_tokens = opts.max_tokens, stream = true, system = conv.system,
      tools = conv.tools, temperature = opts.temperature,
    })
    if opts.thinking then
      rest.thinking = object({ type = "enabled", budget_tokens = opts.thinking })
    end
    fixed = {
      opts = opts, model = opts.model, api_key = opts.api_key, base_url = opts.base_url,
      max_tokens = opts.max_tokens, temperature = opts.temperature, thinking = opts.thinking,
      -- '{"model":...,"tools":[...]}' less its closing brace; the messages follow.
      prefix = json.encode(rest, ENCODE_OPTS):sub(1, -2) .. ',"messages":',
      url = opts.base_url:gsub("/+$", "") .. "/v1/messages",
      headers = { "x-api-key: " .. opts.api_key, "anthropic-version: " .. M.api_version,
                  "content-type: application/json", "accept: text/event-stream" },
    }
    conv.fixed = fixed
  end
  return {
    url = fixed.url,
    headers = fixed.headers,
    body = fixed.prefix .. json.encode(conv.messages, ENCODE_OPTS) .. "}",
  }
end

-- ---- streaming ----

local Stream = {}
Stream.__index = Stream

function M.new_stream()
  return setmetatable({ blocks = {}, usage = {}, complete = false }, Stream)
end

--- Feed one SSE event ({event, data}).
function Stream:event(ev)
  if ev.event == "ping" then return end
  local ok, d = pcall(json.decode, ev.data)
  return self:json_event(ev.event, ok and d or nil, ev.data)
end

--- Feed one SSE event whose data was decoded already (`d`: nil when it is not JSON); the form
--- seer.http's `sse_json` delivers.
function Stream:json_event(name, d, data)
  if name == "ping" then return end
  if type(d) ~= "table" then
    self.protocol_error = "unparseable event data: " .. tostring(data):sub(1, 200)
    return
  end
  local t = d.type or name
  if t == "message_start" then
    local u = d.message and d.message.usage
    if u then for k, v in pairs(u) do if type(v) == "number" then self.usage[k] = v end end end
    self.id = d.message and d.message.id
  elseif t == "content_block_start" then
    local cb = d.content_block or {}
    local b = { type = cb.type, parts = {}, id = cb.id, name = cb.name, signature = cb.signature }
    if cb.type == "text" and cb.text and cb.text ~= "" then b.parts[1] = cb.text end
    if cb.type == "thinking" and cb.thinking and cb.thinking ~= "" then b.parts[1] = cb.thinking end
    if cb.type == "redacted_thinking" then b.data = cb.data end
    self.blocks[(d.index or #self.blocks) + 1] = b
  elseif t == "content_block_delta" then
    local b = self.blocks[(d.index or 0) + 1]
    local delta = d.delta or {}
    if not b then self.protocol_error = "delta for a block that never started" return end
    if delta.type == "text_delta" then
      b.parts[#b.parts + 1] = delta.text
      if self.on_text then self.on_text(delta.text) end
    elseif delta.type == "input_json_delta" then b.parts[#b.parts + 1] = delta.partial_json
    elseif delta.type == "thinking_delta" then b.parts[#b.parts + 1] = delta.thinking
    elseif delta.type == "signature_delta" then b.signature = (b.signature or "") .. delta.signature
    end
  elseif t == "content_block_stop" then
    local b = self.blocks[(d.index or 0) + 1]
    if b then b.done = true end
  elseif t == "message_delta" then
    if d.delta and d.delta.stop_reason ~= nil and d.delta.stop_reason ~= json.null then
      self.stop_reason = d.delta.stop_reason
    end
    if d.usage then for k, v in pairs(d.usage) do if type(v) == "number" then self.usage[k] = v end end end
  elseif t == "message_stop" then
    self.complete = true
  elseif t == "error" then
    local e = d.error or {}
    self.stream_error = { type = e.type, message = e.message or data,
                          retryable = e.type == "overloaded_error" or e.type == "api_error"
                            or e.type == "rate_limit_error" }
  end
end

--- The finished turn: {blocks = {{type="text"|"thinking"|"tool_use", ...}}, stop_reason, usage}, or
--- nil and {message, retryable}.
function Stream:finish()
  if self.stream_error then
    return nil, { message = ("%s: %s"):format(tostring(self.stream_error.type), tostring(self.stream_error.message)),
                  retryable = self.stream_error.retryable }
  end
  if self.protocol_error then return nil, { message = self.protocol_error, retryable = true } end
  if not self.complete then
    return nil, { message = "the response stream ended before message_stop", retryable = true }
  end
  local out = {}
  for i = 1, #self.blocks do
    local b = self.blocks[i]
    if b then
      local text = table.concat(b.parts)
      if b.type == "text" then
        out[#out + 1] = { type = "text", text = text }
      elseif b.type == "thinking" then
        out[#out + 1] = { type = "thinking", text = text, signature = b.signature }
      elseif b.type == "redacted_thinking" then
        out[#out + 1] = { type = "redacted_thinking", data = b.data }
      elseif b.type == "tool_use" then
        local input, input_error = {}, nil
        if text ~= "" then
          local ok, v = pcall(json.decode, text)
          if ok and type(v) == "table" then
            input = v
          else
            input_error = "input is not a JSON object: " .. text:sub(1, 200)
          end
        end
        out[#out + 1] = { type = "tool_use", id = b.id, name = b.name, input = input, input_error = input_error }
      end
    end
  end
  local u = self.usage
  return { blocks = out, stop_reason = self.stop_reason or "end_turn",
           usage = { input_tokens = u.input_tokens or 0, output_tokens = u.output_tokens or 0,
                     cache_read_input_tokens = u.cache_read_input_tokens or 0,
                     cache_creation_input_tokens = u.cache_creation_input_tokens or 0 } }
end

--- A non-streamed JSON body (a server that ignored stream = true): the same turn shape.
function M.parse_body(body)
  local ok, d = pcall(json.decode, body)
  if not ok or type(d) ~= "table" or type(d.content) ~= "table" then return nil end
  local s = M.new_stream()
  s:event({ event = "message_start", data = json.encode({ type = "message_start",
    message = { usage = d.usage or {} } }) })
  for i, c in ipairs(d.content) do
    s.blocks[i] = { type = c.type, id = c.id, name = c.name, signature = c.signature, data = c.data,
                    parts = { c.type == "tool_use" and json.encode(c.input or object())
                              or c.text or c.thinking or "" } }
  end
  s.stop_reason = d.stop_reason
  s.complete = true
  return s:finish()
end

--- Add the assistant's turn to the conversation, in the API's block shape.
function M.add_assistant(conv, turn)
  local content = array()
  for _, b in ipairs(turn.blocks) do
    if b.type == "text" then
      if b.text ~= "" then content[#content + 1] = object({ type = "text", text = b.text }) end
    elseif b.type == "thinking" then
      content[#content + 1] = object({ type = "thinking", thinking = b.text, signature = b.signature or "" })
    elseif b.type == "redacted_thinking" then
      content[#content + 1] = object({ type = "redacted_thinking", data = b.data })
    elseif b.type == "tool_use" then
      content[#content + 1] = object({ type = "tool_use", id = b.id, name = b.name,
                                       input = b.input_error and object() or object(b.input) })
    end
  end
  if #content == 0 then content[1] = object({ type = "text", text = "(no content)" }) end
  conv.messages[#conv.messages + 1] = object({ role = "assistant", content = content })
end

--- Add the results of the turn's tool calls (one user message, results first as the API asks).
function M.add_tool_results(conv, results)
  local content = array()
  for i, r in ipairs(results) do
    content[i] = object({ type = "tool_result", tool_use_id = r.id, content = r.content, is_error = r.is_error or nil })
  end
  conv.messages[#conv.messages + 1] = object({ role = "user", content = content })
end

--- A message for an error response: the API's error type and message, else the raw body.
function M.error_message(_status, body)
  local ok, d = pcall(json.decode, body or "")
  if ok and type(d) == "table" and type(d.error) == "table" then
    return ("%s: %s"):format(tostring(d.error.type), tostring(d.error.message))
  end
  return (body or ""):sub(1, 2000)
end

return M
