--- seer.kernel.handlers: what the kernel answers to each request (Jupyter messaging 5.3). One
--- function per msg_type, called with the kernel state and the decoded message; shell and control
--- share the table. Every shell request is bracketed by busy and idle status on iopub.
local json = require "seer.json"
local core = require "seer.core"
local log = require "seer.log"
local execute = require "seer.kernel.execute"
local display = require "seer.kernel.display"
local introspect = require "seer.introspect" -- complete and inspect, shared with the REPL

local M = {}
local H = {}
M.handlers = H

local load_chunk = loadstring or load
local empty = function() return json.object({}) end

--- Banner and language_info, shared with `seer-lua kernel install`.
function M.language_info()
  return {
    name = "lua",
    version = core.lua_version,
    mimetype = "text/x-lua",
    file_extension = ".lua",
    pygments_lexer = "lua",
    codemirror_mode = "lua",
  }
end

function H.kernel_info_request(k, msg)
  k.session:send(msg.channel, "kernel_info_reply", {
    status = "ok",
    protocol_version = "5.3",
    implementation = "seer-lua",
    implementation_version = core.version,
    language_info = M.language_info(),
    banner = ("seer-lua %s (%s, %s)"):format(core.version, core.lua_flavour, core.lua_version),
    help_links = json.array({}),
  }, msg)
end

local function publish_error(k, msg, r)
  k.session:publish("error", { ename = r.ename, evalue = r.evalue, traceback = json.array(r.traceback) }, msg)
end

local INPUT_POLL_MS = 100 -- slices of the wait for input_reply (an interrupt ends it between two)

-- A cell's io.read: an input_request on stdin to the client that sent the cell, then its
-- input_reply. A client that set allow_stdin = false (or none) takes no input: that fails at
-- once. Requests arriving meanwhile wait in the backlog for the cell to end.
local function input(k, msg, prompt)
  if msg.content.allow_stdin ~= true then
    error("io.read: this cell cannot read input: the client sent it with allow_stdin = false "
      .. "(a front end that takes no input, such as an agent's notebook tools)", 0)
  end
  k.session:send("stdin", "input_request", { prompt = prompt, password = false }, msg)
  while true do
    local m = k.session:recv(INPUT_POLL_MS)
    if m and m.channel == "stdin" then
      if m.header.msg_type == "input_reply" then
        local value = m.content.value
        if type(value) ~= "string" then error("io.read: the client's input_reply has no text value", 0) end
        return value
      end
      log.warn("kernel", "dropped %s on stdin while waiting for input_reply", m.header.msg_type)
    elseif m then
      k.backlog[#k.backlog + 1] = m
    end
  end
end

if jit then jit.off(input, true) end -- a compiled wait would never run the interrupt hook

function H.execute_request(k, msg)
  local c = msg.content
  local code = type(c.code) == "string" and c.code or ""
  local silent = c.silent == true
  local store = not silent and c.store_history ~= false
  if store then k.count = k.count + 1 end
  local count = k.count
  if not silent then
    k.session:publish("execute_input", { code = code, execution_count = count }, msg)
  end
  if store then k.history[#k.history + 1] = code end
  k.current = msg
  local r = execute.run(code, ("=cell[%d]"):format(count), function(name, text)
    k.session:publish("stream", { name = name, text = text }, msg)
  end, function(prompt) return input(k, msg, prompt) end)
  k.current = nil
  if r.ok then
    if not silent and r.n > 0 then
      local data, metadata = display.results_bundle(r.n, r.values)
      k.session:publish("execute_result", { execution_count = count, data = data, metadata = metadata }, msg)
    end
    k.session:send("shell", "execute_reply", {
      status = "ok",
      execution_count = count,
      user_expressions = empty(),
      payload = json.array({}),
    }, msg)
  else
    if not silent then publish_error(k, msg, r) end
    -- stop_on_error (the default): execute requests sent before the client could see this error
    -- (already waiting now, before the reply goes out) are answered "aborted", not run.
    if c.stop_on_error ~= false then
      local queued = k.session:recv(0)
      while queued do
        if queued.header.msg_type == "execute_request" then queued.aborted = true end
        k.backlog[#k.backlog + 1] = queued
        queued = k.session:recv(0)
      end
    end
    k.session:send("shell", "execute_reply", {
      status = "error",
      execution_count = count,
      ename = r.ename,
      evalue = r.evalue,
      traceback = json.array(r.traceback),
    }, msg)
  end
end

function H.complete_request(k, msg)
  local c = msg.content
  local ok, r = pcall(introspect.complete, tostring(c.code or ""), tonumber(c.cursor_pos), _G)
  if not ok then
    log.warn("kernel", "complete failed: %s", tostring(r))
    r = { matches = {}, cursor_start = tonumber(c.cursor_pos) or 0, cursor_end = tonumber(c.cursor_pos) or 0 }
  end
  k.session:send(msg.channel, "complete_reply", {
    status = "ok",
    matches = json.array(r.matches or {}),
    cursor_start = r.cursor_start,
    cursor_end = r.cursor_end,
    metadata = empty(),
  }, msg)
end

function H.inspect_request(k, msg)
  local c = msg.content
  local ok, text = pcall(introspect.inspect, tostring(c.code or ""), tonumber(c.cursor_pos), _G,
    tonumber(c.detail_level) or 0)
  if not ok then
    log.warn("kernel", "inspect failed: %s", tostring(text))
    text = nil
  end
  k.session:send(msg.channel, "inspect_reply", {
    status = "ok",
    found = text ~= nil,
    data = text and { ["text/plain"] = text } or empty(),
    metadata = empty(),
  }, msg)
end

function H.is_complete_request(k, msg)
  local code = tostring(msg.content.code or "")
  local status, indent = "complete", nil
  if not load_chunk("return " .. code, "=cell") then
    local _, err = load_chunk(code, "=cell")
    if err then
      if err:find("<eof>", 1, true) then
        status, indent = "incomplete", "  "
      else
        status = "invalid"
      end
    end
  end
  local reply = { status = status }
  if indent then reply.indent = indent end
  k.session:send(msg.channel, "is_complete_reply", reply, msg)
end

function H.history_request(k, msg)
  local c = msg.content
  local n = tonumber(c.n) or #k.history
  local items = {}
  local first = c.hist_access_type == "tail" and math.max(1, #k.history - n + 1) or 1
  for i = first, #k.history do
    items[#items + 1] = json.array({ 1, i, k.history[i] })
  end
  k.session:send(msg.channel, "history_reply", { status = "ok", history = json.array(items) }, msg)
end

function H.comm_info_request(k, msg)
  k.session:send(msg.channel, "comm_info_reply", { status = "ok", comms = empty() }, msg)
end

function H.interrupt_request(k, msg)
  -- The control thread already interrupted whatever was running (runtime/jupyter/channels.c).
  k.session:send(msg.channel, "interrupt_reply", { status = "ok" }, msg)
end

function H.shutdown_request(k, msg)
  local restart = msg.content.restart == true
  k.session:send(msg.channel, "shutdown_reply", { status = "ok", restart = restart }, msg)
  k.running = false
end

--- `display(v, ...)` inside a cell: each value as a display_data message.
function M.display(k, ...)
  local msg = k.current
  for i = 1, select("#", ...) do
    local data, metadata = display.bundle((select(i, ...)))
    if msg then
      k.session:publish("display_data", { data = data, metadata = metadata, transient = empty() }, msg)
    else
      io.write(data["text/plain"], "\n")
    end
  end
end

--- Handle one message; unknown types are logged and dropped.
function M.dispatch(k, msg)
  local t = msg.header.msg_type
  local fn = H[t]
  if not fn then
    log.warn("kernel", "no handler for %s on %s; dropped", t, msg.channel)
    return
  end
  local shell = msg.channel == "shell"
  if shell and msg.aborted then
    k.session:status("busy", msg)
    k.session:send("shell", "execute_reply", { status = "aborted", execution_count = k.count }, msg)
    k.session:status("idle", msg)
    return
  end
  k.session:status("busy", msg)
  local ok, err = pcall(fn, k, msg)
  if not ok then log.error("kernel", "%s failed: %s", t, tostring(err)) end
  k.session:status("idle", msg)
end

return M
