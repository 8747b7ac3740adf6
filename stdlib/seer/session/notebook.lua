--- seer.session.notebook: `create_notebook_session(sandbox, workspace, opts)`, as in Seer. The
--- kernel runs in a notebook sandbox (seer.sandbox.kernel); this host side drives it as a Jupyter
--- client, preloads the sandbox's models into variables, installs the workspace's libraries and
--- skills, runs custom_init_code hidden, and keeps the notebook (.ipynb, nbformat 4.5) written
--- after every cell. The agent's tools are seer.session.notebook_mcp, over MCP.
local fs = require "seer.fs"
local json = require "seer.json"
local path = require "seer.path"
local kclient = require "seer.kernel.client"
local notebook = require "seer.kernel.notebook"

local M = {}

M.EXIT_GRACE = 0.5 -- seconds for a backend that cannot be pinged (Slurm) to give its exit reason
M.DEAD_WAIT = 30 -- seconds at most to learn why the kernel ended (the supervisor answers in ms)

---@class seer.NotebookSession
---@field notebook_path string
---@field mcp_config table
---@field model_info_text string
---@field jupyter_url string|nil the live notebook in Debian's Jupyter Notebook (nil: see jupyter_note)
---@field jupyter_note string|nil why there is no jupyter_url, and where the .ipynb is
local Session = {}
Session.__index = Session
M.Session = Session

-- Text of a cell's outputs for a raised error or a log line.
local function output_text(r)
  local parts = {}
  for _, o in ipairs(r.outputs) do
    if o.output_type == "stream" then parts[#parts + 1] = o.text
    elseif o.output_type == "execute_result" or o.output_type == "display_data" then
      parts[#parts + 1] = (o.data and o.data["text/plain"] or "") .. "\n"
    elseif o.output_type == "error" then
      parts[#parts + 1] = table.concat(o.traceback or { o.evalue }, "\n") .. "\n"
    end
  end
  return table.concat(parts)
end
M.output_text = output_text

--- Run code in the kernel. Visible code becomes a notebook cell (saved at once); `hidden = true`
--- runs it without a cell or an execution count. Returns {status, execution_count, outputs,
--- error, text}; raises "kernel died: ..." (e.g. "killed (out of memory ...)") if the sandbox ends.
---@param code string
---@param opts table? {hidden = bool, timeout = seconds}
function Session:exec(code, opts)
  opts = opts or {}
  local r = self.client:execute(code, { silent = opts.hidden, timeout = opts.timeout })
  r.text = output_text(r)
  if not opts.hidden then r.cell = self.notebook:add_code(code, r) end
  return r
end

--- Interrupt the running cell.
function Session:interrupt() self.client:interrupt() end

--- Stop the kernel (the sandbox stays up; terminate it separately).
function Session:close()
  if self.closed then return end
  self.closed = true
  pcall(self.client.shutdown, self.client, 2)
  pcall(self.client.close, self.client)
  if self.jupyter then pcall(self.jupyter.kill, self.jupyter, 15) end
end

-- Variable names a model is loaded into: var_name and, for the first, `tokenizer`.
local function preload_code(sandbox)
  local code, vars = {}, {}
  local entries = sandbox.backend.opts.models or {}
  for i, mc in ipairs(sandbox.config.models or {}) do
    local e = entries[i]
    if e and e.mount then
      local var = mc.var_name or "model"
      local tok = (var == "model") and "tokenizer" or (var .. "_tokenizer")
      code[#code + 1] = ("%s = seer.model.load(%q)\n%s = %s.tokenizer"):format(var, e.mount, tok, var)
      vars[#vars + 1] = { var = var, tok = tok, hidden = mc.hidden, name = mc.name }
    end
  end
  return table.concat(code, "\n"), vars
end

local INFO_CODE = [[
local m = %s
print(("architecture %%s, %%d layers, hidden size %%d, vocab %%d, dtype %%s"):format(
  tostring(m.architecture), m.num_layers, m.hidden_size, m.vocab_size, tostring(m.dtype)))]]

local function model_info(self, vars)
  local lines = {}
  for _, v in ipairs(vars) do
    local r = self.client:execute(INFO_CODE:format(v.var), { silent = true })
    local desc = output_text(r):gsub("\n$", "")
    local who = v.hidden and "A model" or ("The model %s"):format(v.name)
    lines[#lines + 1] = ("%s is loaded in the notebook as `%s` (%s), with its tokenizer as `%s`. "
      .. "Use model:forward(ids), model:generate(...), tokenizer:encode(text) and hooks to study it.")
      :format(who, v.var, desc, v.tok)
  end
  return table.concat(lines, "\n")
end


--- create_notebook_session(sandbox, workspace, opts): a live notebook whose kernel runs in the
--- sandbox. opts: notebook_name (default "notebook.ipynb"), workspace_dir (host directory for the
--- .ipynb; default a state directory), jupyter = false to skip the notebook server.
---@return seer.NotebookSession
function M.create(sandbox, workspace, opts)
  opts = opts or {}
  if not sandbox or not sandbox.kernel then
    error("create_notebook_session: the sandbox has no kernel; start it with SandboxConfig{execution_mode = "
      .. "\"notebook\"}", 3)
  end
  local Workspace = require("seer.workspace").Workspace
  local ws = workspace or Workspace({})
  if getmetatable(ws) ~= Workspace then ws = Workspace(ws) end
  local dir = opts.workspace_dir or path.join(require("seer.sandbox.state_dirs").create("seer-notebook"), "workspace")
  assert(fs.mkdir(dir))
  local kernel = sandbox.kernel
  local backend = sandbox.backend
  -- Why the kernel can no longer answer, or nil. When the kernel's process ends first, the
  -- sandbox may be ending it (an out-of-memory kill ends both, and the sandbox's reason is the
  -- one to give): the supervisor is asked, and either answers that the sandbox lives on (the
  -- kernel ended by itself) or says why the sandbox ended. A backend that cannot be asked gets
  -- EXIT_GRACE seconds for its reason to arrive.
  local ticket, exited_at
  local function dead()
    if backend.exit_reason then return backend.exit_reason end
    if not kernel.process.exited then return nil end
    if ticket == nil then
      -- No ticket from a backend that can be pinged: the sandbox is ending, its reason is coming.
      if backend.ping then ticket = backend:ping() or "ending" else ticket = false end
    end
    if ticket == "ending" then return nil end
    if ticket then
      if not backend:answered(ticket) then return nil end
    else
      exited_at = exited_at or require("seer.core").now()
      if require("seer.core").now() - exited_at < M.EXIT_GRACE then return nil end
    end
    local stderr = kernel.stderr()
    return "the kernel exited" .. (stderr ~= "" and (": " .. stderr:sub(-400)) or "")
  end
  local self = setmetatable({
    sandbox = sandbox, workspace_dir = dir, notebook_path = path.join(dir, opts.notebook_name or "notebook.ipynb"),
    connection_file = kernel.connection_file,
  }, Session)
  self.client = kclient.connect(kernel.connection, { dead = dead })
  -- The agent's tools run in another process (seer-lua kernel mcp): it learns why the kernel is
  -- gone from this file, which only the host can write (it holds the sandbox's exit reason).
  local function mark_dead()
    require("seer.task").spawn(function()
      local why = dead()
      local give_up = require("seer.core").now() + M.DEAD_WAIT -- a "does not hang" bound
      while not why and require("seer.core").now() < give_up do
        require("seer.task").sleep(0.02)
        why = dead()
      end
      if why then fs.write(self.notebook_path .. ".dead", why) end
    end)
  end
  backend:on_exit(mark_dead)
  kernel.on_exit(mark_dead)
  self.client:wait_ready(60)
  self.notebook = notebook.new(self.notebook_path)
  self.notebook:save()
  require("seer.workspace").install_in_sandbox(sandbox, ws)
  local init = self.client:execute('package.path = "/workspace/.seer/lib/?.lua;/workspace/.seer/lib/?/init.lua;" '
    .. '.. package.path', { silent = true })
  if init.status ~= "ok" then error("create_notebook_session: " .. output_text(init), 2) end
  local code, vars = preload_code(sandbox)
  if code ~= "" then
    local r = self.client:execute(code, { silent = true })
    if r.status ~= "ok" then
      error("create_notebook_session: loading the models failed: " .. (r.error and r.error.evalue or "?"), 2)
    end
  end
  self.model_info_text = model_info(self, vars)
  if ws.custom_init_code then
    local r = self.client:execute(ws.custom_init_code, { silent = true })
    if r.status ~= "ok" then
      error("create_notebook_session: custom_init_code failed: " .. (r.error and r.error.evalue or "?"), 2)
    end
  end
  self.mcp_config = {
    notebook = {
      command = require("seer.core").exe_path(),
      args = json.array({ "kernel", "mcp", "--connection", kernel.connection_file, "--notebook", self.notebook_path }),
      env = json.object({}),
    },
  }
  if opts.jupyter ~= false then
    local server, why = require("seer.session.jupyter_server").start({
      dir = path.join(sandbox.backend.state, "jupyter"), workspace_dir = dir,
      notebook_name = path.basename(self.notebook_path), connection = kernel.connection })
    if server then
      self.jupyter, self.jupyter_url = server.process, server.url
    else
      self.jupyter_note = ("%s; open %s in any Jupyter front end"):format(why, self.notebook_path)
      require("seer.log").warn("notebook", "%s", self.jupyter_note)
    end
  end
  if self.jupyter_url then
    local args = self.mcp_config.notebook.args
    args[#args + 1] = "--url"
    args[#args + 1] = self.jupyter_url
  end
  return self
end

return M
