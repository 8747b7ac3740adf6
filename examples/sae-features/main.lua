-- An agent finds an SAE feature and steers the model with it. A sandbox holds the model and a
-- sparse autoencoder (SAELens layout); interface.lua exposes the SAE's features and steering to the
-- agent as a library; the agent's run_lua calls it.
--
--   seer-lua examples/sae-features/main.lua [org/model] [sae_dir]
--
-- The model defaults to seer-demo/tiny-llama (examples/scoped-sandbox-intro/demo_model.lua puts it
-- in a Hugging Face cache) and the SAE to a random one made by demo_sae.lua; pass a real model
-- and a SAELens directory for a real run. The agent step runs when ANTHROPIC_API_KEY (or
-- OPENAI_API_KEY) is set.
local env = require "seer.environment"
local Workspace = require("seer.workspace").Workspace
local create_local_session = require("seer.execution").create_local_session
local fs = require "seer.fs"
local json = require "seer.json"

local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local model_name = (arg and arg[1]) or os.getenv("SEER_EXAMPLE_MODEL") or "seer-demo/tiny-llama"
local sae_dir = (arg and arg[2]) or os.getenv("SEER_EXAMPLE_SAE")
if not sae_dir then
  sae_dir = assert(fs.tmpdir("sae-features")) .. "/sae"
  assert(loadfile(dir .. "/demo_sae.lua"))(sae_dir)
end

local scoped = env.ScopedSandbox(env.SandboxConfig({
  models = { env.ModelConfig({ name = model_name }) },
  local_dirs = { { sae_dir, "/workspace/sae" } },
}))
scoped:start()
print(("sandbox %s started with %s and the SAE in %s"):format(scoped.sandbox_id, model_name, sae_dir))

local ok, err = pcall(function()
  local sae_tools = scoped:serve(dir .. "/interface.lua", { expose_as = "library", name = "sae_tools" })
  local session = create_local_session({
    workspace = Workspace({ libraries = { sae_tools } }),
    workspace_dir = assert(fs.tmpdir("sae-features")) .. "/workspace",
    name = "sae-features",
  })
  print("setup: " .. json.encode(session:exec('return require("sae_tools").describe()')))

  local provider = (os.getenv("ANTHROPIC_API_KEY") and "claude") or (os.getenv("OPENAI_API_KEY") and "openai")
  local has_harness, harness = pcall(require, "seer.harness")
  if provider and has_harness then
    local task = os.getenv("SEER_EXAMPLE_TASK") or ("Use the sae_tools library (require it in "
      .. "run_lua). Find the SAE feature that is most active on texts about animals compared with "
      .. "texts about finance (find_features), look at where it fires (top_features), then steer "
      .. "generation along it (steer) and clamp it (clamp). Report the feature id and what changed.")
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
print("sae-features done")
