/* fuzz_mcp_line.c: the MCP server core (stdlib/seer/mcp/server.lua, from the embedded stdlib) on
 * hostile input, as the stdio transport hands it over: the input is split at newlines, every line
 * goes to server:receive_text, and the loop runs until every call it started has answered. Each
 * answer is encoded as the transport would send it. The server must answer every line with a
 * result or a JSON-RPC error and never raise: a Lua error escaping it is a finding (abort), as are
 * crashes, leaks and sanitizer reports. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lua.h>

#include "seer/seer_embed.h"

static seer_runtime *rt;

/* Two tools: one echoes its (schema-checked) arguments, one raises. */
static const char setup[] =
    "local seer = require 'seer'\n"
    "local server = require 'seer.mcp.server'\n"
    "local tools = require 'seer.mcp.tools'\n"
    "local json = require 'seer.json'\n"
    "local reg = tools.new()\n"
    "reg:add({ name = 'echo', description = 'returns its arguments',\n"
    "  input_schema = "
    "json.decode('{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},'\n"
    "    .. "
    "'\"n\":{\"type\":\"integer\"},\"xs\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}}},'\n"
    "    .. '\"required\":[\"text\"]}'),\n"
    "  call = function(args) return args end })\n"
    "reg:add({ name = 'fail', description = 'raises', call = function() error('boom') end })\n"
    "function FUZZ_MCP_LINES(bytes)\n"
    "  seer.run(function()\n"
    "    local s = server.new({ tools = reg })\n"
    "    local function send(m) json.encode(m) end\n"
    "    for line in (bytes .. '\\n'):gmatch('([^\\n]*)\\n') do s:receive_text(line, send) end\n"
    "    local spins = 0\n"
    "    while s:busy() > 0 do\n"
    "      spins = spins + 1\n"
    "      if spins > 10000 then error('calls still running after 10000 loop turns') end\n"
    "      seer.sleep(0)\n"
    "    end\n"
    "  end)\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!rt) {
    rt = seer_open(NULL);
    if (!rt || seer_dostring(rt, setup, "fuzz_mcp_line") != 0) {
      fprintf(stderr, "fuzz_mcp_line: setup failed: %s\n", rt ? seer_last_error(rt) : "no memory");
      abort();
    }
  }
  lua_State *L = seer_lua(rt);
  lua_settop(L, 0);
  lua_getglobal(L, "FUZZ_MCP_LINES");
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != 0) {
    fprintf(stderr, "fuzz_mcp_line: the server raised: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
