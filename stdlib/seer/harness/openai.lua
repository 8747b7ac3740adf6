--- seer.harness.openai: Chat Completions (POST {base}/chat/completions, streaming) with function
--- tools, as served by OpenAI and by compatible servers (OpenRouter, vLLM, llama.cpp server) through
--- `base_url`. Parses the chunk stream (content, reasoning_content, tool_calls deltas by index,
--- finish_reason, the usage chunk and [DONE]) into a turn.
local json = require "seer.json"
local schema = require "seer.harness.schema"

local M = {
  name = "openai",
  env_key = "OPENAI_API_KEY",
  env_base_url = "OPENAI_BASE_URL",
  default_base_url = "https://api.openai.com/v1",
}

local array, object = json.array, json.object

function M.new_conversation(opts)
  local conv = { messages = array() }
  if opts.prompt and opts.prompt ~= "" then
    conv.messages[1] = object({ role = "system", content = opts.prompt })
  end
  M.add_user_text(conv, opts.user_message)
  if #opts.tools > 0 then
    conv.tools = array()
    for i, t in ipairs(opts.tools) do
      conv.tools[i] = object({ type = "function", ["function"] = object({
        name = t.name, description = t.description, parameters = schema.to_json(t.input_schema) }) })
    end
  end
  return conv
end

function M.add_user_text(conv, text)
  conv.messages[#conv.messages + 1] = object({ role = "user", content = text })
end

function M.request(conv, opts)
  local base = opts.base_url:gsub("/+$", "")
  local body = object({ model = opts.model, messages = conv.messages, stream = true,
                        stream_options = object({ include_usage = true }), tools = conv.tools,
                        temperature = opts.temperature })
  -- OpenAI's own API wants max_completion_tokens (reasoning models refuse max_tokens); compatible
  -- servers mostly know only max_tokens.
  if base:find("api.openai.com", 1, true) then body.max_completion_tokens = opts.max_tokens
  else body.max_tokens = opts.max_tokens end
  return {
    url = base .. "/chat/completions",
    headers = { "authorization: Bearer " .. opts.api_key, "content-type: application/json",
                "accept: text/event-stream" },
    body = json.encode(body, { sort_keys = false }),
  }
end

-- ---- streaming ----

local Stream = {}
Stream.__index = Stream

function M.new_stream()
  return setmetatable({ text = {}, reasoning = {}, calls = {}, usage = {}, complete = false }, Stream)
end

local function str(v) return type(v) == "string" and v or nil end

function Stream:event(ev)
  local data = ev.data
  if data == "[DONE]" then self.complete = true return end
  local ok, d = pcall(json.decode, data)
  if not ok or type(d) ~= "table" then
    self.protocol_error = "unparseable chunk: " .. tostring(data):sub(1, 200)
    return
  end
  if type(d.error) == "table" then
    local e = d.error
    self.stream_error = { message = tostring(e.message or data), type = e.type or e.code }
    return
  end
  if type(d.usage) == "table" then
    local u = d.usage
    self.usage.input_tokens = u.prompt_tokens or self.usage.input_tokens
    self.usage.output_tokens = u.completion_tokens or self.usage.output_tokens
    if type(u.prompt_tokens_details) == "table" and type(u.prompt_tokens_details.cached_tokens) == "number" then
      self.usage.cache_read_input_tokens = u.prompt_tokens_details.cached_tokens
    end
  end
  local choice = type(d.choices) == "table" and d.choices[1]
  if type(choice) ~= "table" then return end
  local delta = type(choice.delta) == "table" and choice.delta or {}
  local c = str(delta.content)
  if c and c ~= "" then
    self.text[#self.text + 1] = c
    if self.on_text then self.on_text(c) end
  end
  local r = str(delta.reasoning_content) or str(delta.reasoning)
  if r and r ~= "" then self.reasoning[#self.reasoning + 1] = r end
  if type(delta.tool_calls) == "table" then
    for _, tc in ipairs(delta.tool_calls) do
      local idx = (tonumber(tc.index) or #self.calls) + 1
      local call = self.calls[idx]
      if not call then
        call = { args = {} }
        self.calls[idx] = call
      end
      if str(tc.id) then call.id = tc.id end
      local fn = type(tc["function"]) == "table" and tc["function"] or {}
      if str(fn.name) then call.name = (call.name or "") .. fn.name end
      if str(fn.arguments) then call.args[#call.args + 1] = fn.arguments end
    end
  end
  if str(choice.finish_reason) then self.finish_reason = choice.finish_reason end
end

local STOP = { stop = "end_turn", tool_calls = "tool_use", function_call = "tool_use", length = "max_tokens" }

function Stream:finish()
  if self.stream_error then
    return nil, { message = ("%s: %s"):format(tostring(self.stream_error.type), self.stream_error.message),
                  retryable = true }
  end
  if self.protocol_error then return nil, { message = self.protocol_error, retryable = true } end
  -- [DONE] ends a complete stream; a few compatible servers omit it after the finish_reason chunk.
  if not self.complete and not self.finish_reason then
    return nil, { message = "the response stream ended before [DONE]", retryable = true }
  end
  local blocks = {}
  if #self.reasoning > 0 then blocks[#blocks + 1] = { type = "thinking", text = table.concat(self.reasoning) } end
  local text = table.concat(self.text)
  if text ~= "" then blocks[#blocks + 1] = { type = "text", text = text } end
  for i = 1, #self.calls do
    local call = self.calls[i]
    if call then
      local args = table.concat(call.args)
      local input, input_error = {}, nil
      if args ~= "" then
        local ok, v = pcall(json.decode, args)
        if ok and type(v) == "table" then
          input = v
        else
          input_error = "arguments are not a JSON object: " .. args:sub(1, 200)
        end
      end
      blocks[#blocks + 1] = { type = "tool_use", id = call.id or ("call_" .. i), name = call.name or "",
                              input = input, input_error = input_error, raw_arguments = args }
    end
  end
  local u = self.usage
  return { blocks = blocks, stop_reason = STOP[self.finish_reason] or self.finish_reason or "end_turn",
           usage = { input_tokens = u.input_tokens or 0, output_tokens = u.output_tokens or 0,
                     cache_read_input_tokens = u.cache_read_input_tokens } }
end

--- A non-streamed completion (a server that ignored stream = true).
function M.parse_body(body)
  local ok, d = pcall(json.decode, body)
  if not ok or type(d) ~= "table" or type(d.choices) ~= "table" or type(d.choices[1]) ~= "table" then return nil end
  local s = M.new_stream()
  local msg = d.choices[1].message or {}
  local calls = array()
  for i, tc in ipairs(msg.tool_calls or {}) do
    calls[i] = { index = i - 1, id = tc.id, ["function"] = tc["function"] }
  end
  s:event({ data = json.encode({ usage = d.usage, choices = { { delta = { content = msg.content,
    reasoning_content = msg.reasoning_content, tool_calls = calls },
      finish_reason = d.choices[1].finish_reason } } }) })
  s.complete = true
  return s:finish()
end

function M.add_assistant(conv, turn)
  local msg = object({ role = "assistant" })
  local texts, calls = {}, array()
  for _, b in ipairs(turn.blocks) do
    if b.type == "text" then texts[#texts + 1] = b.text
    elseif b.type == "tool_use" then
      calls[#calls + 1] = object({ id = b.id, type = "function", ["function"] = object({ name = b.name,
        arguments = b.input_error and (b.raw_arguments or "{}") or json.encode(object(b.input)) }) })
    end
  end
  msg.content = #texts > 0 and table.concat(texts) or json.null
  if #calls > 0 then msg.tool_calls = calls end
  conv.messages[#conv.messages + 1] = msg
end

--- Tool messages have no error flag in this API: failed results say so in their text.
function M.add_tool_results(conv, results)
  for _, r in ipairs(results) do
    conv.messages[#conv.messages + 1] = object({ role = "tool", tool_call_id = r.id,
      content = r.is_error and ("Error: " .. r.content) or r.content })
  end
end

function M.error_message(_status, body)
  local ok, d = pcall(json.decode, body or "")
  if ok and type(d) == "table" and type(d.error) == "table" then
    local e = d.error
    return ("%s: %s"):format(tostring(e.type ~= json.null and e.type or e.code), tostring(e.message))
  end
  return (body or ""):sub(1, 2000)
end

return M
