-- seer.interface: loading interface files, annotations to schemas, argument checks, errors,
-- serialised calls, model paths, and serving one over seer.rpc.
local interface = require "seer.interface"
local rpc = require "seer.rpc"
local task = require "seer.task"

local dir = "tests/lua/fixtures/interfaces/"

local function load_err(path, opts)
  local ok, e = pcall(interface.load, path, opts)
  assert.is_false(ok)
  return tostring(e)
end

local function call_err(iface, ...)
  local ok, e = pcall(iface.call, iface, ...)
  assert.is_false(ok)
  assert.are.equal("table", type(e))
  return e
end

local function write_tmp(text)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("seer.interface", function()
  local iface
  before_each(function()
    iface = interface.load(dir .. "basic.lua", { models = { ["org/model"] = "/models/org--model" } })
  end)

  it("exposes functions in definition order, hiding the rest", function()
    local names = {}
    for i, f in ipairs(iface.functions) do names[i] = f.name end
    assert.are.same({ "add", "greet", "sum", "count", "fail", "bad_result", "slow", "model_path", "models", "noop" },
      names)
  end)

  it("turns annotations into descriptions and JSON Schemas", function()
    local add = iface.by_name.add
    assert.are.equal("Add two numbers.\nBoth must be numbers.", add.description)
    assert.are.same({ "a", "b" }, { add.params[1].name, add.params[2].name })
    assert.are.equal("The first", add.params[1].description)
    assert.are.same({ type = "number", description = "The first" }, add.input_schema.properties.a)
    assert.are.same({ "a", "b" }, add.input_schema.required)
    assert.are.equal("number", add.returns.spec.name)
    local greet = iface.by_name.greet
    assert.is_false(greet.params[2].required)
    assert.are.same({ "name" }, greet.input_schema.required)
    assert.are.same({ type = "array", items = { type = "integer" }, description = "the numbers" },
      iface.by_name.sum.input_schema.properties.xs)
    local d = iface:describe()
    assert.are.equal("seer-lua", d.server)
    -- schemas list parameters in declaration order, on every run and both Lua flavours
    local json = require "seer.json"
    local path = write_tmp("---@param zeta string\n---@param alpha integer?\n---@param mid boolean\n"
      .. "function expose.f(zeta, alpha, mid) end\n")
    local f = interface.load(path).by_name.f
    os.remove(path)
    assert.are.equal('{"type":"object","properties":{"zeta":{"type":"string"},'
      .. '"alpha":{"type":"integer"},"mid":{"type":"boolean"}},"required":["zeta","mid"]}',
      json.encode(f.input_schema))
    assert.are.same({ "zeta", "alpha", "mid" }, json.keys(f.input_schema.properties))
    assert.are.equal("add", d.functions[1].name)
    assert.are.equal(10, #d.functions)
  end)

  it("parses LuaLS types", function()
    assert.are.same({ anyOf = { { type = "string" }, { type = "number" } } },
      interface.parse_type("string|number").schema)
    assert.is_true(interface.parse_type("string?").optional)
    assert.is_true(interface.parse_type("integer|nil").optional)
    assert.are.same({ type = "array", items = { type = "array", items = { type = "number" } } },
      interface.parse_type("number[][]").schema)
    assert.are.same({}, interface.parse_type("any").schema)
    assert.are.same({ ["x-lua-type"] = "seer.Tensor" }, interface.parse_type("seer.Tensor").schema)
  end)

  it("calls with positional and named arguments", function()
    assert.are.equal(5, iface:call("add", { 2, 3 }))
    assert.are.equal("hello ann", iface:call("greet", {}, { name = "ann" }))
    assert.are.equal("HELLO ANN", iface:call("greet", { "ann" }, { loud = true }))
    assert.are.equal(6, iface:call("sum", { { 1, 2, 3 } }))
    assert.is_nil(iface:call("noop", {}))
  end)

  it("checks arguments against the schema with clear errors", function()
    local e = call_err(iface, "add", { 1 })
    assert.are.equal("ArgumentError", e.type)
    assert.are.equal("add(a, b): missing argument 'b' (number)", e.message)
    e = call_err(iface, "add", { 1, "x" })
    assert.are.equal("add(a, b): argument 'b' must be number, got string \"x\"", e.message)
    e = call_err(iface, "add", { 1, 2, 3 })
    assert.are.equal("add(a, b) takes 2 arguments, got 3", e.message)
    e = call_err(iface, "greet", {}, { nme = "x" })
    assert.truthy(e.message:find("unknown argument 'nme'", 1, true))
    e = call_err(iface, "greet", { "a" }, { name = "b" })
    assert.truthy(e.message:find("both by position and by name", 1, true))
    e = call_err(iface, "sum", { { 1, 2.5 } })
    -- one checker (seer.schema) for interfaces and harness tools: it says which item is wrong
    assert.are.equal("sum(xs): argument 'xs' must be integer[], got array (xs[2]: expected integer, got number 2.5)",
      e.message)
    e = call_err(iface, "sum", { { a = 1 } })
    assert.are.equal("sum(xs): argument 'xs' must be integer[], got object", e.message)
    e = call_err(iface, "nope", {})
    assert.are.equal("MethodNotFound", e.type)
    assert.truthy(e.message:find("available: add, greet", 1, true))
  end)

  it("returns errors with the message and the Lua traceback", function()
    local e = call_err(iface, "fail", { "why" })
    assert.are.equal("RuntimeError", e.type)
    assert.truthy(e.message:find("basic.lua:%d+: failed on purpose: why"))
    assert.truthy(e.traceback:find("basic.lua", 1, true))
  end)

  it("keeps module state between calls", function()
    iface:call("add", { 1, 1 })
    iface:call("add", { 1, 1 })
    assert.are.equal(2, iface:call("count", {}))
  end)

  it("serialises calls into one interface", function()
    local r = task.gather(
      function() return iface:call("slow", { 0.03, "a" }) end,
      function() return iface:call("slow", { 0.01, "b" }) end,
      function() return iface:call("slow", { 0, "c" }) end)
    assert.are.same({ "a", "b", "c" }, r)
    -- if the calls had interleaved, the read-modify-write counter would have lost updates
    assert.are.equal(3, iface:call("count", {}))
  end)

  it("gives interfaces get_model_path and list_configured_models", function()
    assert.are.equal("/models/org--model", iface:call("model_path", { "org/model" }))
    assert.are.same({ "org/model" }, iface:call("models", {}))
    local e = call_err(iface, "model_path", { "other/model" })
    assert.truthy(e.message:find("model 'other/model' is not configured", 1, true))
    assert.truthy(e.message:find("configured: org/model", 1, true))
  end)

  it("reads SEER_MODELS from the environment by default", function()
    -- In a child with an environment of its own, so the test's environment cannot decide it.
    local code = [[
      local iface = require("seer.interface").load("tests/lua/fixtures/interfaces/basic.lua")
      local ok, e = pcall(iface.call, iface, "model_path", { "org/model" })
      io.write(ok and ("path=" .. tostring(e)) or ("error=" .. tostring(e.message or e)))]]
    local function run(env)
      local r = require("seer.process").run({ cmd = os.getenv("SEER_LUA_BIN") or arg[-1] or "seer-lua",
        args = { "-e", code }, env = env, timeout = 30 })
      assert.are.equal(0, r.code, r.stderr)
      return r.stdout
    end
    assert.matches("configured: none", run({ PATH = os.getenv("PATH") }))
    assert.are.equal("path=/models/org--model",
      run({ PATH = os.getenv("PATH"), SEER_MODELS = "org/model=/models/org--model" }))
  end)

  it("supports the programmatic expose(name, fn, meta)", function()
    local p = interface.load(dir .. "programmatic.lua")
    assert.are.equal(6, p:call("triple", { 2 }))
    assert.are.equal("Multiply by 2", p.by_name.double.description)
    assert.are.equal("number", p.by_name.double.params[1].spec.name)
    local e = call_err(p, "double", { "x" })
    assert.truthy(e.message:find("must be number", 1, true))
  end)

  it("reports load problems with file:line", function()
    local path = write_tmp("function expose.ok() return 1 end\n\nfunction expose.broken(\n  return 2\nend\n")
    local msg = load_err(path)
    assert.truthy(msg:find("syntax error in " .. path .. ":4:", 1, true), msg)
    os.remove(path)
    msg = load_err(dir .. "bad_param.lua")
    assert.truthy(msg:find("bad_param.lua:4: @param 'lenght' names no parameter of expose.truncate", 1, true), msg)
    assert.truthy(msg:find("its parameters: text, length", 1, true))
    msg = load_err(dir .. "no_exposed.lua")
    assert.truthy(msg:find("exposes no functions", 1, true))
    msg = load_err(dir .. "load_error.lua")
    assert.truthy(msg:find("load_error.lua:4:", 1, true), msg)
    msg = load_err(dir .. "missing.lua")
    assert.truthy(msg:find("missing.lua", 1, true))
  end)

  it("serves over seer.rpc: errors, bad results and state", function()
    local path = os.tmpname()
    os.remove(path)
    local srv = rpc.listen("unix:" .. path, iface)
    local c = rpc.connect(srv.address)
    assert.are.equal(5, c:call("add", 2, 3))
    assert.are.equal("HELLO X", c:call_named("greet", { name = "x", loud = true }))
    local ok, e = pcall(c.call, c, "add", 1)
    assert.is_false(ok)
    assert.are.equal("ArgumentError", e.type)
    ok, e = pcall(c.call, c, "bad_result")
    assert.is_false(ok)
    assert.are.equal("SerializationError", e.type)
    assert.truthy(e.message:find("bad_result", 1, true))
    ok, e = pcall(c.call, c, "fail", "x")
    assert.is_false(ok)
    assert.truthy(e.traceback:find("basic.lua", 1, true))
    assert.are.equal(2, c:call("count"))
    local d = c:describe()
    assert.are.equal("add", d.functions[1].name)
    assert.are.equal("seer-lua", d.server)
    c:close()
    srv:close()
  end)
end)
