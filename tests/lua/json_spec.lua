-- seer.json: round trips, null, empty array/object control, exact numbers, error positions.
local json = require "seer.json"

describe("seer.json", function()
  it("round-trips nested values", function()
    local v = { name = "x", list = { 1, 2, { deep = true } }, nested = { a = { b = { c = "d" } } } }
    assert.are.same(v, json.decode(json.encode(v)))
  end)

  it("encodes with sorted keys and escapes", function()
    assert.are.equal('{"a":1,"b":"q\\"\\n\\u0001","c":[true,false]}',
      json.encode({ c = { true, false }, b = 'q"\n\1', a = 1 }))
  end)

  it("has a null sentinel both ways", function()
    local v = json.decode('{"a":null,"b":[1,null,3]}')
    assert.are.equal(json.null, v.a)
    assert.are.equal(3, #v.b)
    assert.are.equal(json.null, v.b[2])
    assert.are.equal('{"a":null,"b":[1,null,3]}', json.encode(v))
  end)

  it("controls empty arrays vs objects", function()
    assert.are.equal("{}", json.encode({}))
    assert.are.equal("[]", json.encode(json.array()))
    assert.are.equal("[]", json.encode(json.array({})))
    assert.are.equal("{}", json.encode(json.object({})))
    -- decoded empties remember what they were
    assert.are.equal('{"a":[],"o":{}}', json.encode(json.decode('{"a":[],"o":{}}')))
  end)

  it("keeps integers and floats exact", function()
    local big = json.decode("9007199254740993")
    if math.type then
      assert.are.equal("integer", math.type(big))
      assert.are.equal(9007199254740993, big)
      assert.are.equal("float", math.type(json.decode("1.0")))
      assert.are.equal("1.0", json.encode(1.0))
      assert.are.equal("-9223372036854775808", json.encode(math.mininteger))
    end
    for _, x in ipairs({ 0.1, 1 / 3, 1e300, -2.5e-308, 123456.789, 5e-324 }) do
      local s = json.encode(x)
      assert.are.equal(x, json.decode(s))
    end
    assert.are.equal("0.1", json.encode(0.1))
    assert.are.equal("42", json.encode(42))
  end)

  it("reports decode errors with line and column", function()
    local ok, err = pcall(json.decode, '{\n  "a": 1,\n  "b": ]\n}')
    assert.is_false(ok)
    assert.matches("line 3 column %d+", err)
    ok, err = pcall(json.decode, "")
    assert.is_false(ok)
    assert.matches("json.decode:", err)
  end)

  it("refuses values it cannot encode, naming where", function()
    local ok, err = pcall(json.encode, { a = { 1, function() end } })
    assert.is_false(ok)
    assert.matches("cannot encode a function value at %$%.a%[2%]", err)
    ok, err = pcall(json.encode, { x = 0 / 0 })
    assert.is_false(ok)
    assert.matches("NaN", err)
    ok, err = pcall(json.encode, "\255\254")
    assert.is_false(ok)
    assert.matches("UTF%-8", err)
  end)

  it("detects cycles", function()
    local t = {}
    t.self = t
    local ok, err = pcall(json.encode, t)
    assert.is_false(ok)
    assert.matches("nested too deeply", err)
  end)

  it("pretty-prints with indent", function()
    assert.are.equal('{\n  "a": [\n    1\n  ]\n}', json.encode({ a = { 1 } }, { indent = 2 }))
  end)

  it("handles unicode", function()
    local s = "héllo 世界 🎉"
    assert.are.equal(s, json.decode(json.encode(s)))
    assert.are.equal("é", json.decode('"\\u00e9"'))
  end)

  describe("key order", function()
    it("decode keeps document order and encode writes it back", function()
      local s = '{"z":1,"a":{"y":2,"b":[{"q":1,"c":2}]},"m":null,"10":3,"9":4}'
      assert.are.equal(s, json.encode(json.decode(s)))
      assert.are.same({ "z", "a", "m", "10", "9" }, json.keys(json.decode(s)))
      assert.are.equal('{\n  "z": 1,\n  "a": {}\n}', json.encode(json.decode('{"z":1,"a":{}}'), { indent = 2 }))
    end)

    it("appends assigned keys; a key deleted and assigned again moves to the end", function()
      local v = json.decode('{"c":1,"b":2,"a":3}')
      v.x = 4
      v.b = nil
      v.c = nil
      v.c = 5
      v.a = 6 -- replacing a value keeps its place
      assert.are.equal('{"a":6,"x":4,"c":5}', json.encode(v))
    end)

    it("sorts keys of tables without order, numbers before strings", function()
      assert.are.equal('{"2":0,"10":1,"B":2,"a":3,"b":4}', json.encode({ b = 4, a = 3, B = 2, [10] = 1, [2] = 0 }))
    end)

    it("sort_keys = true sorts every object", function()
      local v = json.decode('{"b":{"y":1,"x":2},"a":3}')
      assert.are.equal('{"a":3,"b":{"x":2,"y":1}}', json.encode(v, { sort_keys = true }))
      assert.are.equal('{"b":{"y":1,"x":2},"a":3}', json.encode(v, { sort_keys = false }))
    end)

    it("builds ordered objects: ordered{...}, object(t, keys), and assignment", function()
      local tool = json.ordered {
        { "type", "function" },
        { "function", json.ordered {
          { "name", "get_weather" },
          { "description", "Weather in a city" },
          { "parameters", json.ordered {
            { "type", "object" }, { "skipped", nil }, { "required", json.array { "city" } } } },
        } },
      }
      assert.are.equal('{"type":"function","function":{"name":"get_weather","description":"Weather in a city",'
        .. '"parameters":{"type":"object","required":["city"]}}}', json.encode(tool))
      assert.are.equal('{"b":1,"a":2}', json.encode(json.object({ a = 2, b = 1 }, { "b", "a" })))
      local o = json.object()
      o.zeta = 1
      o.alpha = 2
      o.mid = 3
      assert.are.equal('{"zeta":1,"alpha":2,"mid":3}', json.encode(o))
      -- object(t) on a table with keys lists them sorted; later keys follow
      local p = json.object({ y = 1, x = 2 })
      p.a = 3
      assert.are.equal('{"x":2,"y":1,"a":3}', json.encode(p))
      -- object(t) keeps an order t already has
      assert.are.equal('{"q":1,"p":2}', json.encode(json.object(json.decode('{"q":1,"p":2}'))))
      local ok, err = pcall(json.ordered, { { "a", 1 }, { "a", 2 } })
      assert.is_false(ok)
      assert.matches("key a appears twice", err)
      ok, err = pcall(json.ordered, { "a", 1 })
      assert.is_false(ok)
      assert.matches("pass {key, value} pairs", err)
    end)

    it("keys() lists an array's indices", function()
      assert.are.same({ 1, 2 }, json.keys({ "x", "y" }))
    end)
  end)
end)
