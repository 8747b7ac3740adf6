-- The scoped-sandbox tutorial in seer-lua: start a sandbox with a model, serve interface.lua from
-- it as a library, give an agent a session that can require that library, and run the agent.
--
--   seer-lua examples/scoped-sandbox-intro/main.lua [org/model]
--
-- The model defaults to google/gemma-2-9b and must be in the Hugging Face cache. SEER_EXAMPLE_MODEL
-- or the first argument overrides it (tools/quickstart.sh uses a small random-weight model). The
-- agent step runs when ANTHROPIC_API_KEY (or OPENAI_API_KEY) is set.
local env = require "seer.environment"
local Workspace = require("seer.workspace").Workspace
local create_local_session = require("seer.execution").create_local_session
local fs = require "seer.fs"
local json = require "seer.json"

local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local model_name = (arg and arg[1]) or os.getenv("SEER_EXAMPLE_MODEL") or "google/gemma-2-9b"

local scoped = env.ScopedSandbox(env.SandboxConfig({
  models = { env.ModelConfig({ name = model_name }) },
}))
scoped:start()
print(("sandbox %s started with %s"):format(scoped.sandbox_id, model_name))

local ok, err = pcall(function()
  local model_tools = scoped:serve(dir .. "/interface.lua", { expose_as = "library", name = "model_tools" })
  local session = create_local_session({
    workspace = Workspace({ libraries = { model_tools } }),
    workspace_dir = assert(fs.tmpdir("scoped-example")) .. "/workspace",
    name = "scoped-example",
  })

  -- What the agent's run_lua tool would do: require the library and call the sandbox through it.
  local info = session:exec('return require("model_tools").get_model_info()')
  print("model info: " .. json.encode(info))
  local emb = session:exec('return require("model_tools").get_embedding("The quick brown fox")').embedding
  print(("embedding: %d dims, first values %.4f %.4f %.4f"):format(#emb, emb[1], emb[2], emb[3]))

  local provider = (os.getenv("ANTHROPIC_API_KEY") and "claude") or (os.getenv("OPENAI_API_KEY") and "openai")
  local has_harness, harness = pcall(require, "seer.harness")
  if provider and has_harness then
    local task = os.getenv("SEER_EXAMPLE_TASK") or ("Use the model_tools library (require it in "
      .. "run_lua) to describe the model and compare the embeddings of 'cat' and 'dog' with a cosine "
      .. "similarity.")
    for msg in harness.run_agent({ prompt = task, user_message = task, session = session,
                                   mcp_config = {}, provider = provider }) do
      if msg.type == "text" then print("agent: " .. msg.text) end
      if msg.type == "tool_use" then print("agent calls " .. msg.name) end
      if msg.type == "tool_result" then print("tool result: " .. tostring(msg.content)) end
      if msg.type == "error" then print("agent error: " .. tostring(msg.message)) end
      if msg.type == "result" then print("agent finished: " .. tostring(msg.stop_reason)) end
    end
  else
    print("agent step skipped (set ANTHROPIC_API_KEY or OPENAI_API_KEY to run it)")
  end
  session:close()
end)
scoped:terminate()
if not ok then error(err, 0) end
print("scoped-sandbox-intro done")
