/* modules.c: owns how `require` finds seer modules: C bindings through package.preload, and stdlib
 * Lua sources from $SEER_PATH (development) or the copy embedded in the binary. */
#include <stdio.h>
#include <string.h>

#include "bindings.h"
#include "runtime_internal.h"
#include "stdlib_embedded.h"

/* One line per C module; kept unformatted so that adding a module is a one-line change. */
// clang-format off
static const luaL_Reg c_modules[] = {
    {"seer.core", luaopen_seer_core},
    {"seer.json", luaopen_seer_json},
    {"seer.msgpack", luaopen_seer_msgpack},
    {"seer.fs", luaopen_seer_fs},
    {"seer._rpc", luaopen_seer__rpc},
    {"seer.tokenizer", luaopen_seer_tokenizer},
    {"seer.tensor", luaopen_seer_tensor},
    {"seer._model", luaopen_seer__model},
    {"seer._http", luaopen_seer__http},
    {"seer._sandbox", luaopen_seer__sandbox},
    {"seer._hub", luaopen_seer__hub},
    {"seer._sae", luaopen_seer__sae},
    {"seer._jupyter", luaopen_seer__jupyter},
    {"seer._plot", luaopen_seer__plot},
    {"seer._cuda", luaopen_seer__cuda},
    {NULL, NULL},
};
// clang-format on

static const seer_embedded_module *find_embedded(const char *name) {
  for (const seer_embedded_module *m = seer_embedded_stdlib; m->name; m++)
    if (strcmp(m->name, name) == 0) return m;
  return NULL;
}

/* Searcher: returns a loader for `name`, or a string saying where it looked. */
static int stdlib_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  seer_runtime *rt = lua_touserdata(L, lua_upvalueindex(1));
  if (strncmp(name, "seer", 4) != 0 || (name[4] != '\0' && name[4] != '.')) {
    lua_pushstring(L, "\n\tnot a seer module");
    return 1;
  }
  if (rt->stdlib_dir) {
    char rel[512];
    snprintf(rel, sizeof rel, "%s", name);
    for (char *p = rel; *p; p++)
      if (*p == '.') *p = '/';
    const char *forms[] = {"%s/%s.lua", "%s/%s/init.lua"};
    for (int i = 0; i < 2; i++) {
      char path[1024];
      snprintf(path, sizeof path, forms[i], rt->stdlib_dir, rel);
      FILE *f = fopen(path, "r");
      if (!f) continue;
      fclose(f);
      if (luaL_loadfile(L, path) != LUA_OK) return lua_error(L);
      lua_pushstring(L, path);
      return 2;
    }
    lua_pushfstring(L, "\n\tno file in SEER_PATH '%s' for '%s'", rt->stdlib_dir, name);
    return 1;
  }
  const seer_embedded_module *m = find_embedded(name);
  if (!m) {
    lua_pushfstring(L, "\n\tno embedded stdlib module '%s'", name);
    return 1;
  }
  if (luaL_loadbuffer(L, m->source, m->len, m->chunkname) != LUA_OK) return lua_error(L);
  lua_pushstring(L, m->chunkname + 1);
  return 2;
}

/* seer._stdlib: what the stdlib is, for seer.introspect (doc comments) and `seer-lua doc`.
 * names() lists the embedded modules, source(name) returns an embedded module's source and chunk
 * name (nil when there is none), dir() the SEER_PATH directory used instead, if any. */
static int stdlib_names(lua_State *L) {
  lua_newtable(L);
  int i = 1;
  for (const seer_embedded_module *m = seer_embedded_stdlib; m->name; m++) {
    lua_pushstring(L, m->name);
    lua_rawseti(L, -2, i++);
  }
  return 1;
}

static int stdlib_source(lua_State *L) {
  const seer_embedded_module *m = find_embedded(luaL_checkstring(L, 1));
  if (!m) return 0;
  lua_pushlstring(L, m->source, m->len);
  lua_pushstring(L, m->chunkname);
  return 2;
}

static int stdlib_dir(lua_State *L) {
  seer_runtime *rt = lua_touserdata(L, lua_upvalueindex(1));
  if (!rt->stdlib_dir) return 0;
  lua_pushstring(L, rt->stdlib_dir);
  return 1;
}

static int open_stdlib_module(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, stdlib_names);
  lua_setfield(L, -2, "names");
  lua_pushcfunction(L, stdlib_source);
  lua_setfield(L, -2, "source");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, stdlib_dir, 1);
  lua_setfield(L, -2, "dir");
  return 1;
}

void seer_modules_open(lua_State *L, seer_runtime *rt) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  for (const luaL_Reg *m = c_modules; m->name; m++) {
    lua_pushcfunction(L, m->func);
    lua_setfield(L, -2, m->name);
  }
  lua_pushlightuserdata(L, rt);
  lua_pushcclosure(L, open_stdlib_module, 1);
  lua_setfield(L, -2, "seer._stdlib");
  lua_pop(L, 1);
  /* Insert after preload (index 1) so stdlib modules win over same-named files on package.path. */
#if defined(SEER_LUAJIT)
  lua_getfield(L, -1, "loaders");
#else
  lua_getfield(L, -1, "searchers");
#endif
  size_t n = seer_rawlen(L, -1);
  for (size_t i = n; i >= 2; i--) {
    lua_rawgeti(L, -1, (int)i);
    lua_rawseti(L, -2, (int)i + 1);
  }
  lua_pushlightuserdata(L, rt);
  lua_pushcclosure(L, stdlib_searcher, 1);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}
