-- Helper of notebook_browser_test.py: a notebook sandbox with create_notebook_session and its
-- Jupyter Notebook server; prints the session's jupyter_url and notebook path, then keeps the
-- session up (the event loop running) until the file named by arg[1] appears (or 10 minutes).
local env = require "seer.environment"
local execution = require "seer.execution"
local task = require "seer.task"

local sb = env.Sandbox(env.SandboxConfig({ execution_mode = "notebook", memory = "512M", pids = 64 })):start()
local ok, session = pcall(execution.create_notebook_session, sb, { custom_init_code = "answer = 42" })
if not ok then
  sb:terminate()
  error(session, 0)
end
if not session.jupyter_url then
  io.stderr:write("no jupyter_url: ", tostring(session.jupyter_note), "\n")
  session:close()
  sb:terminate()
  os.exit(1)
end
-- The server's token (config), the kernel's key and kernelspec are its alone: 0600 files in 0700
-- directories, so no other user of the host reads them.
local jdir = require("seer.path").join(sb.backend.state, "jupyter")
for rel, want in pairs({ [""] = "700", config = "700", runtime = "700", ["kernel.key"] = "600",
                         ["config/jupyter_notebook_config.json"] = "600",
                         ["data/kernels/seer-lua/kernel.json"] = "600" }) do
  local p = require("seer.path").join(jdir, rel)
  local r = require("seer.process").run({ cmd = "/usr/bin/stat", args = { "-c", "%a", p } })
  local got = (r.stdout or ""):gsub("%s+$", "")
  if got ~= want then
    io.stderr:write(("%s has mode %s, not %s\n"):format(p, got, want))
    session:close()
    sb:terminate()
    os.exit(1)
  end
end
-- A cell written by the host before the browser opens the notebook.
session:exec("print('from the host')")
io.write("URL ", session.jupyter_url, "\n", "NOTEBOOK ", session.notebook_path, "\n")
io.stdout:flush()
local stop, deadline = arg[1], require("seer.core").now() + 600
while not require("seer.fs").exists(stop) and require("seer.core").now() < deadline do task.sleep(0.1) end
session:close()
sb:terminate()
