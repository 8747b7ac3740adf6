-- The notebook file shared by two writers (a notebook session's host and its MCP process): cells
-- appended by concurrent processes all survive, the file stays valid JSON, and fs.lock refuses a
-- lock path that is a symlink.
local fs = require "seer.fs"
local json = require "seer.json"
local path = require "seer.path"
local process = require "seer.process"
local notebook = require "seer.kernel.notebook"
local core = require "seer.core"

local LUA = os.getenv("SEER_LUA_BIN") or core.exe_path()

describe("seer.kernel.notebook", function()
  local dir
  before_each(function() dir = assert(fs.tmpdir("seer-nb")) end)
  after_each(function() fs.remove(dir) end)

  it("keeps every cell two processes append at once (read-modify-write under a lock)", function()
    local nb_path = path.join(dir, "n.ipynb")
    notebook.new(nb_path):save()
    local script = path.join(dir, "writer.lua")
    assert(fs.write(script, [[
      local nb = require("seer.kernel.notebook").load(arg[1])
      for i = 1, 40 do nb:add_code(arg[2] .. i, { execution_count = i, outputs = {} }) end]]))
    local procs = {}
    for _, who in ipairs({ "a", "b", "c" }) do
      procs[#procs + 1] = process.spawn({ cmd = LUA, args = { script, nb_path, who },
                                          on_stdout = function() end, on_stderr = function() end })
    end
    for _, p in ipairs(procs) do
      local status = p:wait()
      assert.equals(0, status.code)
    end
    local doc = json.decode(assert(fs.read(nb_path)))
    assert.equals(120, #doc.cells)
    local seen = {}
    for _, c in ipairs(doc.cells) do seen[table.concat(c.source)] = true end
    for _, who in ipairs({ "a", "b", "c" }) do
      for i = 1, 40 do assert.is_true(seen[who .. i], who .. i) end
    end
  end)

  it("never takes a lock through a symlink", function()
    local target = path.join(dir, "elsewhere")
    assert(fs.write(target, "x"))
    assert(process.run({ cmd = "ln", args = { "-s", target, path.join(dir, "l.lock") } }).ok)
    local lock, err = fs.lock(path.join(dir, "l.lock"))
    assert.is_nil(lock)
    assert.matches("cannot lock", err)
    lock = assert(fs.lock(path.join(dir, "ok.lock")))
    lock:unlock()
    lock:unlock() -- twice is harmless
  end)
end)
