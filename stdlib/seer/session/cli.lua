--- seer.session.cli: `create_cli_session(sandbox, workspace)`, as in Seer: the agent works in the
--- sandbox through a shell and seer-lua. `exec(code)` runs Lua with seer-lua and `exec_shell(cmd)`
--- a shell command, each a fresh process in /workspace (files persist between them; the models
--- are mounted as the sandbox mounts them). The agent's tools are the same two functions, written
--- as an interface file and served over the project's RPC on a host-only socket, which
--- `seer-lua mcp --connect` turns into MCP tools (`session.mcp_config`).
local fs = require "seer.fs"
local path = require "seer.path"
local core = require "seer.core"
local json = require "seer.json"

local M = {}

M.DEFAULT_TIMEOUT = 600 -- seconds a command may run unless the call says otherwise
M.MAX_OUTPUT = 256 * 1024 -- bytes of each stream kept per command

---@class seer.CliSession
---@field mcp_config table for run_agent: the server "cli" with the tools exec and exec_shell
---@field model_info_text string where the sandbox's models are and how to load them
local Session = {}
Session.__index = Session
M.Session = Session

-- The workspace's libraries come first on package.path (";;" is the default path).
local LIB_PATH = "/workspace/.seer/lib/?.lua;/workspace/.seer/lib/?/init.lua;;"

-- The agent's tools: this file is served with the functions below as globals.
local INTERFACE = [[
--- Run Lua code with seer-lua in the sandbox (a fresh process in /workspace; `seer` is loaded,
--- models are at the paths in model_info). Returns the output and the exit status.
---@param code string Lua source
---@param timeout integer? seconds before it is killed (default 600)
---@return string
function expose.exec(code, timeout) return cli_exec(code, timeout) end

--- Run a shell command in the sandbox (/bin/sh -c, in /workspace). Returns the output and the
--- exit status.
---@param command string the command line
---@param timeout integer? seconds before it is killed (default 600)
---@return string
function expose.exec_shell(command, timeout) return cli_exec_shell(command, timeout) end
]]

-- The result as the agent reads it: output, then how the process ended.
local function report(r)
  local parts = {}
  if r.stdout ~= "" then parts[#parts + 1] = r.stdout end
  if r.stderr ~= "" then parts[#parts + 1] = "[stderr]\n" .. r.stderr end
  if r.timed_out then
    parts[#parts + 1] = "[timed out: killed]"
  elseif r.signal_name then
    parts[#parts + 1] = ("[killed by %s]"):format(r.signal_name)
  else
    parts[#parts + 1] = ("[exit code %s]"):format(tostring(r.code))
  end
  if r.note then parts[#parts + 1] = "[" .. r.note .. "]" end
  return table.concat(parts, "\n")
end

local function run(self, argv, timeout)
  if timeout ~= nil and (type(timeout) ~= "number" or timeout <= 0) then
    error("timeout must be a positive number of seconds", 0)
  end
  local r = self.sandbox:run(argv, { cwd = "/workspace", timeout = timeout or M.DEFAULT_TIMEOUT,
                                     max_output = M.MAX_OUTPUT, env = { LUA_PATH = LIB_PATH } })
  r.text = report(r)
  return r
end

--- Run Lua code with seer-lua in the sandbox (a fresh process in /workspace). Returns the run's
--- result (stdout, stderr, code, timed_out, ...) with `text`, what the agent's tool shows.
---@param code string
---@param opts table? {timeout = seconds}
---@return table
function Session:exec(code, opts)
  if type(code) ~= "string" then error("cli session: exec needs Lua source (a string)", 2) end
  return run(self, { "/.seer/seer-lua", "-l", "seer", "-e", code }, (opts or {}).timeout)
end

--- Run a shell command in the sandbox (/bin/sh -c, in /workspace); the result as for exec.
---@param command string
---@param opts table? {timeout = seconds}
---@return table
function Session:exec_shell(command, opts)
  if type(command) ~= "string" then error("cli session: exec_shell needs a command line (a string)", 2) end
  return run(self, { "/bin/sh", "-c", command }, (opts or {}).timeout)
end

--- Stop serving the agent's tools (the sandbox stays up; terminate it separately).
function Session:close()
  if self.server then self.server:close() end
  self.server = nil
end


local function model_info(sandbox)
  local lines = {}
  local entries = sandbox.backend.opts.models or {}
  for i, mc in ipairs(sandbox.config.models or {}) do
    local e = entries[i]
    if e and e.mount then
      local who = mc.hidden and "A model" or ("The model " .. mc.name)
      lines[#lines + 1] = ("%s is at %s in the sandbox: `local model = seer.model.load(%q)` in exec "
        .. "(model.tokenizer is its tokenizer)."):format(who, e.mount, e.mount)
    end
  end
  lines[#lines + 1] = "Files in /workspace persist between commands; each exec or exec_shell is a new process."
  return table.concat(lines, "\n")
end

--- create_cli_session(sandbox, workspace): shell and Lua execution in a running sandbox, with
--- `mcp_config` for run_agent (tools exec and exec_shell) and `model_info_text`. The workspace's
--- libraries go under /workspace/.seer/lib (on `package.path` in exec), its skills under
--- /workspace/.claude/skills; custom_init_code runs once, as Lua, before the session is returned.
---@param sandbox table a started seer.environment Sandbox
---@param workspace table? a seer.workspace Workspace (or its options)
---@return seer.CliSession
function M.create(sandbox, workspace)
  if type(sandbox) ~= "table" or sandbox.state ~= "running" then
    error("create_cli_session: pass a started Sandbox (Sandbox(SandboxConfig{...}):start())", 3)
  end
  local Workspace = require("seer.workspace").Workspace
  local ws = workspace or Workspace({})
  if getmetatable(ws) ~= Workspace then ws = Workspace(ws) end
  require("seer.workspace").install_in_sandbox(sandbox, ws)
  local self = setmetatable({ sandbox = sandbox }, Session)
  if ws.custom_init_code then
    local r = self:exec(ws.custom_init_code)
    if r.code ~= 0 then error("create_cli_session: custom_init_code failed: " .. r.text, 2) end
  end
  self.model_info_text = model_info(sandbox)
  -- The tools, served on a host-only socket with a token (the MCP process gets it in its env).
  local dir = path.join(sandbox.backend.state, "cli")
  assert(fs.mkdir(dir))
  assert(fs.chmod(dir, tonumber("700", 8)))
  local iface_file = path.join(dir, "cli_tools.lua")
  assert(fs.write(iface_file, INTERFACE))
  local iface = require("seer.interface").load(iface_file, { models = {}, globals = {
    cli_exec = function(code, timeout) return self:exec(code, { timeout = timeout }).text end,
    cli_exec_shell = function(command, timeout) return self:exec_shell(command, { timeout = timeout }).text end,
  } })
  local token = require("seer.kernel.message").random_hex(32)
  local sock = path.join(dir, "tools.sock")
  self.server = require("seer.rpc").listen("unix:" .. sock, iface, { token = token, keep_alive = false })
  sandbox.backend:on_exit(function() self:close() end)
  self.mcp_config = {
    cli = {
      command = core.exe_path(),
      args = json.array({ "mcp", "--connect", "unix:" .. sock, "--name", "cli", "--call-timeout", "inf" }),
      env = json.object({ SEER_RPC_TOKEN = token }),
    },
  }
  return self
end

return M
