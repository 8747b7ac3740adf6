--- seer.session.notebook_mcp: the agent's notebook tools over MCP, with the names and result
--- shapes of Seer's notebook server (scribe) so prompts written for Seer work: start_new_session,
--- attach_to_session, execute_code (images as MCP image content), add_markdown, edit_cell,
--- shutdown_session, server_status. `seer-lua kernel mcp --connection FILE --notebook PATH` serves
--- them on stdio for one notebook session (create_notebook_session's mcp_config starts it).
local json = require "seer.json"
local fs = require "seer.fs"
local tools = require "seer.mcp.tools"
local kclient = require "seer.kernel.client"
local notebook = require "seer.kernel.notebook"

local M = {}

local MAX_TEXT = 64 * 1024 -- characters of text output per cell given back to the agent

-- Seer's output list: {type = "stream"|"execute_result"|"display_data"|"error", ...}; images go
-- separately as MCP image content.
local function agent_outputs(outputs)
  local list, images = {}, {}
  for _, o in ipairs(outputs) do
    local t = o.output_type
    if t == "stream" then
      list[#list + 1] = { type = "stream", name = o.name, text = o.text:sub(1, MAX_TEXT) }
    elseif t == "error" then
      list[#list + 1] = { type = "error", ename = o.ename, evalue = o.evalue, traceback = o.traceback }
    else
      local data = o.data or {}
      for _, mime in ipairs({ "image/png", "image/jpeg" }) do
        if data[mime] then images[#images + 1] = { type = "image", data = data[mime], mimeType = mime } end
      end
      list[#list + 1] = { type = t, data = { ["text/plain"] = (data["text/plain"] or ""):sub(1, MAX_TEXT) } }
    end
  end
  return json.array(list), images
end

local function result(head, images)
  local content = { { type = "text", text = json.encode(head) } }
  for _, img in ipairs(images) do content[#content + 1] = img end
  return tools.result({ content = content, structured = head })
end

--- The tool registry for one notebook. `state`: {client = seer.kernel.Client, notebook =
--- seer.kernel.Notebook, session_id = string, url = string|nil}.
---@return seer.mcp.Registry
function M.registry(state)
  local reg = tools.new()
  local sid_schema = { type = "string", description = "The session ID returned by start_new_session" }
  local function check_session(args)
    if args.session_id ~= nil and args.session_id ~= state.session_id then
      error(("no session '%s' (this server has '%s')"):format(tostring(args.session_id), state.session_id), 0)
    end
    if state.shut_down then error("the session was shut down", 0) end
  end
  local function started(status)
    return { session_id = state.session_id, kernel_id = state.session_id, status = status,
             notebook_path = state.notebook.path, vscode_url = state.url or json.null, kernel_name = "seer-lua" }
  end
  reg:add({ name = "start_new_session",
    description = "Start the notebook session (its kernel already runs in the sandbox, with the model loaded); "
      .. "returns its session_id.",
    input_schema = { type = "object", properties = { experiment_name = { type = "string" } } },
    call = function() return started("started") end })
  reg:add({ name = "attach_to_session", description = "Attach to the running notebook session.",
    input_schema = { type = "object", properties = { session_id = sid_schema } },
    call = function(args) check_session(args); return started("attached") end })
  local function run(args)
    local ok, r = pcall(state.client.execute, state.client, args.code, { timeout = args.timeout })
    if not ok then error(tostring(r), 0) end -- "kernel died: killed (out of memory ...)"
    return r
  end
  reg:add({ name = "execute_code",
    description = "Execute Lua code in the notebook's kernel; the cell and its outputs are added to the notebook. "
      .. "Images come back as image content.",
    input_schema = { type = "object", required = { "session_id", "code" },
      properties = { session_id = sid_schema, code = { type = "string" }, timeout = { type = "integer" } } },
    call = function(args)
      check_session(args)
      local r = run(args)
      state.notebook:add_code(args.code, r)
      local outs, images = agent_outputs(r.outputs)
      return result({ session_id = state.session_id, execution_count = r.execution_count or json.null,
                      outputs = outs }, images)
    end })
  reg:add({ name = "add_markdown", description = "Add a markdown cell to the notebook.",
    input_schema = { type = "object", required = { "session_id", "content" },
      properties = { session_id = sid_schema, content = { type = "string" } } },
    call = function(args)
      check_session(args)
      return { cell_number = state.notebook:add_markdown(args.content) - 1 }
    end })
  reg:add({ name = "edit_cell",
    description = "Replace a code cell's code and run it (cell_index: -1 the last code cell, 0 the first).",
    input_schema = { type = "object", required = { "session_id", "code" },
      properties = { session_id = sid_schema, code = { type = "string" }, cell_index = { type = "integer" } } },
    call = function(args)
      check_session(args)
      local code_cells = {}
      for i, c in ipairs(state.notebook.cells) do
        if c.cell_type == "code" then code_cells[#code_cells + 1] = i end
      end
      local ci = args.cell_index or -1
      local pos = ci < 0 and #code_cells + 1 + ci or ci + 1
      local at = code_cells[pos]
      if not at then error(("no code cell %d (the notebook has %d)"):format(ci, #code_cells), 0) end
      local r = run(args)
      state.notebook:edit_cell(at, args.code, r)
      local outs, images = agent_outputs(r.outputs)
      return result({ session_id = state.session_id, cell_index = pos - 1, actual_notebook_index = at - 1,
                      execution_count = r.execution_count or json.null, outputs = outs }, images)
    end })
  reg:add({ name = "shutdown_session", description = "Shut the kernel down (its state is lost).",
    input_schema = { type = "object", required = { "session_id" }, properties = { session_id = sid_schema } },
    call = function(args)
      check_session(args)
      state.client:shutdown(2)
      state.shut_down = true
      return ("Session %s shut down successfully"):format(state.session_id)
    end })
  reg:add({ name = "server_status", description = "The notebook server's status and where to open the notebook.",
    call = function()
      local dead = state.client.dead and state.client.dead()
      return table.concat({ "# Notebook Server Status", "",
        "**Status:** " .. (dead and ("stopped (" .. dead .. ")") or (state.shut_down and "shut down" or "running")),
        "**URL:** " .. (state.url or "Not available"),
        "**Notebook:** " .. state.notebook.path }, "\n")
    end })
  return reg
end

--- Serve the tools on stdio: `seer-lua kernel mcp --connection FILE --notebook PATH`. The host
--- session writes `<notebook>.dead` with the reason when the kernel or its sandbox ends.
function M.main(conn_file, nb_path, url)
  local kernel = require "seer.kernel"
  local conn, err = kernel.read_connection(conn_file)
  if not conn then error(err, 0) end
  local dead_file = nb_path .. ".dead"
  local client = kclient.connect(conn, { dead = function()
    if fs.exists(dead_file) then return (fs.read(dead_file)) end
  end })
  -- iopub is a SUB socket: what the kernel publishes before the subscription arrives is lost (a
  -- kernel on a Slurm node is reached through a relay, which makes that window wide).
  client:wait_ready(60)
  local nb = notebook.load(nb_path)
  local state = { client = client, notebook = nb, session_id = require("seer.kernel.message").random_hex(8), url = url }
  local core = require "seer.core"
  local out_fd, cerr = core.claim_stdout()
  if not out_fd then error(cerr, 0) end
  local server = require("seer.mcp.server").new({ tools = M.registry(state), name = "notebook" })
  require("seer.mcp.stdio").serve(server, { output_fd = out_fd, stop_signals = true })
end

return M
