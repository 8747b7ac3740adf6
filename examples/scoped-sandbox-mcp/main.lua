-- The scoped-sandbox tutorial's second way: the agent sees the interface's functions as MCP tools.
-- Start a sandbox with a model, serve ../scoped-sandbox-intro/interface.lua from it with
-- expose_as = "mcp", call the tools once through an MCP client, print the config for Claude Code /
-- Claude Desktop, and run an agent whose mcp_config is that config.
--
--   seer-lua examples/scoped-sandbox-mcp/main.lua [org/model]
--
-- The model defaults to google/gemma-2-9b and must be in the Hugging Face cache (SEER_EXAMPLE_MODEL
-- or the first argument overrides it). The agent step runs when ANTHROPIC_API_KEY (or
-- OPENAI_API_KEY) is set; ANTHROPIC_BASE_URL points it at another endpoint, such as the local test
-- peer. SEER_EXAMPLE_MCP_JSON=PATH also writes the config to PATH as a .mcp.json.
local env = require "seer.environment"
local fs = require "seer.fs"
local json = require "seer.json"
local mcp_client = require "seer.mcp.client"

local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local model_name = (arg and arg[1]) or os.getenv("SEER_EXAMPLE_MODEL") or "google/gemma-2-9b"

local scoped = env.ScopedSandbox(env.SandboxConfig({
  models = { env.ModelConfig({ name = model_name }) },
}))
scoped:start()
print(("sandbox %s started with %s"):format(scoped.sandbox_id, model_name))

local ok, err = pcall(function()
  local mcp_config = scoped:serve(dir .. "/../scoped-sandbox-intro/interface.lua",
    { expose_as = "mcp", name = "model_tools" })
  -- This goes as it is into a .mcp.json (Claude Code) or claude_desktop_config.json, while the
  -- sandbox runs.
  local config_text = json.encode({ mcpServers = mcp_config }, { indent = 2 })
  print("MCP config:\n" .. config_text)
  local out = os.getenv("SEER_EXAMPLE_MCP_JSON")
  if out and out ~= "" then assert(fs.write(out, config_text .. "\n")) end

  -- What an MCP client sees: the tools with their schemas, and calls into the sandbox.
  local c = mcp_client.start("model_tools", mcp_config.model_tools)
  for _, t in ipairs(c.tools) do print(("tool %s: %s"):format(t.name, (t.description or ""):match("[^\n]*"))) end
  local info = c:call_tool("get_model_info", {}).structuredContent.result
  print("model info: " .. json.encode(info))
  local emb = c:call_tool("get_embedding", { text = "The quick brown fox" }).structuredContent.result.embedding
  print(("embedding: %d dims, first values %.4f %.4f %.4f"):format(#emb, emb[1], emb[2], emb[3]))
  c:close()

  local provider = (os.getenv("ANTHROPIC_API_KEY") and "claude") or (os.getenv("OPENAI_API_KEY") and "openai")
  if provider then
    local task = os.getenv("SEER_EXAMPLE_TASK") or ("Use the model_tools tools to describe the model and "
      .. "compare the embeddings of 'cat' and 'dog' with a cosine similarity.")
    for msg in require("seer.harness").run_agent({ prompt = task, user_message = task, mcp_config = mcp_config,
                                                   provider = provider }) do
      if msg.type == "text" then print("agent: " .. msg.text) end
      if msg.type == "tool_use" then print("agent calls " .. msg.name) end
      if msg.type == "tool_result" then print("tool result: " .. tostring(msg.content):sub(1, 200)) end
      if msg.type == "error" then print("agent error: " .. tostring(msg.message)) end
      if msg.type == "result" then print("agent finished: " .. tostring(msg.stop_reason)) end
    end
  else
    print("agent step skipped (set ANTHROPIC_API_KEY or OPENAI_API_KEY to run it)")
  end
end)
scoped:terminate()
if not ok then error(err, 0) end
print("scoped-sandbox-mcp done")
