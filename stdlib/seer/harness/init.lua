--- seer.harness: LLM tool-use loops ("agents") as tasks on the event loop. `run_agent{...}` starts
--- an agent and returns an Agent that is also an iterator of its messages:
---
---     for msg in harness.run_agent{ prompt = system, user_message = task, provider = "claude",
---                                   tools = {...}, session = session } do print(msg.type) end
---
--- Message types: init, text, thinking, tool_use, tool_result, usage, error and a final result.
--- Many agents run concurrently (`seer.gather`); `agent:cancel()` stops one with a cancelled result.
local json = require "seer.json"
local log = require "seer.log"
local task = require "seer.task"
local http = require "seer.http"
local retry = require "seer.harness.retry"
local tools_mod = require "seer.harness.tools"
local transcript_mod = require "seer.harness.transcript"
local now = require("seer.core").now
local caller = require "seer.caller"

local M = {}

--- Default model per provider; override by assigning to this table or passing `model`.
M.DEFAULT_MODELS = {
  claude = "claude-sonnet-4-5",
  openai = "gpt-4.1",
  gemini = "gemini-2.5-flash",
}

local PROVIDERS = { claude = "seer.harness.claude", openai = "seer.harness.openai", gemini = "seer.harness.gemini" }

local OPTIONS = {
  prompt = "string", user_message = "string", provider = "string", model = "string", base_url = "string",
  api_key = "string", max_turns = "number", max_tokens = "number", temperature = "number", tools = "table",
  session = "table", mcp_config = "table", transcript = "string", max_retries = "number", retry_delay = "number",
  retry_max_delay = "number", timeout = "number", connect_timeout = "number", idle_timeout = "number",
  thinking = "number", name = "string", on_text = "function", _interactive = "boolean",
}

local DEFAULTS = {
  max_turns = 50, max_tokens = 8192, max_retries = 5, retry_delay = 1, retry_max_delay = 30,
  timeout = 600, connect_timeout = 30, idle_timeout = 300, user_message = "Begin.",
}

-- Option mistakes point at the user's line, however many stdlib frames (the interactive chat)
-- sit in between.
local function fail(msg) caller.raise("seer.harness.run_agent: " .. msg) end

-- Checks and completes the options; every mistake is reported before any request is sent.
local function prepare(opts)
  if type(opts) ~= "table" then fail("expected an options table") end
  local o = {}
  for k, v in pairs(opts) do
    local want = OPTIONS[k]
    if not want then
      local names = {}
      for n in pairs(OPTIONS) do names[#names + 1] = n end
      table.sort(names)
      fail(("unknown option '%s' (valid: %s)"):format(tostring(k), table.concat(names, ", ")))
    end
    if k == "thinking" and v == true then v = 4096 end
    if type(v) ~= want then fail(("'%s' must be a %s, got %s"):format(k, want, type(v))) end
    o[k] = v
  end
  for k, v in pairs(DEFAULTS) do if o[k] == nil then o[k] = v end end
  o.provider = o.provider or "claude"
  local mod = PROVIDERS[o.provider]
  if not mod then fail(("unknown provider '%s' (use claude, openai or gemini)"):format(o.provider)) end
  local provider = require(mod)
  o.model = o.model or M.DEFAULT_MODELS[o.provider]
  if o.max_turns < 1 then fail("'max_turns' must be at least 1") end
  if o.max_tokens < 1 or o.max_tokens ~= math.floor(o.max_tokens) then
    fail("'max_tokens' must be a positive integer")
  end
  if o.max_retries < 0 then fail("'max_retries' must be >= 0") end
  if o.mcp_config then
    local ok, err = pcall(require("seer.harness.mcp").check, o.mcp_config)
    if not ok then fail(tostring(err)) end
  end
  o.api_key = o.api_key or os.getenv(provider.env_key) or (provider.env_key2 and os.getenv(provider.env_key2))
  if not o.api_key or o.api_key == "" then
    fail(("no API key for provider '%s': set %s or pass api_key"):format(o.provider, provider.env_key))
  end
  local env_base = os.getenv(provider.env_base_url)
  o.base_url = o.base_url or (env_base ~= "" and env_base) or provider.default_base_url
  local list = {}
  if o.session then
    for _, t in ipairs(tools_mod.session_tools(o.session)) do list[#list + 1] = t end
  end
  for _, t in ipairs(tools_mod.check_tools(o.tools)) do
    for _, s in ipairs(list) do
      if s.name == t.name then fail(("tool '%s' clashes with a session tool of that name"):format(t.name)) end
    end
    list[#list + 1] = t
  end
  o.tools = list
  o.tools_by_name = {}
  for _, t in ipairs(list) do o.tools_by_name[t.name] = t end
  return o, provider
end

---@class seer.harness.Agent
local Agent = {}
Agent.__index = Agent

local function short(s, n)
  s = tostring(s):gsub("%s+", " ")
  if #s > n then return s:sub(1, n) .. "..." end
  return s
end

function Agent:emit(msg)
  msg.agent = self.name
  self.count = self.count + 1
  if self.transcript then
    msg.time = os.time()
    self.transcript:write(msg)
  end
  self.channel:put(msg)
end

local function add_usage(total, u)
  for k, v in pairs(u) do
    if type(v) == "number" then total[k] = (total[k] or 0) + v end
  end
end

-- One model turn, with retries. Returns the turn, or nil and a failure {message, status, body, kind}.
function Agent:request_turn(conv)
  local o, provider = self.opts, self.provider
  local req = provider.request(conv, o)
  local attempt = 0
  while true do
    local stream = provider.new_stream(o)
    stream.on_text = o.on_text
    -- Streams that take decoded events get each event's JSON decoded in C, a chunk at a time.
    local json_event = stream.json_event
    local res, err, kind = http.request({
      url = req.url, method = "POST", headers = req.headers, body = req.body, timeout = o.timeout,
      connect_timeout = o.connect_timeout, idle_timeout = o.idle_timeout,
      sse = not json_event and function(ev) stream:event(ev) end or nil,
      sse_json = json_event and function(name, d, data) json_event(stream, name, d, data) end or nil,
    })
    local failure
    if not res then
      failure = { message = err, kind = kind, retryable = kind ~= "invalid" }
    elseif res.status >= 200 and res.status < 300 then
      local turn, ferr
      if res.body ~= "" then
        turn = provider.parse_body(res.body)
        ferr = { message = "unexpected response body: " .. res.body:sub(1, 500), retryable = false }
      else
        turn, ferr = stream:finish()
      end
      if turn then return turn end
      failure = { message = ferr.message, status = res.status, retryable = ferr.retryable,
                  kind = ferr.retryable and "stream" or "protocol" }
    else
      local rid = res.headers["request-id"] or res.headers["x-request-id"]
      failure = {
        status = res.status, body = res.body, kind = "http",
        message = ("HTTP %d: %s%s"):format(res.status, provider.error_message(res.status, res.body),
          rid and (" (request id " .. rid .. ")") or ""),
        retryable = retry.status_retryable(res.status),
        retry_after = retry.retry_after(res.headers) or (provider.retry_after and provider.retry_after(res.body)),
      }
    end
    failure.attempts = attempt + 1
    if not failure.retryable or attempt >= o.max_retries then return nil, failure end
    attempt = attempt + 1
    local delay = retry.delay(attempt, { base = o.retry_delay, cap = o.retry_max_delay }, failure.retry_after)
    log.warn("harness", "%s: %s; retry %d of %d in %.2f s", self.name, failure.message, attempt, o.max_retries, delay)
    task.sleep(delay)
  end
end

-- Runs the turn's tool calls (concurrently when there are several); results in call order.
function Agent:run_tools(calls)
  local o = self.opts
  local results = {}
  local function one(i)
    local c = calls[i]
    local t0 = now()
    local ctx = { agent = self, session = o.session, id = c.id, name = c.name }
    local content, is_error = tools_mod.call(o.tools_by_name, c, ctx)
    local elapsed = now() - t0
    results[i] = { id = c.id, name = c.name, content = content, is_error = is_error, elapsed = elapsed }
  end
  if #calls == 1 then
    one(1)
  else
    local fns = {}
    for i = 1, #calls do fns[i] = function() one(i) end end
    task.gather(fns)
  end
  local log_info = log.enabled("info") -- the formatting below is not free
  for _, r in ipairs(results) do
    if log_info then
      log.info("harness", "%s <- %s%s (%.3f s): %s", self.name, r.name, r.is_error and " failed" or "", r.elapsed,
        short(r.content, 300))
    end
    self:emit({ type = "tool_result", id = r.id, name = r.name, content = r.content, is_error = r.is_error,
                elapsed = r.elapsed, turn = self.turns })
  end
  return results
end

-- One exchange: model turns and tool calls until the model stops calling tools, max_turns, or an
-- error. Returns the stop reason.
function Agent:converse()
  local o, provider = self.opts, self.provider
  while true do
    if self.turns >= (self.turn_limit or o.max_turns) then return "max_turns" end
    self.turns = self.turns + 1
    local turn, failure = self:request_turn(self.conv)
    if not turn then
      log.warn("harness", "%s: %s", self.name, failure.message)
      self:emit({ type = "error", message = failure.message, status = failure.status, body = failure.body,
                  kind = failure.kind, attempts = failure.attempts, turn = self.turns })
      return "error"
    end
    local calls, texts = {}, {}
    local log_info = log.enabled("info")
    for _, b in ipairs(turn.blocks) do
      if b.type == "thinking" then
        self:emit({ type = "thinking", text = b.text, turn = self.turns })
      elseif b.type == "text" then
        if b.text ~= "" then
          texts[#texts + 1] = b.text
          if log_info then log.info("harness", "%s: %s", self.name, short(b.text, 500)) end
          self:emit({ type = "text", text = b.text, turn = self.turns })
        end
      elseif b.type == "tool_use" then
        calls[#calls + 1] = b
        if log_info then log.info("harness", "%s -> %s %s", self.name, b.name, short(json.encode(b.input), 300)) end
        self:emit({ type = "tool_use", id = b.id, name = b.name, input = b.input, turn = self.turns })
      end
    end
    add_usage(self.usage, turn.usage)
    local u = { type = "usage", turn = self.turns }
    for k, v in pairs(turn.usage) do u[k] = v end
    self:emit(u)
    provider.add_assistant(self.conv, turn)
    if #texts > 0 then self.final_text = table.concat(texts, "\n") end
    if #calls == 0 then
      return turn.stop_reason
    end
    self.pending_calls = calls
    provider.add_tool_results(self.conv, self:run_tools(calls))
    self.pending_calls = nil
  end
end

-- The tools of mcp_config's servers join the agent's tools (seer.harness.mcp).
function Agent:start_mcp()
  local o = self.opts
  local tools, clients = require("seer.harness.mcp").start(o.mcp_config)
  self.mcp_clients = clients
  for _, t in ipairs(tools) do
    if o.tools_by_name[t.name] then
      error(("MCP tool '%s' clashes with another tool of that name"):format(t.name), 0)
    end
    o.tools[#o.tools + 1] = t
    o.tools_by_name[t.name] = t
  end
end

function Agent:finish(stop_reason, extra)
  if self.finished then return end
  self.finished = true
  if self.mcp_clients then require("seer.harness.mcp").stop(self.mcp_clients) end
  local r = { type = "result", stop_reason = stop_reason, turns = self.turns, usage = self.usage,
              text = self.final_text, cancelled = stop_reason == "cancelled" }
  for k, v in pairs(extra or {}) do r[k] = v end
  self.result = r
  self:emit(r)
  if self.transcript then self.transcript:close() end
  self.channel:close()
end

local function agent_main(self)
  local ok, err = pcall(function()
    local o = self.opts
    if o.mcp_config and next(o.mcp_config) ~= nil then
      local started, why = pcall(self.start_mcp, self)
      if not started then
        if why == task.CANCELLED then error(why, 0) end
        self:emit({ type = "error", message = tostring(why), kind = "mcp" })
        return "error"
      end
    end
    self.conv = self.provider.new_conversation(o)
    local names = {}
    for i, t in ipairs(o.tools) do names[i] = t.name end
    self:emit({ type = "init", provider = o.provider, model = o.model, tools = json.array(names),
                prompt = o.prompt, user_message = o.user_message, base_url = o.base_url })
    if not self.inbox then return self:converse() end
    -- Interactive: each exchange runs in its own task so that it can be interrupted without
    -- ending the agent; then the agent waits for the user's next message.
    local stop = self:exchange()
    while true do
      self:emit({ type = "idle", stop_reason = stop, turn = self.turns })
      local text = self.inbox:get()
      if text == nil then return stop end
      self.provider.add_user_text(self.conv, text)
      self:emit({ type = "user", text = text, turn = self.turns })
      self.turn_limit = self.turns + o.max_turns
      stop = self:exchange()
    end
  end)
  if ok then
    self:finish(err)
  elseif err == task.CANCELLED then
    self:finish("cancelled")
  else
    local msg = "internal error in the agent loop: " .. tostring(err)
    log.error("harness", "%s: %s", self.name, msg)
    self:emit({ type = "error", message = msg, kind = "internal" })
    self:finish("error")
  end
end

-- One interruptible exchange (interactive agents): converse in a child task.
function Agent:exchange()
  local child = task.spawn(function() return self:converse() end)
  self.exchange_task = child
  local ok, stop = pcall(child.wait, child)
  self.exchange_task = nil
  if ok then return stop end
  if stop ~= "cancelled" and stop ~= task.CANCELLED then error(stop, 0) end
  -- Interrupted: tool calls already sent by the model still need results in the history.
  if self.pending_calls then
    local results = {}
    for i, c in ipairs(self.pending_calls) do
      results[i] = { id = c.id, name = c.name, content = "interrupted by the user", is_error = true }
    end
    self.provider.add_tool_results(self.conv, results)
    self.pending_calls = nil
  end
  self:emit({ type = "interrupted", turn = self.turns })
  return "interrupted"
end

--- Interactive agents: stop the current exchange (the agent then waits for the next message).
function Agent:interrupt()
  local t = self.exchange_task
  if t and not t:done() then t:cancel() return true end
  return false
end

--- Interactive agents: send the next user message (nil ends the conversation).
function Agent:send(text)
  if not self.inbox then error("seer.harness: send() is for agents started with run_agent_interactive", 2) end
  if text == nil then self.inbox:close() else self.inbox:put(text) end
end

local agent_count = 0

--- Start an agent; see the module doc. Options: `prompt` (system prompt), `user_message` (default
--- "Begin."), `provider` ("claude" default, "openai", "gemini"), `model` (default from
--- DEFAULT_MODELS), `base_url`, `api_key` (default from the provider's environment variable),
--- `max_turns` (50), `max_tokens` (8192), `temperature`, `thinking` (budget tokens, claude),
--- `tools` ({name, description, input_schema, fn(input, ctx)}), `session`, `mcp_config` (stdio MCP
--- servers {name = {command, args, env}} whose tools are offered as mcp__<server>__<tool>),
--- `transcript` (JSONL path), `max_retries` (5), `retry_delay` (1 s base), `retry_max_delay` (30 s),
--- `timeout`/`connect_timeout`/`idle_timeout` (per request, seconds), `name` (for logs),
--- `on_text(delta)` (streamed text as it arrives; a retried turn may repeat it).
---@return seer.harness.Agent
function M.run_agent(opts)
  local o, provider = prepare(opts)
  agent_count = agent_count + 1
  local self = setmetatable({
    opts = o, provider = provider, channel = task.channel(), turns = 0, count = 0,
    usage = { input_tokens = 0, output_tokens = 0 }, name = o.name or ("agent-" .. agent_count),
  }, Agent)
  if o.transcript then self.transcript = transcript_mod.open(o.transcript) end
  if opts._interactive then self.inbox = task.channel() end
  self.task = task.spawn(agent_main, self)
  self.task.name = self.name
  return self
end

--- The next message, or nil after the result (waits for it; yields inside a task).
function Agent:next()
  return self.channel:get()
end

Agent.__call = function(self) return self.channel:get() end

--- Stop the agent: a pending request is aborted, running tools are cancelled at their next wait,
--- and the last message is a result with stop_reason "cancelled". Returns false if it had ended.
function Agent:cancel()
  if self.finished then return false end
  local t = self.task
  if t.status == "ready" then
    t:cancel() -- it never ran: finish it here
    self:finish("cancelled")
  else
    t:cancel()
  end
  return true
end

--- Wait for the agent to end (consuming its remaining messages) and return the result message.
function Agent:wait()
  while self.channel:get() do end
  return self.result
end

--- Run to the end and return the list of all remaining messages.
function Agent:collect()
  local out = {}
  for m in self.channel.get, self.channel do out[#out + 1] = m end
  return out
end

function Agent:__tostring() return ("seer.harness.Agent<%s>"):format(self.name) end

M.Agent = Agent

--- Interactive terminal chat; see seer.harness.interactive.
function M.run_agent_interactive(opts)
  return require("seer.harness.interactive").run(opts, M)
end


return M
