--- seer.harness.mcp: the tools of the MCP servers in run_agent's `mcp_config` (the .mcp.json /
--- mcpServers format: {name = {command, args, env}}). Each server is started with seer.mcp.client
--- and its tools are offered as `mcp__<server>__<tool>`; a call's isError stays an error for the
--- agent, and a server that crashed or stopped answering gives a tool error naming it.
local client = require "seer.mcp.client"
local log = require "seer.log"
local task = require "seer.task"

local M = {}

local NAME_PATTERN = "^[%w_%-]+$"
local MAX_NAME = 64 -- what the providers accept for a tool name

--- Check `mcp_config` before anything starts; raises a message for the first mistake.
function M.check(config)
  for name, spec in pairs(config) do
    if type(name) ~= "string" or not name:match(NAME_PATTERN) then
      error(("mcp_config: server name '%s' must be letters, digits, '_' or '-'"):format(tostring(name)), 0)
    end
    client.check_entry(name, spec)
  end
end

--- Start every server (concurrently) and return the tools for the agent plus the clients (for
--- `stop`). A server that cannot start raises, after the others are stopped.
function M.start(config, opts)
  local names = {}
  for name in pairs(config) do names[#names + 1] = name end
  table.sort(names)
  local clients, errors = {}, {}
  local jobs = {}
  for i, name in ipairs(names) do
    jobs[i] = function()
      local ok, c = pcall(client.start, name, config[name], opts)
      if ok then clients[#clients + 1] = c else errors[#errors + 1] = tostring(c) end
    end
  end
  if #jobs > 0 then task.gather(jobs) end
  if #errors > 0 then
    M.stop(clients)
    error(table.concat(errors, "\n"), 0)
  end
  table.sort(clients, function(a, b) return a.name < b.name end)
  local tools = {}
  for _, c in ipairs(clients) do
    for _, t in ipairs(c.tools) do
      local full = "mcp__" .. c.name .. "__" .. t.name
      if #full > MAX_NAME or not full:match(NAME_PATTERN) then
        log.warn("mcp", "tool '%s' of server '%s' is left out: '%s' is not a valid tool name for the providers "
          .. "(letters, digits, '_' or '-', at most %d characters)", t.name, c.name, full, MAX_NAME)
      else
        local schema = type(t.inputSchema) == "table" and t.inputSchema or { type = "object" }
        tools[#tools + 1] = {
          name = full, description = type(t.description) == "string" and t.description or "",
          input_schema = schema,
          fn = function(input)
            local r = c:call_tool(t.name, input)
            local text = client.result_text(r)
            if r.isError then error(text ~= "" and text or "the tool reported an error", 0) end
            return text
          end,
        }
      end
    end
  end
  return tools, clients
end

--- Stop the servers (never waits).
function M.stop(clients)
  for _, c in ipairs(clients or {}) do c:close() end
end

return M
