/* l_hub.c: the `seer._hub` module, a thin binding of seer/hub.h for stdlib/seer/hub*.lua: a
 * transfer object built from a list of job tables (stepped by Lua, results read back as tables),
 * and the cache's file operations (lock, free space, sha256, symlink, rename, lstat, isatty). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bindings.h"
#include "seer/hub.h"

#define TRANSFER_MT "seer.hub.transfer"

typedef struct {
  seer_hub_transfer *t;
  seer_hub_job *jobs;
  size_t n;
  char **strings; /* the copies the jobs point into */
  size_t n_strings;
} transfer_box;

static const char *keep(lua_State *L, transfer_box *b, const char *s) {
  if (!s) return NULL;
  char *c = strdup(s);
  if (!c) luaL_error(L, "out of memory");
  b->strings[b->n_strings++] = c;
  return c;
}

static void box_free(transfer_box *b) {
  if (b->t) seer_hub_transfer_free(b->t);
  b->t = NULL;
  for (size_t i = 0; b->jobs && i < b->n; i++)
    seer_hub_job_clear(&b->jobs[i]);
  free(b->jobs);
  b->jobs = NULL;
  for (size_t i = 0; b->strings && i < b->n_strings; i++)
    free(b->strings[i]);
  free(b->strings);
  b->strings = NULL;
}

static const char *opt_string(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  const char *s = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  lua_pop(L, 1);
  return s; /* valid while the table holds it; copied by the callers that keep it */
}

static double opt_number(lua_State *L, int t, const char *k, double def) {
  lua_getfield(L, t, k);
  double v = lua_isnil(L, -1) ? def : luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

/* transfer(jobs, opts) -> transfer | nil, err
 * jobs[i] = {url=, head=bool, dest=path, size=n, sha256=hex, max_body=n}
 * opts = {authorization=, user_agent=, timeout=s, retries=n, backoff=s, parallel=n,
 *         max_header_bytes=n} */
static int hub_transfer(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  size_t n = seer_rawlen(L, 1);
  transfer_box *b = lua_newuserdata(L, sizeof *b);
  memset(b, 0, sizeof *b);
  luaL_setmetatable(L, TRANSFER_MT);
  b->jobs = calloc(n ? n : 1, sizeof *b->jobs);
  b->strings = calloc(3 * n + 4, sizeof *b->strings);
  if (!b->jobs || !b->strings) return luaL_error(L, "out of memory");
  b->n = n;
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, 1, (lua_Integer)(i + 1));
    int t = lua_gettop(L);
    luaL_checktype(L, t, LUA_TTABLE);
    seer_hub_job *j = &b->jobs[i];
    const char *url = opt_string(L, t, "url");
    if (!url) return luaL_error(L, "hub.transfer: job %d has no url", (int)i + 1);
    j->url = keep(L, b, url);
    lua_getfield(L, t, "head");
    j->head = lua_toboolean(L, -1);
    lua_pop(L, 1);
    j->dest = keep(L, b, opt_string(L, t, "dest"));
    j->expect_size = (int64_t)opt_number(L, t, "size", -1);
    j->expect_sha256 = keep(L, b, opt_string(L, t, "sha256"));
    j->max_body = (size_t)opt_number(L, t, "max_body", 0);
    lua_pop(L, 1);
  }
  seer_hub_opts o = {0};
  o.retries = 5;
  if (lua_istable(L, 2)) {
    o.authorization = keep(L, b, opt_string(L, 2, "authorization"));
    o.user_agent = keep(L, b, opt_string(L, 2, "user_agent"));
    o.timeout_s = opt_number(L, 2, "timeout", 0);
    o.retries = (int)opt_number(L, 2, "retries", 5);
    o.backoff_s = opt_number(L, 2, "backoff", 0);
    o.parallel = (int)opt_number(L, 2, "parallel", 0);
    o.max_header_bytes = (size_t)opt_number(L, 2, "max_header_bytes", 0);
  }
  char err[256];
  b->t = seer_hub_transfer_start(b->jobs, n, &o, err, sizeof err);
  if (!b->t) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

static transfer_box *check_transfer(lua_State *L) {
  transfer_box *b = luaL_checkudata(L, 1, TRANSFER_MT);
  if (!b->jobs) luaL_error(L, "hub.transfer: already closed");
  return b;
}

/* t:step(timeout_ms) -> done */
static int transfer_step(lua_State *L) {
  transfer_box *b = check_transfer(L);
  int ms = (int)luaL_optinteger(L, 2, 100);
  lua_pushboolean(L, b->t ? seer_hub_transfer_step(b->t, ms) : 1);
  return 1;
}

/* t:progress() -> bytes, total (-1: unknown), jobs_done */
static int transfer_progress(lua_State *L) {
  transfer_box *b = check_transfer(L);
  int64_t bytes = 0, total = 0;
  size_t done = b->n;
  if (b->t) seer_hub_transfer_progress(b->t, &bytes, &total, &done);
  lua_pushnumber(L, (lua_Number)bytes);
  lua_pushnumber(L, (lua_Number)total);
  lua_pushinteger(L, (lua_Integer)done);
  return 3;
}

static const char *const ERROR_NAMES[] = {NULL,   "network", "timeout", "sha",
                                          "size", "headers", "disk",    "io"};

/* t:results() -> {{status=, error=kind|nil, message=, headers=, body=, file_bytes=, attempts=}} */
static int transfer_results(lua_State *L) {
  transfer_box *b = check_transfer(L);
  lua_createtable(L, (int)b->n, 0);
  for (size_t i = 0; i < b->n; i++) {
    seer_hub_job *j = &b->jobs[i];
    lua_createtable(L, 0, 7);
    lua_pushinteger(L, j->status);
    lua_setfield(L, -2, "status");
    if (j->error != SEER_HUB_OK) {
      lua_pushstring(L, ERROR_NAMES[j->error]);
      lua_setfield(L, -2, "error");
      lua_pushstring(L, j->message);
      lua_setfield(L, -2, "message");
    }
    lua_pushlstring(L, j->headers ? j->headers : "", j->headers_len);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, j->body ? j->body : "", j->body_len);
    lua_setfield(L, -2, "body");
    lua_pushnumber(L, (lua_Number)j->file_bytes);
    lua_setfield(L, -2, "file_bytes");
    lua_pushinteger(L, j->attempts);
    lua_setfield(L, -2, "attempts");
    lua_rawseti(L, -2, (lua_Integer)(i + 1));
  }
  return 1;
}

static int transfer_close(lua_State *L) {
  box_free(luaL_checkudata(L, 1, TRANSFER_MT));
  return 0;
}

static int push_errno(lua_State *L, const char *what, const char *path) {
  int e = errno;
  lua_pushnil(L);
  lua_pushfstring(L, "%s '%s': %s", what, path, strerror(e));
  lua_pushinteger(L, e);
  return 3;
}

/* lock(path, wait) -> fd | nil, err, "busy" when held elsewhere and not waiting */
static int hub_lock(lua_State *L) {
  const char *p = luaL_checkstring(L, 1);
  int fd = seer_hub_lock(p, lua_toboolean(L, 2));
  if (fd >= 0) {
    lua_pushinteger(L, fd);
    return 1;
  }
  if (errno == EWOULDBLOCK) {
    lua_pushnil(L);
    lua_pushstring(L, "busy");
    return 2;
  }
  return push_errno(L, "cannot lock", p);
}

static int hub_unlock(lua_State *L) {
  close((int)luaL_checkinteger(L, 1));
  return 0;
}

static int hub_free_bytes(lua_State *L) {
  const char *p = luaL_checkstring(L, 1);
  int64_t n = seer_hub_free_bytes(p);
  if (n < 0) return push_errno(L, "cannot stat the filesystem of", p);
  lua_pushnumber(L, (lua_Number)n);
  return 1;
}

static int hub_sha256_file(lua_State *L) {
  const char *p = luaL_checkstring(L, 1);
  char out[65];
  if (seer_hub_sha256_file(p, out) != 0) return push_errno(L, "cannot hash", p);
  lua_pushstring(L, out);
  return 1;
}

static int hub_symlink(lua_State *L) {
  const char *target = luaL_checkstring(L, 1), *dst = luaL_checkstring(L, 2);
  if (seer_hub_symlink(target, dst) != 0) return push_errno(L, "cannot create the symlink", dst);
  lua_pushboolean(L, 1);
  return 1;
}

static int hub_rename(lua_State *L) {
  const char *from = luaL_checkstring(L, 1), *to = luaL_checkstring(L, 2);
  if (rename(from, to) != 0) return push_errno(L, "cannot move", from);
  lua_pushboolean(L, 1);
  return 1;
}

/* lstat(path) -> "link"|"file"|"directory"|"other", size | nil */
static int hub_lstat(lua_State *L) {
  struct stat st;
  if (lstat(luaL_checkstring(L, 1), &st) != 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, S_ISLNK(st.st_mode)   ? "link"
                    : S_ISREG(st.st_mode) ? "file"
                    : S_ISDIR(st.st_mode) ? "directory"
                                          : "other");
  lua_pushnumber(L, (lua_Number)st.st_size);
  return 2;
}

static int hub_getpid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

static int hub_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

int luaopen_seer__hub(lua_State *L) {
  static const luaL_Reg transfer_methods[] = {{"step", transfer_step},
                                              {"progress", transfer_progress},
                                              {"results", transfer_results},
                                              {"close", transfer_close},
                                              {NULL, NULL}};
  luaL_newmetatable(L, TRANSFER_MT);
  lua_pushcfunction(L, transfer_close);
  lua_setfield(L, -2, "__gc");
  lua_newtable(L);
  luaL_setfuncs(L, transfer_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"transfer", hub_transfer},
                                 {"lock", hub_lock},
                                 {"unlock", hub_unlock},
                                 {"free_bytes", hub_free_bytes},
                                 {"sha256_file", hub_sha256_file},
                                 {"symlink", hub_symlink},
                                 {"rename", hub_rename},
                                 {"lstat", hub_lstat},
                                 {"isatty", hub_isatty},
                                 {"getpid", hub_getpid},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
