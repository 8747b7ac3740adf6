--- seer.harness.interactive: a terminal chat with an agent. The user types a message, the agent
--- answers (text streams as it arrives) and uses its tools; Esc or Ctrl-C interrupts the current
--- turn, and `exit` or Ctrl-D at the prompt leaves. The conversation keeps its history between
--- messages. Returns the final result message.
local json = require "seer.json"
local seer_process = require "seer.process"
local signal = require "seer.signal"

local M = {}

local function short(s, n)
  s = tostring(s):gsub("%s+", " ")
  return #s > n and (s:sub(1, n) .. "...") or s
end

-- Watches the keyboard for Esc while a turn runs: a helper reads /dev/tty in non-canonical mode
-- (the loop has no terminal reader of its own) and reports each key as hex. Ctrl-C still raises
-- SIGINT, which the signal watcher turns into an interrupt. Returns a stop function.
local function watch_escape(on_escape)
  local r = os.execute("test -t 0 && test -r /dev/tty")
  if r ~= true and r ~= 0 then return function() end end -- Lua 5.4 returns true, LuaJIT 0
  local saved = io.popen("stty -g < /dev/tty 2>/dev/null")
  local mode = saved and saved:read("*l")
  if saved then saved:close() end
  local ok, proc = pcall(seer_process.spawn, {
    cmd = "sh", args = { "-c", "exec < /dev/tty; stty -icanon -echo min 1 time 0; "
      .. "while k=$(dd bs=1 count=1 2>/dev/null | od -An -tx1); do echo $k; done" },
    on_stdout = function(chunk) if chunk:find("1b", 1, true) then on_escape() end end,
  })
  return function()
    if ok then proc:kill("KILL") proc:wait() end
    if mode and mode ~= "" then os.execute("stty " .. mode .. " < /dev/tty 2>/dev/null") end
  end
end

-- Ctrl-C interrupts the turn; SIGTERM and SIGHUP still end the process.
local function watch_sigint(on_int)
  local watch = signal.on_stop(function(sig)
    if sig == 2 then on_int() else os.exit(128 + sig) end
  end)
  return function() watch:close() end
end

--- Run the chat. `opts` are run_agent's; `user_message`, when given, is sent first. Extra options:
--- `input` (a function returning the next line, default io.read) and `output` (a function writing
--- text, default io.write), used by tests and embedders.
function M.run(opts, harness)
  local input = opts.input or function() return io.read("*l") end
  local output = opts.output or function(s) io.write(s) io.flush() end
  local o = {}
  for k, v in pairs(opts) do if k ~= "input" and k ~= "output" then o[k] = v end end
  local first = o.user_message
  local streamed = false
  o.on_text = function(delta) streamed = true output(delta) end
  o._interactive = true
  local function prompt()
    output("\nyou> ")
    local line = input()
    while line and line:match("^%s*$") do
      output("you> ")
      line = input()
    end
    if line == nil or line:match("^%s*exit%s*$") or line:match("^%s*quit%s*$") then return nil end
    return line
  end
  if not first then
    first = prompt()
    if not first then return nil end
  end
  o.user_message = first
  local agent = harness.run_agent(o)
  output(("[%s %s — Esc or Ctrl-C interrupts a turn; exit or Ctrl-D leaves]\n"):format(o.provider or "claude",
    o.model or harness.DEFAULT_MODELS[o.provider or "claude"]))
  local stop_watch = function() end
  local function start_watch()
    local a = watch_escape(function() agent:interrupt() end)
    local b = watch_sigint(function() agent:interrupt() end)
    stop_watch = function() a() b() stop_watch = function() end end
  end
  start_watch()
  local result
  for msg in agent do
    local t = msg.type
    if t == "text" then
      if not streamed then output(msg.text) end
      output("\n")
      streamed = false
    elseif t == "tool_use" then
      output(("  -> %s %s\n"):format(msg.name, short(json.encode(msg.input), 200)))
    elseif t == "tool_result" then
      output(("  <- %s%s (%.2f s): %s\n"):format(msg.name, msg.is_error and " error" or "", msg.elapsed,
        short(msg.content, 200)))
    elseif t == "error" then
      output("[error] " .. tostring(msg.message) .. "\n")
    elseif t == "interrupted" then
      output("\n[interrupted]\n")
    elseif t == "idle" then
      stop_watch()
      local line = prompt()
      agent:send(line)
      if line then start_watch() end
    elseif t == "result" then
      result = msg
    end
  end
  stop_watch()
  output("\n")
  return result
end

return M
