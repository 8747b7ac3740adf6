--- seer-lua transcript render FILE [--format md|html] [-o OUT]: turn an agent's JSONL transcript
--- into a readable Markdown document or one self-contained HTML page.
local cli = require "seer.cli"
local transcript = require "seer.harness.transcript"

local M = {}

local USAGE = "usage: seer-lua transcript render FILE [--format md|html] [-o OUTPUT]\n"

local OPTIONS = {
  options = { format = "value", output = "value" }, short = { f = "format", o = "output" },
  positional = { "command", "file" }, extra = "one transcript at a time",
}

function M.main(args)
  local o, perr = cli.parse(args or {}, OPTIONS)
  if not o then return cli.usage_error("seer-lua transcript", perr, USAGE) end
  if o.help then
    io.write(USAGE)
    return 0
  end
  if o.command ~= "render" then
    io.stderr:write(USAGE)
    return 2
  end
  local file, format, output = o.file, o.format, o.output
  format = format or (output and output:match("%.html?$") and "html") or "md"
  if not file then
    io.stderr:write(USAGE)
    return 2
  end
  if format ~= "md" and format ~= "html" then
    io.stderr:write("seer-lua transcript: --format must be md or html, got '" .. tostring(format) .. "'\n")
    return 2
  end
  local ok, events = pcall(transcript.read, file)
  if not ok then
    io.stderr:write("seer-lua transcript: " .. tostring(events) .. "\n")
    return 1
  end
  local doc = format == "html" and transcript.html(events) or transcript.markdown(events)
  if output then
    local f, err = io.open(output, "w")
    if not f then
      io.stderr:write("seer-lua transcript: cannot write '" .. output .. "': " .. tostring(err) .. "\n")
      return 1
    end
    f:write(doc)
    f:close()
  else
    io.write(doc)
  end
  return 0
end

return M
