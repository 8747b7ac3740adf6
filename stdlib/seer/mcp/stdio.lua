--- seer.mcp.stdio: the stdio transport of an MCP server. Newline-delimited JSON-RPC messages come
--- in on stdin and go out on stdout; only protocol goes to stdout (descriptor 1 is pointed at
--- stderr, so a stray print in served code lands in the log). Lines are bounded (`max_line`), as
--- are the tool calls in flight (`max_inflight`: reading pauses until some finish). The server
--- returns when stdin ends (after the calls in flight finish, or `grace` seconds) or when the
--- client stops reading stdout.
local core = require "seer.core"
local json = require "seer.json"
local log = require "seer.log"
local task = require "seer.task"
local server_mod = require "seer.mcp.server"

local M = {}

M.MAX_LINE = 16 * 1024 * 1024
M.MAX_INFLIGHT = 64
M.GRACE = 10

--- Serve `server` (a seer.mcp.server) over this process's stdin and stdout until stdin ends.
--- Options: `max_line` (bytes), `max_inflight`, `grace` (seconds to let calls in flight finish
--- after stdin ends), `input_fd`/`output_fd` (default 0 and a private copy of 1), `stop_signals`
--- (stop on SIGTERM, SIGINT, SIGHUP). Returns why it stopped: "eof", "output closed" or "signal".
function M.serve(server, opts)
  opts = opts or {}
  local max_line = opts.max_line or M.MAX_LINE
  local max_inflight = opts.max_inflight or M.MAX_INFLIGHT
  local out_fd = opts.output_fd
  if not out_fd then
    local fd, err = core.claim_stdout()
    if not fd then error("seer.mcp.stdio: " .. err, 2) end
    out_fd = fd
  end
  local lines = task.channel()
  local stop_reason

  local function finish(reason)
    if stop_reason then return end
    stop_reason = reason
    lines:close()
  end

  local function send(msg)
    if stop_reason == "output closed" then return end
    local ok, text = pcall(json.encode, msg)
    if not ok then
      log.error("mcp", "cannot encode a response: %s", tostring(text))
      text = json.encode(server_mod.error_response(msg.id, server_mod.INTERNAL_ERROR,
        "the response cannot be encoded as JSON: " .. tostring(text)))
    end
    local wok, werr = core.write_fd(out_fd, text .. "\n")
    if not wok then
      log.info("mcp", "the client stopped reading: %s", tostring(werr))
      finish("output closed")
    end
  end

  -- Runs on the loop (must not yield): split chunks into lines, bounded.
  local parts, partial_len, overlong = {}, 0, false
  local reader
  local function on_chunk(data, err)
    if stop_reason or lines.closed then return end
    if data == nil then
      if err then log.warn("mcp", "reading stdin failed: %s", err) end
      if not overlong and partial_len > 0 then lines:put(table.concat(parts)) end
      parts, partial_len = {}, 0
      lines:close()
      return
    end
    local pos = 1
    while true do
      local nl = data:find("\n", pos, true)
      if not nl then
        local rest = #data - pos + 1
        if rest > 0 and not overlong then
          partial_len = partial_len + rest
          if partial_len > max_line then
            overlong = true
            parts = {}
            lines:put(false) -- tells the main loop to answer with a parse error
          else
            parts[#parts + 1] = data:sub(pos)
          end
        end
        break
      end
      if overlong then
        overlong = false
      else
        local piece = data:sub(pos, nl - 1)
        if partial_len + #piece > max_line then
          lines:put(false)
        else
          parts[#parts + 1] = piece
          lines:put(table.concat(parts))
        end
      end
      parts, partial_len = {}, 0
      pos = nl + 1
    end
    if #lines > 256 and reader then reader:pause() end
  end

  local rerr
  reader, rerr = core.read_fd(opts.input_fd or 0, on_chunk)
  if not reader then error("seer.mcp.stdio: cannot read stdin: " .. tostring(rerr), 2) end
  local paused_for_load = false
  local watch = opts.stop_signals and require("seer.rpc").on_stop_signal(function(signum)
    log.info("mcp", "stopping on signal %d", signum)
    finish("signal")
  end) or nil

  local main = task.spawn(function()
    while true do
      local line = lines:get()
      if line == nil then break end
      if #lines < 64 then reader:resume() end
      if line == false then
        send(server_mod.error_response(nil, server_mod.PARSE_ERROR,
          ("parse error: a line longer than %d bytes (the limit of this server)"):format(max_line)))
      else
        if line:sub(-1) == "\r" then line = line:sub(1, -2) end
        if line:find("%S") then server:receive_text(line, send) end
      end
      -- Too many calls in flight: stop reading until some finish.
      while server:busy() >= max_inflight and not stop_reason do
        if not paused_for_load then reader:pause() paused_for_load = true end
        task.sleep(0.002)
      end
      if paused_for_load then reader:resume() paused_for_load = false end
    end
  end)
  main.name = "mcp-stdio"
  local ok, err = pcall(main.wait, main)
  if not ok and not stop_reason then log.error("mcp", "stdio loop failed: %s", tostring(err)) end
  reader:close()
  if watch then watch:close() end
  if stop_reason == "output closed" or stop_reason == "signal" then
    server:cancel_all()
    return stop_reason
  end
  -- stdin ended: let the calls in flight answer, within the grace period.
  local deadline = core.now() + (opts.grace or M.GRACE)
  while server:busy() > 0 and core.now() < deadline and stop_reason ~= "output closed" do task.sleep(0.005) end
  if server:busy() > 0 then
    log.warn("mcp", "stdin closed; cancelling %d call(s) still running", server:busy())
    server:cancel_all()
  end
  return stop_reason or "eof"
end

return M
