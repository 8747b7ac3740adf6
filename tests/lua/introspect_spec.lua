-- seer.introspect: docs from the stdlib's LuaLS comments, the C modules' meta stubs, user files and
-- interface functions; completion and inspect as the REPL and the Jupyter kernel use them.
local introspect = require "seer.introspect"
local luadoc = require "seer.introspect.luadoc"
local tensor = require "seer.tensor"
local seer = require "seer"

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function names(r) return table.concat(r.matches, " ") end

describe("seer.introspect.luadoc", function()
  it("reads descriptions, params (optional ones too) and returns", function()
    local info = luadoc.parse(table.concat({
      "--- mod: a module.",
      "local M = {}",
      "",
      "--- Do a thing.",
      "--- Second line.",
      "---@param a integer the count",
      "---@param cb fun(x: integer): string called per item",
      "---@param opts table? options",
      "---@param b string | nil maybe",
      "---@return boolean ok",
      "---@return string? err what failed",
      "function M.f(a, cb, opts, b) end",
      "local function hidden() end",
      "function M._private() end",
      "return M",
    }, "\n"), "mod")
    assert.are.equal("mod: a module.", info.description)
    local f = info.by_name["mod.f"]
    assert.are.equal("mod.f(a, cb, opts?, b?) -> boolean, string?", f.signature)
    assert.are.equal("Do a thing.\nSecond line.", f.description)
    assert.are.same(
      { name = "cb", type = "fun(x: integer): string", optional = false, description = "called per item" },
      f.params[2])
    assert.is_true(f.params[3].optional)
    assert.are.equal("string | nil", f.params[4].type)
    assert.are.same({ type = "boolean", name = "ok" }, f.returns[1])
    assert.are.same({ type = "string?", description = "err what failed" }, f.returns[2])
    assert.is_true(f.public)
    assert.is_false(info.by_name["hidden"].public)
    assert.is_false(info.by_name["mod._private"].public)
  end)

  it("names classes from ---@class and lists their fields and methods", function()
    local info = luadoc.parse(table.concat({
      "---@meta seer.thing",
      "local M = {}",
      "---@class seer.Thing",
      "--- A thing.",
      "---@field size integer how big",
      "local Thing = {}",
      "--- Grow it.",
      "---@param by number",
      "function Thing:grow(by) end",
      "return M",
    }, "\n"), "ignored")
    assert.are.equal("seer.thing", info.module)
    local cls = info.classes["seer.Thing"]
    assert.are.equal("A thing.", cls.description)
    assert.are.same({ { name = "size", type = "integer", description = "how big" } }, cls.fields)
    assert.are.same({ "grow" }, cls.methods)
    assert.are.equal("seer.Thing:grow(by)", info.by_name["seer.Thing:grow"].signature)
  end)
end)

describe("seer.introspect.doc", function()
  it("documents stdlib Lua functions, also when re-exported", function()
    local d = introspect.doc(seer.spawn)
    assert.are.equal("seer.task.spawn", d.name)
    assert.truthy(d.signature:find("^seer%.task%.spawn%(fn, %.%.%.%)"))
    assert.truthy(d.description:find("Spawn a task", 1, true))
    assert.truthy(d.source:find("seer/task.lua:%d+$"))
  end)

  it("documents C functions and methods from the meta stubs", function()
    local d = introspect.doc(tensor.zeros)
    assert.are.equal("seer.tensor.zeros(shape, dtype?) -> seer.Tensor", d.signature)
    assert.are.equal("shape", d.params[1].name)
    local t = tensor.zeros({ 2, 3 })
    assert.are.equal("seer.Tensor:topk(k, dim?) -> seer.Tensor, seer.Tensor", introspect.doc(t.topk).signature)
    assert.are.equal("seer.json.encode", introspect.doc(seer.json.encode).name)
  end)

  it("every function of a C module with a meta stub is documented", function()
    for _, modname in ipairs({ "seer.tensor", "seer.fs", "seer.json", "seer.msgpack", "seer.tokenizer" }) do
      for k, v in pairs(require(modname)) do
        if type(v) == "function" then
          assert(introspect.doc(v), ("%s.%s has no doc: annotate it in stdlib/seer/meta/"):format(modname, k))
        end
      end
    end
    local reg = debug.getregistry()
    for _, cname in ipairs({ "seer.Tensor", "seer.Tokenizer" }) do
      local mt = reg[cname]
      local tables = { mt.methods }
      for i = 1, 8 do
        local _, v = debug.getupvalue(mt.__index, i)
        if type(v) == "table" then tables[#tables + 1] = v end
      end
      assert.is_true(#tables > 0)
      for _, tbl in ipairs(tables) do
        for k, v in pairs(tbl) do
          if type(v) == "function" then
            assert(introspect.doc(v), ("%s:%s has no doc: annotate it in stdlib/seer/meta/"):format(cname, k))
          end
        end
      end
    end
  end)

  it("looks names up in the docs, then in the environment", function()
    assert.are.equal("seer.Tensor:slice", introspect.doc("seer.Tensor:slice").name)
    assert.are.equal("seer.task.sleep", introspect.doc("seer.sleep").name)
    local m = introspect.doc("seer.fs")
    assert.is_true(m.module)
    assert.truthy(m.description:find("seer.fs.read(path)", 1, true))
    assert.are.equal("seer.fs", introspect.doc(seer.fs).name)
    assert.is_nil(introspect.doc("no.such.thing"))
    assert.is_nil(introspect.doc(function() end))
  end)

  it("documents functions from any readable Lua file by their doc comments", function()
    local path = os.tmpname() .. ".lua"
    write(path, "local M = {}\n--- Twice x.\n---@param x number\n---@return number\n"
      .. "function M.twice(x) return 2 * x end\nreturn M\n")
    local mod = dofile(path)
    local d = introspect.doc(mod.twice)
    os.remove(path)
    assert.are.equal("M.twice(x) -> number", d.signature)
    assert.are.equal("Twice x.", d.description)
  end)

  it("documents the functions of a loaded interface as the agent's side describes them", function()
    local iface = require("seer.interface").load("tests/lua/fixtures/interfaces/basic.lua",
      { models = { ["org/model"] = "/m" } })
    local d = introspect.doc(iface.by_name.greet.fn)
    assert.are.equal("expose.greet(name, loud?) -> string", d.signature)
    assert.are.equal("Greet someone, optionally loudly.", d.description)
    assert.are.equal("Who to greet", d.params[1].description)
    assert.truthy(introspect.format(d):find("\n  loud? boolean  Shout it\n", 1, true))
  end)

  it("documents the stubs of a served library from its data file", function()
    local docs = require "seer.sandbox.interface_docs"
    local description = { functions = {
      { name = "probe", description = "Probe a layer.", params = { { name = "layer", type = "integer", required = true,
        description = "which layer" } }, returns = { type = "number" } },
    } }
    local dir = require("seer.fs").tmpdir()
    for name, text in pairs(docs.library_files("probes", "127.0.0.1:1", description)) do
      write(dir .. "/" .. name, text)
    end
    local saved = package.path
    package.path = dir .. "/?.lua;" .. saved
    local ok, lib = pcall(require, "probes")
    package.path = saved
    package.loaded.probes = nil
    require("seer.fs").remove(dir)
    assert(ok, lib)
    local d = introspect.doc(lib.probe)
    assert.are.equal("probes.probe(layer) -> number", d.signature)
    assert.are.equal("which layer", d.params[1].description)
  end)
end)

describe("seer.introspect.complete", function()
  local env = { seer = seer, t = tensor.zeros({ 2 }), s = "text", answer = 42 }

  it("completes globals of the environment and keywords", function()
    local r = introspect.complete("x = ans", nil, env)
    assert.are.equal("answer", names(r))
    assert.are.equal(4, r.cursor_start)
    assert.are.equal(7, r.cursor_end)
    assert.are.equal("print", names(introspect.complete("prin", nil, env)))
    assert.are.equal("function", names(introspect.complete("functio", nil, env)))
  end)

  it("completes fields of tables, including lazily loaded submodules", function()
    local r = introspect.complete("seer.tens", nil, env)
    assert.are.equal("tensor", names(r))
    assert.are.equal(5, r.cursor_start)
    assert.are.equal("zeros", names(introspect.complete("seer.tensor.zer", nil, env)))
  end)

  it("completes methods and fields of userdata through their metatables and class docs", function()
    assert.are.equal("to topk totable", names(introspect.complete("t:to", nil, env)))
    assert.are.equal("shape size slice softmax squeeze sub sub_ sum", names(introspect.complete("t.s", nil, env)))
    assert.are.equal("upper", names(introspect.complete("s:up", nil, env)))
  end)

  it("completes module names inside require", function()
    local r = introspect.complete('local x = require "seer.ta', nil, env)
    assert.are.equal("seer.task", names(r))
    assert.are.equal(19, r.cursor_start)
    assert.are.equal("seer.tensor", names(introspect.complete("require('seer.tens", nil, env)))
  end)

  it("counts the cursor in code points and completes in the middle of a line", function()
    local code = 'x = "é"; seer.sle + 1'
    local r = introspect.complete(code, 17, env) -- after "seer.sle", with é one code point
    assert.are.equal("sleep", names(r))
    assert.are.equal(14, r.cursor_start)
    assert.are.equal(17, r.cursor_end)
  end)

  it("offers nothing for what it cannot resolve", function()
    assert.are.same({}, introspect.complete("nothing.here.", nil, env).matches)
    assert.are.same({}, introspect.complete("answer:", nil, env).matches)
  end)
end)

describe("seer.introspect.inspect", function()
  local env = { seer = seer, t = tensor.zeros({ 2 }), n = 3 }

  it("shows the doc of the name under the cursor or of the call it is in", function()
    local text = introspect.inspect("seer.sleep(1", nil, env, 0)
    assert.truthy(text:find("^seer%.task%.sleep%(s%)"))
    assert.are.equal(text, introspect.inspect("seer.sleep(1", 7, env, 0))
    assert.truthy(introspect.inspect("seer.sleep(1", 2, env, 0):find("^seer\n\nseer: the top%-level module"))
    assert.truthy(introspect.inspect("t:topk(3)", 4, env):find("^seer%.Tensor:topk"))
    assert.truthy(introspect.inspect("seer.sleep", nil, env, 1):find("Defined at .*task%.lua:%d+"))
  end)

  it("names the type and value of what has no doc, and nil for nothing", function()
    assert.are.equal("n: number 3", introspect.inspect("n + 1", 1, env))
    assert.is_nil(introspect.inspect("  ", 1, env))
    assert.is_nil(introspect.inspect("undefined_name", nil, env))
  end)
end)
