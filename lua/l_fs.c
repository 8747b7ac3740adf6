/* l_fs.c: the `seer.fs` module, a thin binding of seer/fs.h. Failures return nil plus a message
 * (the luv convention of bindings.h); argument mistakes raise. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bindings.h"
#include "runtime_internal.h"
#include "seer/fs.h"

/* Failures name the path already (seer/fs.h), so the message goes out as it is. */
static int fail(lua_State *L, const seer_error *err) { return seer_lua_fail(L, NULL, err); }

static int fs_read(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  seer_buf b = SEER_BUF_INIT;
  seer_error err;
  if (seer_fs_read(path, &b, &err) != SEER_OK) {
    seer_buf_free(&b);
    return fail(L, &err);
  }
  lua_pushlstring(L, b.data ? b.data : "", b.len);
  seer_buf_free(&b);
  return 1;
}

static int fs_write(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_Integer mode = luaL_optinteger(L, 3, -1);
  luaL_argcheck(L, mode >= -1 && mode <= 07777, 3,
                "a permission mode such as tonumber(\"600\", 8)");
  seer_error err;
  if (seer_fs_write_atomic_mode(path, data, len, (int)mode, &err) != SEER_OK) return fail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int fs_mkdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int mode = (int)luaL_optinteger(L, 2, 0777);
  seer_error err;
  if (seer_fs_mkdir_p(path, mode, &err) != SEER_OK) return fail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int fs_list(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char **names;
  size_t n;
  seer_error err;
  if (seer_fs_list(path, &names, &n, &err) != SEER_OK) return fail(L, &err);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  seer_fs_list_free(names, n);
  return 1;
}

static int fs_kind(lua_State *L) {
  static const char *const kinds[] = {NULL, "file", "directory", "other"};
  const char *k = kinds[seer_fs_kind(luaL_checkstring(L, 1))];
  if (k)
    lua_pushstring(L, k);
  else
    lua_pushnil(L);
  return 1;
}

static int fs_exists(lua_State *L) {
  lua_pushboolean(L, seer_fs_kind(luaL_checkstring(L, 1)) != SEER_FS_NONE);
  return 1;
}

static int fs_is_dir(lua_State *L) {
  lua_pushboolean(L, seer_fs_kind(luaL_checkstring(L, 1)) == SEER_FS_DIR);
  return 1;
}

static int fs_is_file(lua_State *L) {
  lua_pushboolean(L, seer_fs_kind(luaL_checkstring(L, 1)) == SEER_FS_FILE);
  return 1;
}

static int fs_remove(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  seer_error err;
  if (seer_fs_remove_tree(path, &err) != SEER_OK) return fail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

static int fs_tmpdir(lua_State *L) {
  char out[4096];
  seer_error err;
  if (seer_fs_tmpdir(luaL_optstring(L, 1, "seer"), out, sizeof out, &err) != SEER_OK)
    return fail(L, &err);
  lua_pushstring(L, out);
  return 1;
}

static int fs_cwd(lua_State *L) {
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  lua_pushstring(L, buf);
  return 1;
}

static int fs_size(lua_State *L) {
  struct stat st;
  const char *path = luaL_checkstring(L, 1);
  if (stat(path, &st) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot stat '%s': %s", path, strerror(errno));
    return 2;
  }
  seer_pushinteger(L, (long long)st.st_size);
  return 1;
}

/* readlink(path) -> target | nil, err (nil, nil when path is not a symlink) */
static int fs_readlink(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char buf[4096];
  ssize_t n = readlink(path, buf, sizeof buf - 1);
  if (n < 0) {
    lua_pushnil(L);
    if (errno == EINVAL) return 1;
    lua_pushfstring(L, "cannot read link '%s': %s", path, strerror(errno));
    return 2;
  }
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

/* realpath(path) -> the absolute path with every symlink resolved | nil, err */
static int fs_realpath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *r = realpath(path, NULL);
  if (!r) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot resolve '%s': %s", path, strerror(errno));
    return 2;
  }
  lua_pushstring(L, r);
  free(r);
  return 1;
}

/* chmod(path, mode) -> true | nil, err */
static int fs_chmod(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (chmod(path, (mode_t)luaL_checkinteger(L, 2)) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "cannot chmod '%s': %s", path, strerror(errno));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* lock(path) -> lock | nil, err: an exclusive flock on path (created 0600, never through a
 * symlink), waiting for other holders; released by lock:unlock() or garbage collection. For
 * short critical sections between processes (two writers of one file). */
#define LOCK_MT "seer.fs.lock"

static int lock_unlock(lua_State *L) {
  int *fd = luaL_checkudata(L, 1, LOCK_MT);
  if (*fd >= 0) close(*fd); /* closing the only descriptor releases the flock */
  *fd = -1;
  return 0;
}

static int fs_lock(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int *fd = lua_newuserdata(L, sizeof *fd);
  *fd = -1;
  if (luaL_newmetatable(L, LOCK_MT)) {
    lua_newtable(L);
    lua_pushcfunction(L, lock_unlock);
    lua_setfield(L, -2, "unlock");
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lock_unlock);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  *fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  int rc = *fd < 0 ? -1 : 0;
  while (rc == 0 && flock(*fd, LOCK_EX) != 0) {
    if (errno != EINTR) rc = -1;
  }
  if (rc != 0) {
    int e = errno;
    if (*fd >= 0) close(*fd);
    *fd = -1;
    lua_pushnil(L);
    lua_pushfstring(L, "cannot lock '%s': %s", path, strerror(e));
    return 2;
  }
  return 1;
}

int luaopen_seer_fs(lua_State *L) {
  static const luaL_Reg fns[] = {{"read", fs_read},
                                 {"write", fs_write},
                                 {"mkdir", fs_mkdir},
                                 {"list", fs_list},
                                 {"kind", fs_kind},
                                 {"exists", fs_exists},
                                 {"is_dir", fs_is_dir},
                                 {"is_file", fs_is_file},
                                 {"remove", fs_remove},
                                 {"tmpdir", fs_tmpdir},
                                 {"cwd", fs_cwd},
                                 {"size", fs_size},
                                 {"readlink", fs_readlink},
                                 {"chmod", fs_chmod},
                                 {"realpath", fs_realpath},
                                 {"lock", fs_lock},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
