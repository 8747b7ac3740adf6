-- seer.cli.parse: the flag parser every seer-lua subcommand uses.
local cli = require "seer.cli"

describe("seer.cli.parse", function()
  local spec = {
    options = { out = "value", check = "flag", include = "list", ["max-frame"] = "value" },
    short = { o = "out" }, positional = { "file" }, extra = "one file at a time",
  }

  it("reads values, flags, lists, aliases and positionals", function()
    local o = assert(cli.parse({ "--out", "a", "x.lua", "--check", "--include=*.json", "--include", "tok*",
      "--max-frame=9" }, spec))
    assert.are.same({ out = "a", file = "x.lua", check = true, include = { "*.json", "tok*" }, max_frame = "9" }, o)
    assert.are.same({ out = "b" }, cli.parse({ "-o", "b" }, spec))
    assert.are.same({ file = "-x" }, cli.parse({ "--", "-x" }, spec))
    assert.are.same({ out = "" }, cli.parse({ "--out=" }, spec))
  end)

  it("names the first problem", function()
    local cases = {
      { { "--out" }, "--out needs a value" },
      { { "--bogus" }, "unknown option '--bogus'" },
      { { "-z" }, "unknown option '-z'" },
      { { "--check=yes" }, "--check takes no value" },
      { { "a", "b" }, "unexpected argument 'b' (one file at a time)" },
    }
    for _, c in ipairs(cases) do
      local o, err = cli.parse(c[1], spec)
      assert.is_nil(o)
      assert.are.equal(c[2], err)
    end
  end)

  it("answers -h/--help anywhere, even beside a mistake", function()
    assert.is_true(cli.parse({ "--bogus", "--help" }, spec).help)
    assert.is_true(cli.parse({ "-h" }, {}).help)
  end)
end)
