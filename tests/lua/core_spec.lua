-- seer.core's small helpers that have no richer module to be tested through.
local core = require "seer.core"

describe("seer.core.random_hex", function()
  it("gives 2n lowercase hex digits, different each call", function()
    local seen = {}
    for _, n in ipairs({ 1, 4, 16, 32, 1024 }) do
      local s = core.random_hex(n)
      assert.are.equal(2 * n, #s)
      assert.is_nil(s:find("[^0-9a-f]"))
      if n >= 16 then
        assert.is_nil(seen[s])
        seen[s] = true
      end
    end
    assert.are_not.equal(core.random_hex(16), core.random_hex(16))
  end)

  it("raises on a size it does not serve", function()
    for _, n in ipairs({ 0, -1, 1025 }) do
      local ok, err = pcall(core.random_hex, n)
      assert.is_false(ok)
      assert.matches("between 1 and 1024 bytes", err)
    end
    assert.has_error(function() core.random_hex("x") end)
  end)
end)
