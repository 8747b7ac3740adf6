-- How the kernel compiles a cell: the value of its last line, as in IPython, including a call on
-- the last line (a plot), without ever splitting a long string or a multi-line statement.
local execute = require "seer.kernel.execute"

local function values(code)
  local fn, err = execute.compile(code, "=cell")
  assert(fn, err)
  return table.pack(fn())
end

describe("seer.kernel.execute.compile", function()
  it("gives an expression's value", function()
    assert.same({ n = 1, 3 }, values("1 + 2"))
  end)
  it("gives the last line's value after statements", function()
    assert.same({ n = 1, 42 }, values("local x = 41\nx + 1"))
  end)
  it("gives the value of a call on the last line, even though a call is also a statement", function()
    _G.calls = 0
    local v = values("local function f() calls = calls + 1; return 'shown' end\nf()")
    assert.same({ n = 1, "shown" }, v)
    assert.equals(1, _G.calls)
    _G.calls = nil
  end)
  it("never splits a long string or a multi-line statement", function()
    assert.same({ n = 0 }, values("s = [[\nabc]]"))
    assert.equals("abc", _G.s)
    assert.same({ n = 0 }, values("t = {\n1}"))
    assert.same({ 1 }, _G.t)
    _G.s, _G.t = nil, nil
  end)
  it("runs statements with no value", function()
    assert.same({ n = 0 }, values("local y = 1\ny = y + 1"))
  end)
  it("reports a syntax error of the whole cell", function()
    local fn, err = execute.compile("x = = 1", "=cell")
    assert.is_nil(fn)
    assert.matches("cell:1:", err)
  end)
end)

describe("seer.kernel.execute.run: io.read and io.stdin ask for input", function()
  it("turns each read into one input request, in io.read's formats, and puts io back after", function()
    local lines, prompts, out = { "seer", "41", "abcdef", "x", "y" }, {}, {}
    local real_read, real_stdin = io.read, io.stdin
    local r = execute.run("io.write('name? ') local a, n = io.read('l', 'n') local c = io.stdin:read(3)\n"
      .. "local it = io.stdin:lines('L') return a .. '!', n + 1, c, it(), it()", "=cell", function(_, text)
        out[#out + 1] = text
      end, function(prompt)
        prompts[#prompts + 1] = prompt
        return table.remove(lines, 1)
      end)
    assert.is_true(r.ok, r.evalue)
    assert.same({ "seer!", 42, "abc", "x\n", "y\n" }, r.values)
    assert.equals(5, #prompts)
    assert.equals("name? ", out[1]) -- the prompt's text was sent before the first request
    assert.equals(real_read, io.read)
    assert.equals(real_stdin, io.stdin)
  end)
  it("fails a read at once when there is no input", function()
    local r = execute.run("io.read()", "=cell", function() end)
    assert.is_false(r.ok)
    assert.matches("no input", r.evalue)
  end)
end)
