--- seer.harness.transcript: agent transcripts as JSONL, one event per line, each line written and
--- flushed as the event happens (so a crash loses nothing already seen); reading them back
--- (tolerating a torn last line) and rendering them as Markdown or one self-contained HTML page.
local json = require "seer.json"

local M = {}

---@class seer.harness.TranscriptWriter
local Writer = {}
Writer.__index = Writer

--- Open `path` for appending.
function M.open(path)
  local f, err = io.open(path, "a")
  if not f then error("seer.harness: cannot open transcript '" .. tostring(path) .. "': " .. tostring(err), 3) end
  f:setvbuf("full")
  return setmetatable({ f = f, path = path }, Writer)
end

--- Append one event (a table) as a line, and flush it to the file.
function Writer:write(event)
  if not self.f then return end
  local ok, line = pcall(json.encode, event, { sort_keys = false })
  if not ok then line = json.encode({ type = event.type, unencodable = tostring(line) }) end
  self.f:write(line, "\n")
  self.f:flush()
end

function Writer:close()
  if self.f then self.f:close() self.f = nil end
end

--- Read a transcript: a list of events. A last line cut short by a crash is skipped; any other bad
--- line is an error naming its line number.
function M.read(path)
  local f, err = io.open(path, "r")
  if not f then error("cannot read transcript '" .. tostring(path) .. "': " .. tostring(err), 2) end
  local data = f:read("*a")
  f:close()
  local events, lineno = {}, 0
  for line in data:gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    if line ~= "" then
      local ok, ev = pcall(json.decode, line)
      if not ok or type(ev) ~= "table" then
        error(("%s:%d: not a JSON event: %s"):format(path, lineno, tostring(ev)), 2)
      end
      events[#events + 1] = ev
    end
  end
  -- Bytes after the last newline: an event whose write was cut short. Keep it only if complete.
  local tail = data:match("[^\n]*$")
  if tail and tail ~= "" then
    local ok, ev = pcall(json.decode, tail)
    if ok and type(ev) == "table" then events[#events + 1] = ev end
  end
  return events
end

-- ---- rendering ----

local function str(v)
  if v == nil or v == json.null then return "" end
  if type(v) == "table" then return json.encode(v, { indent = 2 }) end
  return tostring(v)
end

local function fence(s)
  local ticks = "```"
  while s:find(ticks, 1, true) do ticks = ticks .. "`" end
  return ticks .. "\n" .. s .. "\n" .. ticks
end

local function usage_line(u)
  if type(u) ~= "table" then return "" end
  return ("input %s, output %s tokens"):format(str(u.input_tokens or 0), str(u.output_tokens or 0))
end

--- Markdown for a list of events.
function M.markdown(events)
  local out = {}
  local function add(s) out[#out + 1] = s end
  for _, ev in ipairs(events) do
    local t = ev.type
    if t == "init" then
      add(("# Agent transcript\n\n- provider: %s\n- model: %s\n- tools: %s\n"):format(str(ev.provider), str(ev.model),
        type(ev.tools) == "table" and table.concat(ev.tools, ", ") or ""))
      if ev.prompt and ev.prompt ~= "" then add("## System prompt\n\n" .. str(ev.prompt) .. "\n") end
      if ev.user_message then add("## User\n\n" .. str(ev.user_message) .. "\n") end
    elseif t == "user" then
      add("## User\n\n" .. str(ev.text) .. "\n")
    elseif t == "text" then
      add("## Assistant\n\n" .. str(ev.text) .. "\n")
    elseif t == "thinking" then
      add("<details><summary>Thinking</summary>\n\n" .. str(ev.text) .. "\n\n</details>\n")
    elseif t == "tool_use" then
      add(("### Tool call `%s` (%s)\n\n%s\n"):format(str(ev.name), str(ev.id), fence(str(ev.input))))
    elseif t == "tool_result" then
      add(("### Tool result `%s`%s (%.3f s)\n\n%s\n"):format(str(ev.name), ev.is_error and " — error" or "",
        tonumber(ev.elapsed) or 0, fence(str(ev.content))))
    elseif t == "usage" then
      add(("_Turn %s: %s_\n"):format(str(ev.turn), usage_line(ev)))
    elseif t == "error" then
      add("## Error\n\n" .. fence(str(ev.message)) .. "\n")
    elseif t == "result" then
      add(("## Result\n\n- stop reason: %s\n- turns: %s\n- usage: %s\n"):format(str(ev.stop_reason), str(ev.turns),
        usage_line(ev.usage)))
    end
  end
  return table.concat(out, "\n")
end

local function esc(s)
  return (str(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

local CSS = [[
body{font:15px/1.5 system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;color:#222}
.ev{margin:.8em 0;padding:.6em .9em;border-radius:6px;border:1px solid #ddd}
.text{background:#f7f9fc}.user{background:#fff8e6}.thinking{background:#f4f4f4;color:#555}
.error{background:#fdecea;border-color:#f5c2c0}.result{background:#eef8ee}
details.tool{border:1px solid #ccd;border-radius:6px;margin:.8em 0;padding:.4em .9em}
details.tool.failed{border-color:#e99}summary{cursor:pointer;font-weight:600}
pre{white-space:pre-wrap;word-break:break-word;background:#fafafa;padding:.5em;border-radius:4px;margin:.3em 0}
.meta{color:#777;font-size:13px}h1{font-size:22px}
]]

--- One self-contained HTML page for a list of events; tool calls are collapsed with their input
--- and result.
function M.html(events)
  local out = { "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Agent transcript</title><style>",
                CSS, "</style></head><body>\n" }
  local function add(s) out[#out + 1] = s end
  local results = {}
  for _, ev in ipairs(events) do
    if ev.type == "tool_result" and ev.id then results[str(ev.id)] = ev end
  end
  for _, ev in ipairs(events) do
    local t = ev.type
    if t == "init" then
      add(("<h1>Agent transcript</h1><p class=\"meta\">%s · %s · tools: %s</p>\n"):format(esc(ev.provider),
        esc(ev.model),
        esc(type(ev.tools) == "table" and table.concat(ev.tools, ", ") or "")))
      if ev.prompt and ev.prompt ~= "" then
        add("<details class=\"ev\"><summary>System prompt</summary><pre>" .. esc(ev.prompt) .. "</pre></details>\n")
      end
      if ev.user_message then
        add("<div class=\"ev user\"><b>User</b><pre>" .. esc(ev.user_message) .. "</pre></div>\n")
      end
    elseif t == "user" then
      add("<div class=\"ev user\"><b>User</b><pre>" .. esc(ev.text) .. "</pre></div>\n")
    elseif t == "text" then
      add("<div class=\"ev text\"><pre>" .. esc(ev.text) .. "</pre></div>\n")
    elseif t == "thinking" then
      add("<details class=\"ev thinking\"><summary>Thinking</summary><pre>" .. esc(ev.text) .. "</pre></details>\n")
    elseif t == "tool_use" then
      local r = results[str(ev.id)]
      add(("<details class=\"tool%s\"><summary>%s%s</summary><div class=\"meta\">input</div><pre>%s</pre>"):format(
        r and r.is_error and " failed" or "", esc(ev.name), r and r.is_error and " (error)" or "", esc(str(ev.input))))
      if r then
        add(("<div class=\"meta\">result · %.3f s</div><pre>%s</pre>"):format(tonumber(r.elapsed) or 0, esc(r.content)))
      end
      add("</details>\n")
    elseif t == "usage" then
      add(("<p class=\"meta\">turn %s: %s</p>\n"):format(esc(ev.turn), esc(usage_line(ev))))
    elseif t == "error" then
      add("<div class=\"ev error\"><b>Error</b><pre>" .. esc(ev.message) .. "</pre></div>\n")
    elseif t == "result" then
      add(("<div class=\"ev result\"><b>Result</b>: %s · %s turns · %s</div>\n"):format(esc(ev.stop_reason),
        esc(ev.turns), esc(usage_line(ev.usage))))
    end
  end
  add("</body></html>\n")
  return table.concat(out)
end

return M
