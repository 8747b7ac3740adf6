/* fuzz_json.c: seer.json (jansson decoding into Lua values, the direct encoder back) on hostile
 * text: decode, then encode the result (compact and indented) and decode that again. Errors are
 * Lua errors caught by pcall; only crashes, leaks and sanitizer reports are findings. */
#include <stdint.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "bindings.h"

static lua_State *L;

static const char roundtrip[] = "local json, s = ...\n"
                                "local v = json.decode(s)\n"
                                "local a = json.encode(v)\n"
                                "json.encode(v, {indent = 2, sort_keys = false})\n"
                                "json.decode(a)\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!L) {
    L = luaL_newstate();
    luaL_openlibs(L);
  }
  lua_settop(L, 0);
  if (luaL_loadbuffer(L, roundtrip, sizeof roundtrip - 1, "fuzz_json") != 0) abort();
  lua_pushcfunction(L, luaopen_seer_json);
  lua_call(L, 0, 1);
  lua_pushlstring(L, (const char *)data, size);
  lua_pcall(L, 2, 0, 0);
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
