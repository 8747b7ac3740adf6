--- seer-lua transcript render FILE [--format md|html] [-o OUT]: turn an agent's JSONL transcript
--- into a readable Markdown document or one self-contained HTML page.
local transcript = require "seer.harness.transcript"

local M = {}

local USAGE = "usage: seer-lua transcript render FILE [--format md|html] [-o OUTPUT]\n"

function M.main(args)
  args = args or {}
  for _, a in ipairs(args) do
    if a == "--help" or a == "-h" then
      io.write(USAGE)
      return 0
    end
  end
  if args[1] ~= "render" then
    io.stderr:write(USAGE)
    return 2
  end
  local file, format, output
  local i = 2
  while i <= #args do
    local a = args[i]
    if a == "--format" or a == "-f" then
      format = args[i + 1]
      i = i + 1
    elseif a:match("^%-%-format=") then
      format = a:match("^%-%-format=(.*)")
    elseif a == "-o" or a == "--output" then
      output = args[i + 1]
      i = i + 1
    elseif not file then
      file = a
    else
      io.stderr:write("seer-lua transcript: unexpected argument '" .. a .. "'\n" .. USAGE)
      return 2
    end
    i = i + 1
  end
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
