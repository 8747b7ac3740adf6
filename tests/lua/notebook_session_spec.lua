-- A notebook session end to end: a notebook sandbox (its kernel inside, on ipc sockets in the
-- sandbox's run directory) with a fixture model, create_notebook_session preloading it, cells with
-- output, errors and display, the .ipynb validated by Debian's nbformat after every step, and a
-- cell that exhausts memory reported as the sandbox's out-of-memory kill.
local env = require "seer.environment"
local execution = require "seer.execution"
local fs = require "seer.fs"
local path = require "seer.path"
local seer = require "seer"

local function make_hf_cache()
  local cache = assert(fs.tmpdir("seer-hf"))
  local repo = path.join(cache, "models--test-org--tiny-llama")
  local snap = path.join(repo, "snapshots", "abc123")
  assert(fs.mkdir(snap))
  assert(fs.mkdir(path.join(repo, "refs")))
  assert(fs.write(path.join(repo, "refs", "main"), "abc123"))
  local src = path.join(os.getenv("SEER_FIXTURES"), "models", "llama")
  for _, f in ipairs({ "config.json", "model.safetensors" }) do
    assert(fs.write(path.join(snap, f), assert(fs.read(path.join(src, f)))))
  end
  return cache
end

local function validate(nb)
  local r = seer.process.run({ cmd = "/usr/bin/python3", args = { "-c",
    "import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], as_version=4)); print('valid')", nb } })
  assert.is_true(r.ok, (r.stderr or "") .. (r.stdout or ""))
end

describe("notebook session", function()
  local sb, session, cache
  setup(function()
    cache = make_hf_cache()
    require("seer.hf_cache").cache_dir = function() return cache end
    sb = env.Sandbox(env.SandboxConfig({
      execution_mode = "notebook", memory = "256M", pids = 64,
      models = { env.ModelConfig({ name = "test-org/tiny-llama" }) },
    })):start()
    session = execution.create_notebook_session(sb, { custom_init_code = "greeting = 'hello from init'" },
      { jupyter = false })
  end)
  teardown(function()
    if session then session:close() end
    if sb then sb:terminate() end
    if cache then fs.remove(cache) end
  end)

  it("describes the preloaded model", function()
    assert.matches("test%-org/tiny%-llama", session.model_info_text)
    assert.matches("`model`", session.model_info_text)
    assert.matches("layers", session.model_info_text)
    validate(session.notebook_path)
  end)

  it("keeps the host off paths the sandbox controls (the kernel connects out to a host-bound broker)", function()
    -- The host's clients connect in a host-only directory, not in the sandbox's /run/seer.
    local conn = require("seer.json").decode(assert(fs.read(session.connection_file)))
    assert.equals("ipc", conn.transport)
    assert.is_nil(conn.ip:find(sb.backend.run_dir, 1, true))
    assert.is_nil(conn.ip:find(sb.backend.iface_dir, 1, true))
    -- and the kernel's side of the broker cannot be swapped for a symlink from inside.
    local sock = "/run/seer/iface/private/kernel-1"
    assert.equals(0, sb:run({ "/usr/bin/test", "-S", sock }).code)
    local r = sb:run({ "/bin/sh", "-c", ("ln -sf /run/seer/x %s || rm -f %s"):format(sock, sock) })
    assert.is_not.equals(0, r.code)
    assert.equals("other", fs.kind(sb.backend:private_iface_path("kernel-1")))
    assert.is_nil(fs.readlink(sb.backend:private_iface_path("kernel-1")))
  end)

  it("keeps the kernel's key and sockets from other users of the host", function()
    -- The HMAC key lets whoever reads it run code in the kernel: the host's connection file is
    -- 0600 in a 0700 directory, the kernel got its copy on stdin (no file in the sandbox), and
    -- both sides of the broker are in 0700 directories, the kernel's owned by the sandbox's uid.
    local function stat(fmt, p)
      local r = seer.process.run({ cmd = "/usr/bin/stat", args = { "-c", fmt, p } })
      assert.is_true(r.ok, r.stderr)
      return (r.stdout:gsub("%s+$", ""))
    end
    local conn = require("seer.json").decode(assert(fs.read(session.connection_file)))
    assert.equals("600", stat("%a", session.connection_file))
    assert.equals("700", stat("%a", path.dirname(session.connection_file)))
    assert.equals("700", stat("%a", path.dirname(conn.ip)))
    local private = path.dirname(sb.backend:private_iface_path("kernel-1"))
    assert.equals("700", stat("%a", private))
    assert.equals(stat("%u", sb.backend.run_dir), stat("%u", private)) -- the sandbox's uid
    assert.is_false(fs.exists(sb.backend:iface_path("kernel.json")))
    assert.equals(0, sb:run({ "/bin/sh", "-c", "! ls /run/seer/iface/*.json 2>/dev/null" }).code)
    -- Another user: nobody reads the key or reaches either side's sockets.
    for _, p in ipairs({ session.connection_file, private .. "/kernel-1", conn.ip .. "-1" }) do
      local r = seer.process.run({ cmd = "/usr/bin/setpriv", args = { "--reuid=65534", "--regid=65534",
        "--clear-groups", "/usr/bin/test", "-e", p } })
      assert.equals(1, r.code, p .. " is reachable by another user")
    end
  end)

  it("runs cells with output and values, and writes each to the notebook", function()
    local r = session:exec("print(greeting)\nmodel.num_layers")
    assert.equals("ok", r.status)
    assert.equals(1, r.execution_count)
    assert.equals("stream", r.outputs[1].output_type)
    assert.equals("hello from init\n", r.outputs[1].text)
    assert.equals("execute_result", r.outputs[2].output_type)
    local cfg = require("seer.json").decode(assert(fs.read(path.join(os.getenv("SEER_FIXTURES"), "models", "llama",
      "config.json"))))
    assert.equals(tostring(cfg.num_hidden_layers), r.outputs[2].data["text/plain"])
    local hidden = session:exec("secret = 42", { hidden = true })
    assert.equals("ok", hidden.status)
    r = session:exec("error('on purpose')")
    assert.equals("error", r.status)
    assert.matches("on purpose", r.error.evalue)
    r = session:exec("display(seer.tensor.from({1, 2, 3}))\nsecret")
    assert.equals("ok", r.status)
    assert.matches("<table", r.outputs[1].data["text/html"])
    assert.equals("42", r.outputs[2].data["text/plain"])
    validate(session.notebook_path)
    local nb = require("seer.json").decode(assert(fs.read(session.notebook_path)))
    assert.equals(3, #nb.cells)
    assert.equals(4, nb.nbformat)
    assert.equals(5, nb.nbformat_minor)
    assert.equals("seer-lua", nb.metadata.kernelspec.name)
    assert.equals(3, nb.cells[3].execution_count)
  end)

  it("gives the agent Seer's notebook tools over MCP (session.mcp_config)", function()
    local json = require "seer.json"
    local c = require("seer.mcp.client").start("notebook", session.mcp_config.notebook)
    local names = {}
    for _, t in ipairs(c.tools) do names[#names + 1] = t.name end
    table.sort(names)
    assert.same({ "add_markdown", "attach_to_session", "edit_cell", "execute_code", "server_status",
                  "shutdown_session", "start_new_session" }, names)
    local started = c:call_tool("start_new_session", {})
    local sid = started.structuredContent.session_id
    assert.equals(session.notebook_path, started.structuredContent.notebook_path)
    local r = c:call_tool("execute_code", { session_id = sid, code = "x = 6 * 7\nprint('agent')\nx" })
    assert.is_not_true(r.isError)
    local head = json.decode(r.content[1].text)
    assert.equals("agent\n", head.outputs[1].text)
    assert.equals("42", head.outputs[2].data["text/plain"])
    r = c:call_tool("execute_code", { session_id = sid,
      code = "display(setmetatable({}, {__repr_png = function() return '\\137PNG fake' end}))" })
    assert.equals("image", r.content[2].type)
    assert.equals("image/png", r.content[2].mimeType)
    r = c:call_tool("add_markdown", { session_id = sid, content = "# Findings" })
    assert.is_number(r.structuredContent.cell_number)
    r = c:call_tool("edit_cell", { session_id = sid, code = "x + 1", cell_index = -1 })
    assert.equals("43", json.decode(r.content[1].text).outputs[1].data["text/plain"])
    validate(session.notebook_path)
    local nb = json.decode(assert(fs.read(session.notebook_path)))
    assert.equals("# Findings", table.concat(nb.cells[#nb.cells].source))
    assert.equals("x + 1", table.concat(nb.cells[#nb.cells - 1].source))
    -- the host's own cells and the agent's share one notebook
    assert.equals("print(greeting)\nmodel.num_layers", table.concat(nb.cells[1].source))
    session.mcp_client, session.mcp_sid = c, sid
  end)

  it("interrupts a running model forward in the sandbox (exec's timeout sends interrupt_request)", function()
    local rows = session:exec("rows = {} for b = 1, 8 do rows[b] = {} "
      .. "for t = 1, 512 do rows[b][t] = (b * 7 + t * 13) % 500 + 3 end end", { hidden = true })
    assert.equals("ok", rows.status)
    -- Hours of forwards; each takes long enough that the interrupt finds the C forward running.
    local r = session:exec("for i = 1, 100000 do model:forward(rows, {logits = false}) end", { timeout = 1 })
    assert.equals("error", r.status)
    assert.equals("KeyboardInterrupt", r.error.ename)
    assert.matches("forward interrupted %a+ layer %d", r.error.evalue) -- the C forward stopped itself
    assert.equals("ok", session:exec("model.num_layers", { hidden = true }).status)
  end)

  it("reports a cell that exhausts memory as the sandbox's out-of-memory kill", function()
    local ok, err = pcall(session.exec, session, "local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end")
    assert.is_false(ok)
    assert.matches("kernel died: killed %(out of memory", tostring(err))
    -- and the agent's execute_code says so as a tool error
    local r = session.mcp_client:call_tool("execute_code", { session_id = session.mcp_sid, code = "1" })
    assert.is_true(r.isError)
    assert.matches("killed %(out of memory", r.content[1].text)
    session.mcp_client:close()
  end)
end)

-- Why the kernel ended, told apart without a race: a kernel that exits by itself while its sandbox
-- lives on, and a kernel whose sandbox ends it but says so late (a loaded host: the supervisor is
-- frozen here for longer than any grace period once was).
describe("notebook session: a kernel that ends", function()
  local task = require "seer.task"
  local function signal(sig, pid)
    assert.is_true(seer.process.run({ cmd = "/bin/kill", args = { "-" .. sig, tostring(pid) } }).ok)
  end
  local function notebook_sandbox()
    local sb = env.Sandbox(env.SandboxConfig({ execution_mode = "notebook", memory = "256M", pids = 64 })):start()
    return sb, execution.create_notebook_session(sb, nil, { jupyter = false })
  end

  it("by itself: the sandbox lives on and says so, and the session reports the kernel's exit", function()
    local sb, session = notebook_sandbox()
    local ok, err = pcall(session.exec, session, "io.stderr:write('bye\\n') os.exit(3)")
    assert.is_false(ok)
    assert.matches("kernel died: the kernel exited", tostring(err))
    assert.is_nil(sb.backend.exit_reason)
    session:close()
    sb:terminate()
  end)

  it("by its sandbox, whose reason comes late: the sandbox's reason is the one given", function()
    local sb, session = notebook_sandbox()
    local supervisor, kernel = tonumber(sb.backend.pid), sb.kernel.process.pid
    assert.equals("ok", session:exec("1", { hidden = true }).status)
    task.spawn(function()
      task.sleep(0.2)
      signal("STOP", supervisor) -- it can neither answer nor report now
      signal("KILL", kernel)
      task.sleep(1.5)
      signal("KILL", supervisor) -- the sandbox ends: "killed (signal 9)"
    end)
    local ok, err = pcall(session.exec, session, "while true do end")
    assert.is_false(ok)
    assert.matches("kernel died: killed %(signal 9%)", tostring(err))
    session:close()
    sb:terminate()
  end)
end)
