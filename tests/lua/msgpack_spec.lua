-- seer.msgpack: round trips through msgpack-c, ext values, stream decoding, malformed input.
local msgpack = require "seer.msgpack"
local json = require "seer.json"

describe("seer.msgpack", function()
  it("round-trips values", function()
    local v = { 1, -5, 3.25, "text", true, false, { a = { b = "c" } }, { 1, 2, 3 } }
    assert.are.same(v, msgpack.decode(msgpack.encode(v)))
    assert.are.equal(nil, msgpack.decode(msgpack.encode(nil)))
    if math.type then
      assert.are.equal(math.maxinteger, msgpack.decode(msgpack.encode(math.maxinteger)))
      assert.are.equal("float", math.type(msgpack.decode(msgpack.encode(2.0))))
    end
  end)

  it("encodes the documented wire bytes", function()
    assert.are.equal("\147\1\2\3", msgpack.encode({ 1, 2, 3 }))
    assert.are.equal("\129\161a\1", msgpack.encode({ a = 1 }))
    assert.are.equal("\192", msgpack.encode(json.null))
  end)

  it("sends non-UTF-8 strings as bin and keeps them intact", function()
    local bytes = "\0\255\254binary"
    local enc = msgpack.encode(bytes)
    assert.are.equal(0xc4, enc:byte(1)) -- bin 8
    assert.are.equal(bytes, msgpack.decode(enc))
  end)

  it("supports ext values and registered decoders", function()
    local e = msgpack.decode(msgpack.encode(msgpack.ext(5, "payload")))
    assert.are.equal(5, e.type)
    assert.are.equal("payload", e.data)
    msgpack.ext_decoders[6] = function(p) return "decoded:" .. p end
    assert.are.equal("decoded:xy", msgpack.decode(msgpack.encode(msgpack.ext(6, "xy"))))
    msgpack.ext_decoders[6] = nil
  end)

  it("uses __tomsgpack on tables and userdata", function()
    local obj = setmetatable({}, { __tomsgpack = function() return { "as", "list" } end })
    assert.are.same({ "as", "list" }, msgpack.decode(msgpack.encode(obj)))
  end)

  it("decodes a stream one value at a time", function()
    local s = msgpack.encode({ 1 }) .. msgpack.encode("two") .. msgpack.encode(3)
    local v, pos = msgpack.decode_one(s)
    assert.are.same({ 1 }, v)
    v, pos = msgpack.decode_one(s, pos)
    assert.are.equal("two", v)
    v, pos = msgpack.decode_one(s, pos)
    assert.are.equal(3, v)
    assert.are.equal(#s + 1, pos)
    -- a truncated value asks for more bytes instead of failing
    local partial = msgpack.encode({ "abcdef" }):sub(1, 4)
    v, pos = msgpack.decode_one(partial)
    assert.is_nil(v)
    assert.are.equal(1, pos)
  end)

  it("reports malformed and truncated data with a position", function()
    local ok, err = pcall(msgpack.decode, "\193")
    assert.is_false(ok)
    assert.matches("malformed data in the value starting at byte 1", err)
    ok, err = pcall(msgpack.decode, msgpack.encode({ 1, 2, 3 }):sub(1, 2))
    assert.is_false(ok)
    assert.matches("ends in the middle", err)
    ok, err = pcall(msgpack.decode, msgpack.encode(1) .. msgpack.encode(2))
    assert.is_false(ok)
    assert.matches("trailing data after the value at byte 2", err)
  end)

  it("refuses functions", function()
    assert.has_error(function() msgpack.encode({ print }) end, "msgpack.encode: cannot encode a function value")
  end)

  it("keeps map key order through decode and encode; sorts tables without order", function()
    local wire = msgpack.encode(json.decode('{"z":1,"a":{"y":2,"b":3},"m":[{"q":1,"c":2}]}'))
    assert.are.equal("\131\161z\1\161a\130\161y\2\161b\3\161m\145\130\161q\1\161c\2", wire)
    assert.are.equal(wire, msgpack.encode(msgpack.decode(wire)))
    assert.are.same({ "z", "a", "m" }, json.keys(msgpack.decode(wire)))
    assert.are.equal("\131\1\161x\161a\2\161b\3", msgpack.encode({ b = 3, a = 2, [1] = "x" }))
    assert.are.equal("\130\161b\1\161a\2", msgpack.encode(json.ordered { { "b", 1 }, { "a", 2 } }))
  end)
end)
