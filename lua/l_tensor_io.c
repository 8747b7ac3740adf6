/* l_tensor_io.c: seer.tensor.load / seer.tensor.save, safetensors files to and from
 * {name = Tensor} tables. The parsing and bounds checks are in runtime/model/safetensors.c. */
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "l_tensor.h"
#include "seer/safetensors.h"

/* ---- safetensors files ---- */

/* load(path) -> {name = Tensor} | nil, err (a missing or malformed file); the tensors borrow the
 * file's mapping. */
static int l_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  seer_error err;
  seer_safetensors *st;
  if (seer_st_open(path, &st, &err)) return seer_lua_fail(L, "seer.tensor.load", &err);
  size_t n = seer_st_count(st);
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    const seer_st_info *in = seer_st_info_at(st, i);
    seer_tensor *t = seer_st_get(st, in->name, &err);
    if (!t) {
      seer_st_close(st);
      return seer_lua_fail(L, "seer.tensor.load", &err);
    }
    /* push_tensor may raise only on allocation failure; the tensor is then lost with the state */
    seer_lua_push_tensor(L, t);
    lua_setfield(L, -2, in->name);
  }
  seer_st_close(st);
  return 1;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* save(path, {name = Tensor}) -> true | nil, err (the file cannot be written): names in sorted
 * order, so the file is reproducible. A value that is not a Tensor raises. */
static int l_save(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      return luaL_error(L, "seer.tensor.save: keys must be tensor names (strings)");
    if (!seer_lua_to_tensor(L, -1))
      return luaL_error(L, "seer.tensor.save: '%s' is a %s, not a Tensor", lua_tostring(L, -2),
                        luaL_typename(L, -1));
    lua_pop(L, 1);
    n++;
  }
  const char **names = lua_newuserdata(L, sizeof(char *) * (n ? n : 1));
  const seer_tensor **ts = lua_newuserdata(L, sizeof(seer_tensor *) * (n ? n : 1));
  size_t i = 0;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    names[i++] = lua_tostring(L, -2); /* keys stay alive in the table during the call */
    lua_pop(L, 1);
  }
  qsort(names, n, sizeof *names, cmp_names);
  for (i = 0; i < n; i++) {
    lua_getfield(L, 2, names[i]);
    ts[i] = seer_lua_to_tensor(L, -1);
    lua_pop(L, 1);
  }
  seer_error err;
  if (seer_st_save(path, n, names, ts, &err)) return seer_lua_fail(L, "seer.tensor.save", &err);
  lua_pushboolean(L, 1);
  return 1;
}

void seer_lua_tensor_io_register(lua_State *L) {
  static const luaL_Reg fns[] = {{"load", l_load}, {"save", l_save}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
