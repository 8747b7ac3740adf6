-- seer.process: exit codes, signals, output collection and streaming, stdin, env, cwd, timeouts.
local seer = require "seer"
local process = require "seer.process"

describe("seer.process", function()
  it("collects output and the exit code", function()
    local r = process.run({ cmd = "sh", args = { "-c", "echo out; echo err >&2; exit 3" } })
    assert.are.equal(3, r.code)
    assert.are.equal("out\n", r.stdout)
    assert.are.equal("err\n", r.stderr)
    assert.is_false(r.ok)
    assert.is_nil(r.signal)
  end)

  it("reports a terminating signal", function()
    local r = process.run({ cmd = "sh", args = { "-c", "kill -TERM $$" } })
    assert.are.equal(15, r.signal)
    assert.is_nil(r.code)
    assert.is_string(r.signal_name)
  end)

  it("feeds stdin and passes env and cwd", function()
    local r = process.run({ cmd = "sh", args = { "-c", "cat; echo \"$FOO\"; pwd" }, stdin = "in\n",
                            env = { FOO = "bar", PATH = os.getenv("PATH") }, cwd = "/tmp" })
    assert.are.equal("in\nbar\n/tmp\n", r.stdout)
  end)

  it("kills on timeout", function()
    local t0 = require("seer.core").now()
    local r = process.run({ cmd = "sleep", args = { "10" }, timeout = 0.1 })
    assert.is_true(r.timed_out)
    assert.are.equal(9, r.signal)
    assert.is_true(require("seer.core").now() - t0 < 2)
  end)

  it("streams lines while the process runs", function()
    local p = process.spawn({ cmd = "sh", args = { "-c", "for i in 1 2 3; do echo line$i; sleep 0.01; done" },
                              stream = true })
    local lines = {}
    for line in p:lines() do lines[#lines + 1] = line end
    assert.are.same({ "line1", "line2", "line3" }, lines)
    assert.are.equal(0, p:wait().code)
  end)

  it("talks to a process over a stdin pipe", function()
    local p = process.spawn({ cmd = "cat", stdin = true, stream = true })
    p:write("ping\n")
    assert.are.equal("ping\n", p:read())
    p:close_stdin()
    assert.is_nil(p:read())
    assert.is_true(p:wait().ok)
  end)

  it("runs processes concurrently from tasks", function()
    -- The first waits for a file that only the second creates: run one after the other, the first
    -- would time out.
    local flag = os.tmpname()
    os.remove(flag)
    local r = seer.gather(
      function()
        return process.run({ cmd = "sh", args = { "-c", 'while [ ! -e "$0" ]; do sleep 0.01; done; echo saw', flag },
                             timeout = 10 }).stdout
      end,
      function() seer.sleep(0.05) return process.run({ cmd = "touch", args = { flag } }).ok end)
    os.remove(flag)
    assert.are.same({ "saw\n", true }, r)
  end)

  it("gives clear errors for bad input", function()
    assert.has_error(function() process.run({ cmd = "definitely-not-a-program-xyz" }) end,
      "seer.process: cannot start 'definitely-not-a-program-xyz': no such file or directory")
    local ok, err = pcall(process.run, { cmd = "ls", bogus = 1 })
    assert.is_false(ok)
    assert.matches("unknown option 'bogus'", err)
  end)
end)
