-- Runs busted specs inside seer-lua, so specs exercise the embedded runtime modules.
-- Debian installs busted's pure-Lua modules per ABI (5.4, or 5.1 for LuaJIT) and its C helpers
-- (luasystem, lfs, term) under the multiarch directory.
local abi = require("seer.core").lua_flavour == "luajit" and "5.1" or "5.4"
package.path = table.concat({
  "/usr/share/lua/" .. abi .. "/?.lua", "/usr/share/lua/" .. abi .. "/?/init.lua",
  "tests/lua/?.lua", package.path }, ";")
package.cpath = table.concat({
  "/usr/lib/x86_64-linux-gnu/lua/" .. abi .. "/?.so", "/usr/local/lib/lua/" .. abi .. "/?.so",
  package.cpath }, ";")
-- busted reads its options from the global `arg`; default to TAP-free plain output for ctest logs.
table.insert(arg, 1, "--output=plainTerminal")
require("busted.runner")({ standalone = false })
