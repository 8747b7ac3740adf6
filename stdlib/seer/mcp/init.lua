--- seer.mcp: the Model Context Protocol. A server core (seer.mcp.server) serves any registry of
--- tools (seer.mcp.tools) over a transport (seer.mcp.stdio); seer.mcp.interface makes the tools of
--- an interface file; seer.mcp.client talks to stdio MCP servers (what run_agent's mcp_config
--- uses). `seer-lua mcp` is the command-line server.
local M = {}

local parts = { server = true, tools = true, stdio = true, interface = true, client = true }

return setmetatable(M, {
  __index = function(t, k)
    if parts[k] then
      local mod = require("seer.mcp." .. k)
      rawset(t, k, mod)
      return mod
    end
    return nil
  end,
})
