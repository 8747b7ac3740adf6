/* compat.h: the few C API differences between Lua 5.4 and LuaJIT 2.1 (Lua 5.1 API), so that every
 * binding compiles unchanged against both flavours. */
#ifndef SEER_LUA_COMPAT_H
#define SEER_LUA_COMPAT_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#if defined(SEER_LUAJIT)
#define seer_rawlen(L, i) lua_objlen((L), (i))
/* LuaJIT numbers are doubles; an "integer" is a double with no fractional part. */
static inline int seer_isinteger(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  lua_Number n = lua_tonumber(L, idx);
  return n == (lua_Number)(long long)n && n > -9007199254740992.0 && n < 9007199254740992.0;
}
static inline void seer_pushinteger(lua_State *L, long long v) { lua_pushnumber(L, (lua_Number)v); }
static inline long long seer_tointeger(lua_State *L, int idx) {
  return (long long)lua_tonumber(L, idx);
}
#define seer_resume(L, from, nargs, nres) ((*(nres) = 0), lua_resume((L), (nargs)))
#else
#define seer_rawlen(L, i) lua_rawlen((L), (i))
#define seer_isinteger(L, i) lua_isinteger((L), (i))
#define seer_pushinteger(L, v) lua_pushinteger((L), (lua_Integer)(v))
#define seer_tointeger(L, i) ((long long)lua_tointeger((L), (i)))
#define seer_resume(L, from, nargs, nres) lua_resume((L), (from), (nargs), (nres))
#endif

#endif
