/* bindings.h: the luaopen_* entry points of the C modules that modules.c preloads, and the one
 * error convention every binding follows (lua/BINDINGS.md): an expected failure (I/O, a missing
 * file, user data that does not parse) returns nil plus a message; a programming error (a wrong
 * argument type) raises. */
#ifndef SEER_BINDINGS_H
#define SEER_BINDINGS_H

#include "compat.h"
#include "seer/error.h"

/* Returns nil, "<fn>: <err->msg>" (fn NULL: the message alone): `return seer_lua_fail(L, ...)`. */
static inline int seer_lua_fail(lua_State *L, const char *fn, const seer_error *err) {
  lua_pushnil(L);
  if (fn)
    lua_pushfstring(L, "%s: %s", fn, err->msg);
  else
    lua_pushstring(L, err->msg);
  return 2;
}

int luaopen_seer_core(lua_State *L);
int luaopen_seer_json(lua_State *L);
int luaopen_seer_msgpack(lua_State *L);
int luaopen_seer_fs(lua_State *L);
int luaopen_seer__rpc(lua_State *L);
int luaopen_seer_tokenizer(lua_State *L);
int luaopen_seer_tensor(lua_State *L);
int luaopen_seer__model(lua_State *L);
int luaopen_seer__http(lua_State *L);
int luaopen_seer__sandbox(lua_State *L);
int luaopen_seer__hub(lua_State *L);
int luaopen_seer__sae(lua_State *L);
int luaopen_seer__jupyter(lua_State *L);
int luaopen_seer__plot(lua_State *L);
int luaopen_seer__cuda(lua_State *L);

#endif
