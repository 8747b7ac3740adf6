/* bindings.h: the luaopen_* entry points of the C modules that modules.c preloads. */
#ifndef SEER_BINDINGS_H
#define SEER_BINDINGS_H

#include "compat.h"

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

#endif
