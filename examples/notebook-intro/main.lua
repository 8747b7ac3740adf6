-- Seer's sandbox intro, the notebook way, in seer-lua: a notebook sandbox with a model loaded in
-- its kernel, a notebook session for it, and an agent that explores the model by adding cells to
-- the live notebook through the session's MCP tools (start_new_session, execute_code, ...).
--
--   seer-lua examples/notebook-intro/main.lua [org/model]
--
-- The model defaults to google/gemma-2-2b-it and must be in the Hugging Face cache (HF_HUB_CACHE);
-- SEER_EXAMPLE_MODEL or the first argument overrides it. The agent runs with ANTHROPIC_API_KEY or
-- OPENAI_API_KEY; OPENAI_BASE_URL points it at any OpenAI-compatible server (the README shows the
-- keyless local one). SEER_EXAMPLE_KEEP=SECONDS keeps the notebook server up that long at the end,
-- to read the notebook in a browser; SEER_EXAMPLE_OUT=DIR keeps the notebook in DIR (otherwise it
-- is in a temporary directory removed at exit).
local env = require "seer.environment"
local Workspace = require("seer.workspace").Workspace
local create_notebook_session = require("seer.execution").create_notebook_session
local harness = require "seer.harness"
local task = require "seer.task"

local model_name = (arg and arg[1]) or os.getenv("SEER_EXAMPLE_MODEL") or "google/gemma-2-2b-it"

local sandbox = env.Sandbox(env.SandboxConfig({
  execution_mode = "notebook",
  models = { env.ModelConfig({ name = model_name }) },
})):start()
print(("sandbox %s started with %s in its kernel"):format(sandbox.sandbox_id, model_name))

local session
local ok, err = pcall(function()
  session = create_notebook_session(sandbox, Workspace({}), { workspace_dir = os.getenv("SEER_EXAMPLE_OUT") })
  print(session.model_info_text)
  print("notebook: " .. session.notebook_path)
  print("live in a browser: " .. (session.jupyter_url or session.jupyter_note))

  local task_text = os.getenv("SEER_EXAMPLE_TASK") or ("Start a notebook session, then explore the model: "
    .. "run it on a short text, look at what it predicts next and at its hidden states by layer, and plot "
    .. "something (seer.plot). Write down what you find in a markdown cell.")
  local prompt = session.model_info_text .. "\n\n" .. task_text
  local provider = (os.getenv("ANTHROPIC_API_KEY") and "claude") or (os.getenv("OPENAI_API_KEY") and "openai")
  if not provider then
    print("agent step skipped (set ANTHROPIC_API_KEY or OPENAI_API_KEY, or see the README for a local server)")
    return
  end
  for msg in harness.run_agent({ prompt = prompt, user_message = task_text, mcp_config = session.mcp_config,
                                 provider = provider, max_turns = 30 }) do
    if msg.type == "text" then print("agent: " .. msg.text) end
    if msg.type == "tool_use" then print("agent calls " .. msg.name) end
    if msg.type == "tool_result" then print("tool result: " .. tostring(msg.content):sub(1, 400)) end
    if msg.type == "error" then print("agent error: " .. tostring(msg.message)) end
    if msg.type == "result" then print("agent finished: " .. tostring(msg.stop_reason)) end
  end
  local keep = tonumber(os.getenv("SEER_EXAMPLE_KEEP") or "")
  if keep and session.jupyter_url then
    print(("keeping the notebook server up for %g s: %s"):format(keep, session.jupyter_url))
    task.sleep(keep)
  end
end)
if session then session:close() end
sandbox:terminate()
if not ok then error(err, 0) end
print("notebook-intro done")
