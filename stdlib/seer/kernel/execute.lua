--- seer.kernel.execute: runs one cell. Compiles it as the REPL does (an expression first, else
--- statements, else statements with the last line as the value), runs it in the kernel's global
--- environment with print/io.write/io.stdout/io.stderr sent to the notebook as stream messages
--- and io.read/io.stdin asking the client for input (the stdin channel), and reports the values
--- or the error with its traceback. SIGINT (interrupt) stops it.
local jupyter = require "seer._jupyter"
local core = require "seer.core"

local M = {}

local load_chunk = loadstring or load
local unpack = table.unpack or unpack
local function pack(...) return { n = select("#", ...), ... } end
local FLUSH_INTERVAL = 0.05 -- seconds between stream messages while a cell keeps printing
local FLUSH_BYTES = 64 * 1024

--- Compile a cell. Returns fn or nil, err. A cell whose last line is an expression gives that
--- value, as in IPython, even when the line would also do as a statement (a call: a plot, a
--- display); the lines above and the last line must each compile on their own, so a line inside
--- a long string or a multi-line statement is never split off.
function M.compile(code, name)
  local fn = load_chunk("return " .. code, name)
  if fn then return fn end
  local head, last = code:match("^(.*\n)%s*([^\n]+)%s*$")
  if head and load_chunk(head, name) and load_chunk("return " .. last, name) then
    local fn2 = load_chunk(head .. "return " .. last, name)
    if fn2 then return fn2 end
  end
  return load_chunk(code, name)
end

-- A stream sink (stdout or stderr) that batches writes into stream messages.
local function sink(name, emit)
  local buf, n, last = {}, 0, core.now()
  local s = {}
  function s.write(...)
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      local tv = type(v)
      if tv ~= "string" and tv ~= "number" then
        error(("bad argument #%d to 'write' (string expected, got %s)"):format(i, tv), 2)
      end
      buf[#buf + 1] = tostring(v)
      n = n + #buf[#buf]
    end
    if n >= FLUSH_BYTES or core.now() - last >= FLUSH_INTERVAL then s.flush() end
  end
  function s.flush()
    if n > 0 then
      emit(name, table.concat(buf))
      buf, n = {}, 0
    end
    last = core.now()
  end
  return s
end

-- io.read's formats over `input(prompt)` (one input_request per line asked for): "l", "L", "n",
-- "a" (one reply's text) and a byte count. Returns the values as io.read does.
local function read_input(input, ...)
  local formats = select("#", ...) > 0 and { ... } or { "l" }
  local out = {}
  for i, f in ipairs(formats) do
    local line = input("")
    if type(f) == "string" then f = f:gsub("^%*", "") end
    if f == "l" or f == "a" then
      out[i] = line
    elseif f == "L" then
      out[i] = line .. "\n"
    elseif f == "n" then
      out[i] = tonumber(line)
    elseif type(f) == "number" then
      out[i] = line:sub(1, f)
    else
      error(("bad argument #%d to 'read' (invalid format)"):format(i), 3)
    end
  end
  return unpack(out, 1, #formats)
end

-- io.stdin while a cell runs: reads are input requests to the client (see M.run's `input`).
local function stdin_proxy(input, real)
  return setmetatable({}, {
    __index = {
      read = function(_, ...) return read_input(input, ...) end,
      lines = function(_, ...)
        local formats = pack(...)
        return function() return read_input(input, unpack(formats, 1, formats.n)) end
      end,
      close = function() return nil, "cannot close the notebook's input" end,
      write = function() return nil, "the notebook's input cannot be written" end,
      flush = function(self) return self end,
      setvbuf = function() return true end,
      seek = function() return nil, "not seekable" end,
    },
    __tostring = function() return tostring(real) .. " (notebook)" end,
    __name = "FILE*",
  })
end

-- A file-like proxy for io.stdout / io.stderr, whose methods take self.
local function file_proxy(s, real)
  return setmetatable({}, {
    __index = {
      write = function(self, ...) s.write(...); return self end,
      flush = function(self) s.flush(); return self end,
      setvbuf = function() return true end,
      close = function() return nil, "cannot close the notebook's output" end,
      lines = function() error("the notebook's output cannot be read", 2) end,
      read = function() error("the notebook's output cannot be read", 2) end,
      seek = function() return nil, "not seekable" end,
    },
    __tostring = function() return tostring(real) .. " (notebook)" end,
    __name = "FILE*",
  })
end

local function traceback(err)
  if type(err) ~= "string" then
    local mt = getmetatable(err)
    if mt and mt.__tostring then return { msg = tostring(err) } end
    return { msg = require("seer.pretty").format(err) }
  end
  local tb = debug.traceback("", 2)
  return { msg = err, tb = tb }
end

-- Keeps only the frames of the user's code: everything from the kernel's own xpcall on is ours.
local function trim(tb)
  local lines = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("in function 'xpcall'", 1, true) or line:find("seer/kernel/execute", 1, true)
        or line:find("[C]: in ?", 1, true) then
      break
    end
    if line ~= "" then lines[#lines + 1] = line end
  end
  return table.concat(lines, "\n")
end

--- Run a cell. `emit(stream_name, text)` receives its output; `input(prompt)` answers io.read
--- and io.stdin reads (a line, or raises). Returns {ok=true, n=, values=} or {ok=false, ename=,
--- evalue=, traceback={...}}.
---@param code string
---@param name string chunk name, e.g. "=cell[3]"
---@param emit fun(stream: string, text: string)
---@param input (fun(prompt: string): string)? none: reads fail
function M.run(code, name, emit, input)
  local fn, err = M.compile(code, name)
  if not fn then
    return { ok = false, ename = "SyntaxError", evalue = err, traceback = { err } }
  end
  if jit then jit.off(fn, true) end -- compiled LuaJIT loops never run the interrupt hook
  local out, errs = sink("stdout", emit), sink("stderr", emit)
  local saved = { print = print, write = io.write, stdout = io.stdout, stderr = io.stderr, read = io.read,
                  stdin = io.stdin }
  -- What the cell printed comes before an input prompt.
  local function ask(prompt)
    out.flush()
    errs.flush()
    if not input then error("io.read: this cell has no input", 0) end
    return input(prompt)
  end
  _G.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    out.write(table.concat(parts, "\t"), "\n")
  end
  -- The cell's output goes to the notebook: io's fields are swapped while it runs.
  -- luacheck: push ignore 122
  local io_ = io
  io_.write = function(...) out.write(...); return io_.stdout end
  io_.stdout = file_proxy(out, saved.stdout)
  io_.stderr = file_proxy(errs, saved.stderr)
  io_.read = function(...) return read_input(ask, ...) end
  io_.stdin = stdin_proxy(ask, saved.stdin)
  jupyter.watch_interrupts(true)
  local res = pack(xpcall(fn, traceback))
  jupyter.watch_interrupts(false)
  _G.print, io_.write, io_.stdout, io_.stderr = saved.print, saved.write, saved.stdout, saved.stderr
  io_.read, io_.stdin = saved.read, saved.stdin
  -- luacheck: pop
  out.flush()
  errs.flush()
  if res[1] then
    return { ok = true, n = res.n - 1, values = { unpack(res, 2, res.n) } }
  end
  local e = res[2]
  local msg = e.msg
  local interrupted = msg == "interrupted" or (msg:match(": interrupted$") ~= nil)
      or msg:find("forward interrupted", 1, true) ~= nil
  local tb = { msg }
  local frames = e.tb and trim(e.tb) or ""
  if frames ~= "" and frames ~= "stack traceback:" then tb[2] = frames end
  return {
    ok = false,
    ename = interrupted and "KeyboardInterrupt" or "LuaError",
    evalue = msg,
    traceback = tb,
  }
end

return M
