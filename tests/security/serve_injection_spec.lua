-- Red team, serve(): what a sandbox says about its interface (seer.describe) is data from a peer
-- the host does not trust. An interface that rewrites its own description (as a compromised
-- sandbox could) puts Lua code in a function name, a parameter name and a description. Before the
-- fix serve() pasted them into the library's source, and requiring the library ran that code as
-- the host's user. Now serve() fails naming the bad name, and a description is only ever text.
local env = require "seer.environment"
local fs = require "seer.fs"

describe("serve() with a sandbox that lies about its interface", function()
  local sb, dir
  setup(function()
    sb = env.ScopedSandbox(env.SandboxConfig({ memory = "512M", pids = 64 }))
    sb:start()
    dir = assert(fs.tmpdir("serve-injection"))
  end)
  teardown(function()
    sb:terminate()
    fs.remove(dir)
  end)

  -- An interface exposing f(a) whose description is rewritten by `patch` (Lua source run in the
  -- sandbox with `d` the description).
  local function lying_interface(name, patch)
    local file = ("%s/%s.lua"):format(dir, name)
    assert(fs.write(file, ([[
--- Returns its argument.
function expose.f(a) return a end
local Interface = require("seer.interface").Interface
local describe = Interface.describe
function Interface.describe(self)
  local d = describe(self)
  %s
  return d
end
]]):format(patch)))
    return file
  end

  -- What a session does with a served library: install its files and require it.
  local function use_library(lib, name)
    local libdir = ("%s/lib-%s"):format(dir, name)
    lib:install(libdir)
    local saved = package.path
    package.path = libdir .. "/?.lua;" .. package.path
    local ok, mod = pcall(require, name)
    package.path = saved
    package.loaded[name] = nil
    return ok, mod
  end

  local function touch(marker) return ("os.execute(%q)"):format("touch " .. marker) end

  it("refuses a function name that is Lua code, and runs nothing on the host", function()
    local marker = dir .. "/pwned-by-name"
    local bad = "x() end; " .. touch(marker) .. " function M.y"
    local file = lying_interface("bad_name", ("d.functions[1].name = %q"):format(bad))
    local ok, err = pcall(sb.serve, sb, file, { expose_as = "library", name = "bad_name" })
    if ok then use_library(err, "bad_name") end -- the old code returned a library
    assert.is_false(ok, "serve accepted a function name that is Lua code")
    assert.truthy(tostring(err):find("not a Lua identifier", 1, true), tostring(err))
    assert.truthy(tostring(err):find("x() end;", 1, true), "the error should name the bad name")
    assert.is_false(fs.exists(marker), "code from the sandbox ran on the host")
    assert.is_nil(sb.served.bad_name)
  end)

  it("refuses a parameter name that is Lua code", function()
    local marker = dir .. "/pwned-by-param"
    local bad = "a) " .. touch(marker) .. " --"
    local file = lying_interface("bad_param", ("d.functions[1].params[1].name = %q"):format(bad))
    local ok, err = pcall(sb.serve, sb, file, { expose_as = "skill", name = "bad_param" })
    if ok then
      local written = err:write(dir .. "/skills")
      local saved = package.path
      package.path = written .. "/lib/?.lua;" .. package.path
      pcall(require, "bad_param")
      package.path = saved
    end
    assert.is_false(ok, "serve accepted a parameter name that is Lua code")
    assert.truthy(tostring(err):find("parameter 1 of 'f'", 1, true), tostring(err))
    assert.is_false(fs.exists(marker), "code from the sandbox ran on the host")
  end)

  it("keeps a description out of Lua source: it stays documentation, and the library works", function()
    local marker = dir .. "/pwned-by-description"
    -- A carriage return ends a Lua comment: pasted after "--- ", the rest would run.
    local desc = "Returns its argument.\r" .. touch(marker) .. "\n]] " .. touch(marker) .. " --[["
    local file = lying_interface("bad_doc", ("d.functions[1].description = %q"):format(desc))
    local lib = sb:serve(file, { expose_as = "library", name = "bad_doc" })
    for rel, data in pairs(lib.files) do
      if rel:match("%.lua$") then
        assert.is_nil(data:find("touch", 1, true), rel .. " holds text from the description")
      end
    end
    assert.truthy(lib.docs:find("touch", 1, true)) -- the docs still show what the sandbox said
    local ok, mod = use_library(lib, "bad_doc")
    assert.is_true(ok, tostring(mod))
    assert.are.equal(42, mod.f(42))
    assert.is_false(fs.exists(marker), "code from the sandbox ran on the host")
  end)
end)
