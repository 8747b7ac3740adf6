/* runtime.c: owns the embedding API (seer_open ... seer_close): the Lua state, its event loop, the
 * protected execution of chunks with tracebacks, and draining the loop after a chunk. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "runtime_internal.h"
#include "seer/error.h"

static const char RUNTIME_KEY = 'r'; /* registry key: its address is unique */

seer_runtime *seer_runtime_from(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&RUNTIME_KEY);
  lua_rawget(L, LUA_REGISTRYINDEX);
  seer_runtime *rt = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!rt) luaL_error(L, "seer: this Lua state was not opened with seer_open");
  return rt;
}

void seer_runtime_set_error(seer_runtime *rt, lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  if (!msg) {
    if (luaL_callmeta(L, -1, "__tostring") && lua_isstring(L, -1)) {
      msg = lua_tostring(L, -1);
      lua_replace(L, -2);
    } else {
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, -1));
      lua_replace(L, -2);
    }
  }
  free(rt->last_error);
  rt->last_error = strdup(msg);
}

void seer_runtime_callback(seer_runtime *rt, lua_State *L, int nargs) {
  /* The callback may have made a task ready: end this loop iteration instead of letting libuv go
   * on to block in poll while the scheduler has work (a timer-phase callback would otherwise wait
   * for the poll timeout). */
  if (rt->loop) uv_stop(seer_loop_uv(rt->loop));
  if (lua_pcall(L, nargs, 0, 0) != LUA_OK) {
    if (rt->callback_error_ref == LUA_NOREF) {
      rt->callback_error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
      lua_pop(L, 1);
    }
  }
}

/* Message handler: appends the traceback to string errors, keeps other error values as they are. */
static int traceback_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    return 1; /* a table error object: keep it intact */
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

seer_runtime *seer_open(const seer_open_opts *opts) {
  seer_runtime *rt = calloc(1, sizeof *rt);
  if (!rt) return NULL;
  rt->callback_error_ref = LUA_NOREF;
  if (seer_loop_new(&rt->loop, NULL) != SEER_OK || !(rt->L = luaL_newstate())) {
    seer_loop_free(rt->loop);
    free(rt);
    return NULL;
  }
  const char *dir = opts && opts->stdlib_dir ? opts->stdlib_dir : getenv("SEER_PATH");
  if (dir && *dir) rt->stdlib_dir = strdup(dir);
  lua_State *L = rt->L;
  luaL_openlibs(L);
  lua_pushlightuserdata(L, (void *)&RUNTIME_KEY);
  lua_pushlightuserdata(L, rt);
  lua_rawset(L, LUA_REGISTRYINDEX);
  seer_modules_open(L, rt);
  if (opts && opts->argv) {
    /* arg[0] is the script, arg[1..] its arguments, negative indices the interpreter's own. */
    lua_createtable(L, opts->argc, opts->script_index + 1);
    for (int i = 0; i < opts->argc; i++) {
      lua_pushstring(L, opts->argv[i]);
      lua_rawseti(L, -2, i - opts->script_index);
    }
    lua_setglobal(L, "arg");
  }
  return rt;
}

/* Runs the chunk on top of the stack, then drains the scheduler if the chunk used tasks. */
static int run_chunk(seer_runtime *rt, int nargs) {
  lua_State *L = rt->L;
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, traceback_handler);
  lua_insert(L, base);
  int rc = lua_pcall(L, nargs, 0, base);
  if (rc == LUA_OK) {
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    lua_getfield(L, -1, "seer.task");
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "drain");
      lua_remove(L, -2);
      lua_remove(L, -2);
      rc = lua_pcall(L, 0, 0, base);
    } else {
      lua_pop(L, 2);
    }
  }
  if (rc != LUA_OK) {
    seer_runtime_set_error(rt, L);
    lua_settop(L, base - 1);
    return rc == LUA_ERRMEM ? SEER_ENOMEM : SEER_EINVAL;
  }
  lua_settop(L, base - 1);
  return SEER_OK;
}

int seer_dofile_args(seer_runtime *rt, const char *path, int argc, char **argv) {
  if (luaL_loadfile(rt->L, path) != LUA_OK) {
    seer_runtime_set_error(rt, rt->L);
    lua_pop(rt->L, 1);
    return SEER_EINVAL;
  }
  luaL_checkstack(rt->L, argc + 4, "too many script arguments");
  for (int i = 0; i < argc; i++)
    lua_pushstring(rt->L, argv[i]);
  return run_chunk(rt, argc);
}

int seer_dofile(seer_runtime *rt, const char *path) { return seer_dofile_args(rt, path, 0, NULL); }

int seer_dostring(seer_runtime *rt, const char *code, const char *chunkname) {
  if (luaL_loadbuffer(rt->L, code, strlen(code), chunkname ? chunkname : "=(string)") != LUA_OK) {
    seer_runtime_set_error(rt, rt->L);
    lua_pop(rt->L, 1);
    return SEER_EINVAL;
  }
  return run_chunk(rt, 0);
}

int seer_register(seer_runtime *rt, const char *name, lua_CFunction fn) {
  if (!name || !fn) return SEER_EINVAL;
  lua_pushcfunction(rt->L, fn);
  lua_setglobal(rt->L, name);
  return SEER_OK;
}

lua_State *seer_lua(seer_runtime *rt) { return rt->L; }

const char *seer_last_error(seer_runtime *rt) { return rt->last_error ? rt->last_error : ""; }

void seer_close(seer_runtime *rt) {
  if (!rt) return;
  rt->closing = 1;
  rt->driving = rt->L;
  seer_loop_free(rt->loop);
  rt->loop = NULL;
  lua_close(rt->L);
  free(rt->last_error);
  free(rt->stdlib_dir);
  free(rt);
}
