/* l_sandbox.c: the `seer._sandbox` module, host-side helpers of the sandbox backends: state
 * directory locks, sweeps and safe removal (seer/statedir.h), and a file sink that snapshots
 * stream into. Expected failures return nil plus a message; argument mistakes raise. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bindings.h"
#include "seer/statedir.h"

#define LOCK_MT "seer._sandbox.lock"
#define SINK_MT "seer._sandbox.sink"

static int fail(lua_State *L, const char *msg) {
  lua_pushnil(L);
  lua_pushstring(L, msg);
  return 2;
}

/* A held state directory: the lock fd, and the directory to remove when it is released, when its
 * Lua object is collected (at the latest when the Lua state closes), or at exit() (os.exit without
 * closing the state). Held ones are listed here, outside Lua, for the atexit hook. */
typedef struct held_dir {
  int fd;
  struct held_dir *next;
  char path[];
} held_dir;

static held_dir *held;

static int release(held_dir *h, seer_error *err) {
  for (held_dir **p = &held; *p; p = &(*p)->next)
    if (*p == h) {
      *p = h->next;
      break;
    }
  int rc = seer_statedir_remove(h->path, err);
  close(h->fd); /* after the removal, so no sweep races it */
  free(h);
  return rc;
}

static void release_all_at_exit(void) {
  seer_error err;
  while (held)
    release(held, &err); /* nowhere to report it; the next start's sweep retries */
}

typedef struct {
  held_dir *h; /* NULL once released */
} lock_box;

/* create(base, prefix) -> dir, lock (removes dir on :release(), when collected or at exit) |
 * nil, err */
static int sb_create(lua_State *L) {
  const char *base = luaL_checkstring(L, 1);
  const char *prefix = luaL_checkstring(L, 2);
  lock_box *b = lua_newuserdata(L, sizeof *b);
  b->h = NULL;
  luaL_setmetatable(L, LOCK_MT);
  char dir[4096];
  int fd;
  seer_error err;
  if (seer_statedir_create(base, prefix, dir, sizeof dir, &fd, &err) != SEER_OK)
    return fail(L, err.msg);
  size_t len = strlen(dir);
  held_dir *h = malloc(sizeof *h + len + 1);
  if (!h) {
    close(fd);
    seer_statedir_remove(dir, &err);
    return luaL_error(L, "create: out of memory");
  }
  static int hooked;
  if (!hooked) hooked = atexit(release_all_at_exit) == 0;
  h->fd = fd;
  memcpy(h->path, dir, len + 1);
  h->next = held;
  held = h;
  b->h = h;
  lua_pushstring(L, dir);
  lua_insert(L, -2);
  return 2;
}

static int lock_release(lua_State *L) {
  lock_box *b = luaL_checkudata(L, 1, LOCK_MT);
  seer_error err;
  held_dir *h = b->h;
  b->h = NULL;
  if (h && release(h, &err) != SEER_OK) return fail(L, err.msg);
  lua_pushboolean(L, 1);
  return 1;
}

static int lock_gc(lua_State *L) {
  lock_box *b = luaL_checkudata(L, 1, LOCK_MT);
  seer_error err;
  if (b->h) release(b->h, &err); /* nowhere to report it; the next start's sweep retries */
  b->h = NULL;
  return 0;
}

/* sweep(base, {prefix...}) -> removed | nil, err */
static int sb_sweep(lua_State *L) {
  const char *base = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  const char *prefixes[9];
  int n = 0;
  for (; n < 8; n++) {
    lua_rawgeti(L, 2, n + 1);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      break;
    }
    prefixes[n] = luaL_checkstring(L, -1);
    lua_pop(L, 1); /* the string stays referenced by the table */
  }
  prefixes[n] = NULL;
  int removed = 0;
  seer_error err;
  if (seer_statedir_sweep(base, prefixes, &removed, &err) != SEER_OK) return fail(L, err.msg);
  lua_pushinteger(L, removed);
  return 1;
}

/* open_sink(path) -> sink | nil, err: a new file (truncated) for writing, close-on-exec. */
static int sb_open_sink(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int *fd = lua_newuserdata(L, sizeof *fd);
  *fd = -1;
  luaL_setmetatable(L, SINK_MT);
  *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (*fd < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot create '%s': %s", path, strerror(errno));
    return 2;
  }
  return 1;
}

static int sink_write(lua_State *L) {
  int *fd = luaL_checkudata(L, 1, SINK_MT);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (*fd < 0) return luaL_error(L, "sink: already closed");
  while (len > 0) {
    ssize_t w = write(*fd, data, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      lua_pushnil(L);
      lua_pushfstring(L, "cannot write: %s", strerror(errno));
      return 2;
    }
    data += w;
    len -= (size_t)w;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int sink_close(lua_State *L) {
  int *fd = luaL_checkudata(L, 1, SINK_MT);
  if (*fd >= 0) {
    int rc = close(*fd);
    *fd = -1;
    if (rc != 0) {
      lua_pushnil(L);
      lua_pushfstring(L, "cannot write: %s", strerror(errno));
      return 2;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

int luaopen_seer__sandbox(lua_State *L) {
  static const luaL_Reg lock_methods[] = {{"release", lock_release}, {NULL, NULL}};
  static const luaL_Reg sink_methods[] = {
      {"write", sink_write}, {"close", sink_close}, {NULL, NULL}};
  static const struct {
    const char *name;
    const luaL_Reg *methods;
    lua_CFunction gc;
  } types[] = {{LOCK_MT, lock_methods, lock_gc}, {SINK_MT, sink_methods, sink_close}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    luaL_newmetatable(L, types[i].name);
    lua_newtable(L);
    luaL_setfuncs(L, types[i].methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, types[i].gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
  }
  static const luaL_Reg fns[] = {{"create", sb_create},
                                 {"sweep", sb_sweep},

                                 {"open_sink", sb_open_sink},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
