-- seer.schema.check_options: the options check seer.model, seer.sae, seer.techniques and
-- seer.toolkit share (their own validate() is covered by interface_spec and the MCP/harness specs).
local schema = require "seer.schema"

-- A public function as the modules write one: it checks its options first thing (not as a tail
-- call, which would drop its frame and the caller's line with it).
local function takes_opts(opts)
  opts = schema.check_options("demo.f", opts, { "alpha", "beta" })
  return opts
end

describe("seer.schema.check_options", function()
  it("gives a fresh table for nil and passes a valid table through", function()
    local a, b = takes_opts(nil), takes_opts(nil)
    assert.are.same({}, a)
    assert.are_not.equal(a, b)
    local o = { alpha = 1 }
    assert.are.equal(o, takes_opts(o))
  end)

  it("names the function, the bad option and the valid ones, at the caller's line", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(function() takes_opts({ gamma = 1 }) end)
    assert.is_false(ok)
    assert.matches("demo.f: unknown option 'gamma' %(valid: alpha, beta%)", err)
    assert.matches("schema_spec.lua:" .. line .. ":", err)
  end)

  it("refuses a non-table", function()
    local ok, err = pcall(takes_opts, "x")
    assert.is_false(ok)
    assert.matches("demo.f: options must be a table, got string", err)
  end)

  it("serves seer.model's options", function()
    local model = require "seer.model"
    local ok, err = pcall(model.create_random, "config.json", "out", { bogus = true })
    assert.is_false(ok)
    assert.matches("seer.model.create_random: unknown option 'bogus'", err)
  end)
end)
