-- Lua code must run on both Lua 5.4 and LuaJIT 2.1; fallbacks such as `table.pack or ...` reach
-- for names from either, so the union standard is used and both flavours run the tests.
std = "max"
max_line_length = 120
files["tests/lua"] = { std = "+busted" }
files["tests/security"] = { std = "+busted" }
files["tests/lua/run_busted.lua"] = { globals = { "arg" } }
exclude_files = { "build*/**", "**/node_modules/**", "tests/lua/fixtures/scoped/syntax_error.lua" }
-- Interface files run with these globals (DESIGN §4).
local interface_std = { globals = { "expose" }, read_globals = { "seer", "get_model_path", "list_configured_models" } }
files["tests/lua/fixtures"] = interface_std
files["examples/*/interface.lua"] = interface_std
-- ---@meta stubs document functions written in C: their bodies are empty on purpose.
files["stdlib/seer/meta"] = { unused = false }
