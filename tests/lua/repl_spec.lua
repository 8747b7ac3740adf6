-- seer.pretty and seer.repl: rendering and statement handling (the terminal side is tested in
-- tests/integration through a pty).
local pretty = require "seer.pretty"
local repl = require "seer.repl"
local json = require "seer.json"

describe("seer.pretty", function()
  it("renders nested tables with sorted keys", function()
    assert.are.equal('{ 1, 2, a = "x", b = { c = true } }', pretty.format({ 1, 2, b = { c = true }, a = "x" }))
  end)

  it("marks cycles", function()
    local t = { name = "t" }
    t.self = t
    assert.are.equal('{ name = "t", self = <cycle> }', pretty.format(t))
  end)

  it("truncates long tables and strings", function()
    local big = {}
    for i = 1, 100 do big[i] = i end
    local s = pretty.format(big, { items = 5 })
    assert.matches("%.%.%. %(95 more%)", s)
    assert.matches('%.%.%.$', pretty.format(string.rep("x", 1000), { string_chars = 10 }))
    assert.matches("more characters", pretty.format(big, { max_chars = 20 }))
  end)

  it("shows json null as null", function()
    assert.are.equal("{ a = null }", pretty.format({ a = json.null }))
  end)
end)

describe("seer.repl", function()
  it("completes the word libedit hands it, counting bytes around multi-byte text", function()
    local line = 'x = "\u{e9}"; string.fo'
    assert.are.same({ "format" }, repl.complete_word(line, 17, 19))
    assert.are.same({ "string.format" }, repl.complete_word(line, 10, 19))
    assert.are.same({}, repl.complete_word("nothing_named_so.x", 17, 18))
  end)

  it("answers ?name with the doc and help(f) with the same text", function()
    local out = {}
    local saved = _G.print
    _G.print = function(s) out[#out + 1] = s end
    local ok, err = pcall(function()
      assert.are.equal("ok", repl.feed("?string_that_is_no_name"))
      assert.are.equal("ok", repl.feed("? require('seer.tensor').zeros"))
      repl.help(require("seer.tensor").zeros)
    end)
    _G.print = saved
    assert(ok, err)
    assert.are.equal("no documentation for string_that_is_no_name", out[1])
    assert.truthy(out[2]:find("^seer%.tensor%.zeros%(shape, dtype%?%)"))
    assert.are.equal(out[2], out[3])
  end)

  it("asks for more input while a statement is incomplete", function()
    assert.are.equal("more", repl.feed("for i = 1, 2 do"))
    assert.are.equal("more", repl.feed("  local _ = i"))
    assert.are.equal("ok", repl.feed("end"))
  end)

  it("reports errors and carries on", function()
    assert.are.equal("error", repl.feed("error('x')"))
    assert.are.equal("error", repl.feed("1 +* 2"))
    assert.are.equal("ok", repl.feed("_G.__repl_spec = 1"))
    _G.__repl_spec = nil
  end)

  it("reset drops a pending statement", function()
    assert.are.equal("more", repl.feed("if true then"))
    repl.reset()
    assert.are.equal("ok", repl.feed("local _ = 1"))
  end)
end)
