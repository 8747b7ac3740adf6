/* l_core.c: the `seer.core` module: loop primitives for the Lua scheduler (now, run_once, alive),
 * child processes, inherited descriptors (a stdio server's stdin and stdout), and build facts
 * (version, Lua flavour). Scheduling policy lives in seer/task.lua. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bindings.h"
#include "runtime_internal.h"
#include "seer/fdio.h"
#include "seer/log.h"
#include "seer/process.h"
#include "seer/sandbox.h"
#include "seer/version.h"
#if defined(SEER_LUAJIT)
#include <luajit.h>
#endif

#define PROCESS_MT "seer.core.process"
#define FDREADER_MT "seer.core.fdreader"

static int core_now(lua_State *L) {
  lua_pushnumber(L, seer_loop_now());
  return 1;
}

/* The one log level (runtime/core/log.c), which seer.log reads and sets, so that set_level in Lua
 * reaches the C runtime's messages too. log_level() -> name; set_log_level(name) raises on an
 * unknown name; log(name, component, msg) writes one line in the runtime's format. */
static int check_level(lua_State *L, int idx, const char *fn) {
  const char *name = luaL_checkstring(L, idx);
  int lvl = seer_log_parse_level(name);
  if (lvl < 0)
    return luaL_error(L, "%s: unknown level '%s' (use trace, debug, info, warn, error or off)", fn,
                      name);
  return lvl;
}

static int core_log_level(lua_State *L) {
  lua_pushstring(L, seer_log_level_name(seer_log_level()));
  return 1;
}

static int core_set_log_level(lua_State *L) {
  seer_log_set_level(check_level(L, 1, "seer.log.set_level"));
  return 0;
}

static int core_log(lua_State *L) {
  int lvl = check_level(L, 1, "seer.log");
  seer_log(lvl, luaL_optstring(L, 2, NULL), "%s", luaL_checkstring(L, 3));
  return 0;
}

/* run_once([timeout_s]): one loop iteration. Callbacks fired inside run Lua on this thread. */
static int core_run_once(lua_State *L) {
  seer_runtime *rt = lua_touserdata(L, lua_upvalueindex(1));
  double timeout = luaL_optnumber(L, 1, -1);
  lua_State *outer = rt->driving;
  rt->driving = L;
  int alive = seer_loop_run_once(rt->loop, timeout);
  rt->driving = outer;
  if (rt->callback_error_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->callback_error_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, rt->callback_error_ref);
    rt->callback_error_ref = LUA_NOREF;
    return lua_error(L);
  }
  lua_pushboolean(L, alive);
  return 1;
}

static int core_alive(lua_State *L) {
  seer_runtime *rt = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushboolean(L, seer_loop_alive(rt->loop));
  return 1;
}

/* ---- processes ---- */

typedef struct {
  seer_process *proc; /* NULL once closed */
  seer_runtime *rt;
  int callback_ref; /* fn(event, a, b) */
  int self_ref;     /* keeps the userdata alive while the child runs */
  int pid;
} process_box;

static void push_callback(process_box *b, lua_State **Lout) {
  lua_State *L = b->rt->driving;
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->callback_ref);
  *Lout = L;
}

static void on_output(seer_process *p, int fd, const char *data, size_t len, void *ud) {
  process_box *b = ud;
  if (b->rt->closing || !b->rt->driving) return;
  lua_State *L;
  push_callback(b, &L);
  lua_pushstring(L, fd == 1 ? "stdout" : "stderr");
  if (len)
    lua_pushlstring(L, data, len);
  else
    lua_pushnil(L);
  seer_runtime_callback(b->rt, L, 2);
}

static void on_process_exit(seer_process *p, int64_t status, int signal, void *ud) {
  process_box *b = ud;
  if (b->rt->closing || !b->rt->driving) return;
  lua_State *L;
  push_callback(b, &L);
  lua_pushstring(L, "exit");
  seer_pushinteger(L, status);
  seer_pushinteger(L, signal);
  seer_runtime_callback(b->rt, L, 3);
}

static void on_close(seer_process *p, void *ud) {
  process_box *b = ud;
  b->proc = NULL;
  lua_State *L = b->rt->L;
  luaL_unref(L, LUA_REGISTRYINDEX, b->callback_ref);
  luaL_unref(L, LUA_REGISTRYINDEX,
             b->self_ref); /* may make the box collectable: touch it no more */
}

/* Reads a list of strings at opts[field] into a NULL-terminated array (allocated in a userdata that
 * the caller leaves on the stack until the spawn is done). */
static const char **string_list(lua_State *L, int opts, const char *field, int required) {
  lua_getfield(L, opts, field);
  if (lua_isnil(L, -1)) {
    if (required) luaL_error(L, "process: '%s' is required", field);
    lua_pop(L, 1);
    return NULL;
  }
  luaL_checktype(L, -1, LUA_TTABLE);
  size_t n = seer_rawlen(L, -1);
  const char **list = lua_newuserdata(L, (n + 1) * sizeof *list);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, -2, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "process: %s[%d] must be a string, got %s", field, (int)i + 1,
                 luaL_typename(L, -1));
    list[i] = lua_tostring(L, -1);
    lua_pop(L, 1); /* the string stays referenced by the table */
  }
  list[n] = NULL;
  return list;
}

/* spawn{file=, argv={...}, env={"K=V",...}|nil, cwd=, stdin_pipe=bool}, callback -> process */
static int core_spawn(lua_State *L) {
  seer_runtime *rt = seer_runtime_from(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_getfield(L, 1, "file");
  const char *file = luaL_checkstring(L, -1);
  const char **argv = string_list(L, 1, "argv", 1);
  const char **env = string_list(L, 1, "env", 0);
  lua_getfield(L, 1, "cwd");
  const char *cwd = lua_tostring(L, -1);
  lua_getfield(L, 1, "stdin_pipe");
  int stdin_pipe = lua_toboolean(L, -1);

  process_box *b = lua_newuserdata(L, sizeof *b);
  memset(b, 0, sizeof *b);
  b->rt = rt;
  b->callback_ref = LUA_NOREF;
  b->self_ref = LUA_NOREF;
  luaL_setmetatable(L, PROCESS_MT);
  seer_process_opts o = {.file = file,
                         .argv = argv,
                         .env = env,
                         .cwd = cwd,
                         .stdin_pipe = stdin_pipe,
                         .on_output = on_output,
                         .on_exit = on_process_exit,
                         .on_close = on_close,
                         .ud = b};
  seer_error err;
  if (seer_process_spawn(rt->loop, &o, &b->proc, &err) != SEER_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  b->pid = seer_process_pid(b->proc);
  lua_pushvalue(L, 2);
  b->callback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  b->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static process_box *check_process(lua_State *L) { return luaL_checkudata(L, 1, PROCESS_MT); }

static int process_write(lua_State *L) {
  process_box *b = check_process(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  seer_error err;
  if (!b->proc) return luaL_error(L, "process %d: already closed", b->pid);
  if (seer_process_write(b->proc, data, len, &err) != SEER_OK) return luaL_error(L, "%s", err.msg);
  return 0;
}

static int process_close_stdin(lua_State *L) {
  process_box *b = check_process(L);
  if (b->proc) seer_process_close_stdin(b->proc);
  return 0;
}

static int process_kill(lua_State *L) {
  process_box *b = check_process(L);
  int sig = (int)luaL_optinteger(L, 2, SIGTERM);
  seer_error err;
  if (b->proc && seer_process_kill(b->proc, sig, &err) != SEER_OK)
    return luaL_error(L, "%s", err.msg);
  return 0;
}

/* keep_alive(on): whether the child keeps the loop (and so the program) running. */
static int process_keep_alive(lua_State *L) {
  process_box *b = check_process(L);
  if (b->proc) seer_process_keep_alive(b->proc, lua_toboolean(L, 2));
  return 0;
}

static int process_close_output(lua_State *L) {
  process_box *b = check_process(L);
  if (b->proc) seer_process_close_output(b->proc);
  return 0;
}

static int process_pid(lua_State *L) {
  lua_pushinteger(L, check_process(L)->pid);
  return 1;
}

/* ---- inherited descriptors: a stdio server's stdin and stdout ---- */

typedef struct {
  seer_fdreader *r; /* NULL once closed */
  seer_runtime *rt;
  int callback_ref; /* fn(data) per chunk; fn(nil, err|nil) at the end */
  int self_ref;
} fdreader_box;

static void on_fd_data(seer_fdreader *r, const char *data, size_t len, const char *error,
                       void *ud) {
  fdreader_box *b = ud;
  if (b->rt->closing || !b->rt->driving) return;
  lua_State *L = b->rt->driving;
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->callback_ref);
  if (len) {
    lua_pushlstring(L, data, len);
    lua_pushnil(L);
  } else {
    lua_pushnil(L);
    if (error)
      lua_pushstring(L, error);
    else
      lua_pushnil(L);
  }
  seer_runtime_callback(b->rt, L, 2);
}

static void on_fd_close(seer_fdreader *r, void *ud) {
  fdreader_box *b = ud;
  b->r = NULL;
  lua_State *L = b->rt->L;
  luaL_unref(L, LUA_REGISTRYINDEX, b->callback_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, b->self_ref); /* may make the box collectable */
}

/* read_fd(fd, callback) -> reader: reads an inherited descriptor on the loop. */
static int core_read_fd(lua_State *L) {
  seer_runtime *rt = seer_runtime_from(L);
  int fd = (int)luaL_checkinteger(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  fdreader_box *b = lua_newuserdata(L, sizeof *b);
  memset(b, 0, sizeof *b);
  b->rt = rt;
  luaL_setmetatable(L, FDREADER_MT);
  lua_pushvalue(L, 2);
  b->callback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  b->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  seer_fdreader_opts o = {.on_data = on_fd_data, .on_close = on_fd_close, .ud = b};
  seer_error err;
  if (seer_fdreader_open(rt->loop, fd, &o, &b->r, &err) != SEER_OK) {
    luaL_unref(L, LUA_REGISTRYINDEX, b->callback_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, b->self_ref);
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  return 1;
}

static fdreader_box *check_fdreader(lua_State *L) { return luaL_checkudata(L, 1, FDREADER_MT); }

static int fdreader_pause(lua_State *L) {
  fdreader_box *b = check_fdreader(L);
  if (b->r) seer_fdreader_pause(b->r);
  return 0;
}

static int fdreader_resume(lua_State *L) {
  fdreader_box *b = check_fdreader(L);
  if (b->r) seer_fdreader_resume(b->r);
  return 0;
}

static int fdreader_keep_alive(lua_State *L) {
  fdreader_box *b = check_fdreader(L);
  if (b->r) seer_fdreader_keep_alive(b->r, lua_toboolean(L, 2));
  return 0;
}

static int fdreader_close(lua_State *L) {
  fdreader_box *b = check_fdreader(L);
  if (b->r) seer_fdreader_close(b->r);
  return 0;
}

/* claim_stdout() -> fd | nil, err: a descriptor for protocol output; stdout then goes to stderr. */
static int core_claim_stdout(lua_State *L) {
  int fd;
  seer_error err;
  if (seer_fd_claim_stdout(&fd, &err) != SEER_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushinteger(L, fd);
  return 1;
}

/* write_fd(fd, data) -> true | nil, err: writes all of data, waiting for a slow reader. */
static int core_write_fd(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  seer_error err;
  if (seer_fd_write_all(fd, data, len, &err) != SEER_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int core_signal_number(lua_State *L) {
  static const struct {
    const char *name;
    int num;
  } sigs[] = {
      {"SIGTERM", SIGTERM}, {"SIGKILL", SIGKILL}, {"SIGINT", SIGINT},   {"SIGHUP", SIGHUP},
      {"SIGQUIT", SIGQUIT}, {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGSTOP", SIGSTOP},
      {"SIGCONT", SIGCONT}, {"SIGSEGV", SIGSEGV}, {"SIGABRT", SIGABRT}, {"SIGPIPE", SIGPIPE},
      {"SIGALRM", SIGALRM}, {"SIGBUS", SIGBUS},   {"SIGFPE", SIGFPE},   {"SIGILL", SIGILL}};
  const char *name = luaL_checkstring(L, 1);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    if (strcmp(name, sigs[i].name) == 0 || strcmp(name, sigs[i].name + 3) == 0) {
      lua_pushinteger(L, sigs[i].num);
      return 1;
    }
  }
  return 0;
}

static int core_signal_name(lua_State *L) {
  int sig = (int)luaL_checkinteger(L, 1);
  const char *d = strsignal(sig);
  lua_pushstring(L, d ? d : "unknown signal");
  return 1;
}

/* exe_path() -> absolute path of the running executable (what sandboxes bind in as seer-lua). */
static int core_exe_path(lua_State *L) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n < 0) return luaL_error(L, "seer.core.exe_path: cannot read /proc/self/exe");
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

/* secret_equal(a, b) -> whether two strings are equal, in time that depends only on their lengths:
 * tokens are compared with it, so that how long a wrong guess takes says nothing of the token. */
static int core_secret_equal(lua_State *L) {
  size_t na, nb;
  const unsigned char *a = (const unsigned char *)luaL_checklstring(L, 1, &na);
  const unsigned char *b = (const unsigned char *)luaL_checklstring(L, 2, &nb);
  unsigned diff = na != nb;
  for (size_t i = 0; i < na; i++)
    diff |= (unsigned)(a[i] ^ b[nb ? i % nb : 0]);
  lua_pushboolean(L, diff == 0);
  return 1;
}

/* random_hex(n) -> 2n lowercase hex digits from n bytes of the kernel's CSPRNG: tokens, session
 * keys and unique names. There is no weaker fallback: when the kernel cannot give randomness this
 * raises, since a predictable token would be worse than none. */
static int core_random_hex(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 1024, 1, "between 1 and 1024 bytes");
  unsigned char bytes[1024];
  char hex[2048];
  for (size_t got = 0; got < (size_t)n;) {
    ssize_t r = getrandom(bytes + got, (size_t)n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return luaL_error(L, "seer.core.random_hex: getrandom: %s", strerror(errno));
    got += (size_t)r;
  }
  static const char digits[] = "0123456789abcdef";
  for (lua_Integer i = 0; i < n; i++) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 15];
  }
  lua_pushlstring(L, hex, (size_t)(2 * n));
  return 1;
}

/* sandbox_helper() -> path of the seer-sandbox helper executable, or nil, err (not installed). */
static int core_sandbox_helper(lua_State *L) {
  char path[4096];
  seer_error err = {0, {0}};
  if (seer_sandbox_helper_path(path, sizeof path, &err) != SEER_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushstring(L, path);
  return 1;
}

/* environ() -> {NAME = value, ...}: this process's environment (to extend it for a child). */
static int core_environ(lua_State *L) {
  extern char **environ;
  lua_newtable(L);
  for (char **e = environ; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq || eq == *e) continue;
    lua_pushlstring(L, *e, (size_t)(eq - *e));
    lua_pushstring(L, eq + 1);
    lua_rawset(L, -3);
  }
  return 1;
}

/* ids() -> uid, gid of this process. */
static int core_ids(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getuid());
  lua_pushinteger(L, (lua_Integer)getgid());
  return 2;
}

int luaopen_seer_core(lua_State *L) {
  static const luaL_Reg process_methods[] = {{"write", process_write},
                                             {"close_stdin", process_close_stdin},
                                             {"kill", process_kill},
                                             {"close_output", process_close_output},
                                             {"pid", process_pid},
                                             {"keep_alive", process_keep_alive},
                                             {NULL, NULL}};
  if (luaL_newmetatable(L, PROCESS_MT)) {
    luaL_newlib(L, process_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  static const luaL_Reg fdreader_methods[] = {{"pause", fdreader_pause},
                                              {"resume", fdreader_resume},
                                              {"keep_alive", fdreader_keep_alive},
                                              {"close", fdreader_close},
                                              {NULL, NULL}};
  if (luaL_newmetatable(L, FDREADER_MT)) {
    luaL_newlib(L, fdreader_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"now", core_now},
                                 {"log_level", core_log_level},
                                 {"set_log_level", core_set_log_level},
                                 {"log", core_log},
                                 {"spawn", core_spawn},
                                 {"signal_number", core_signal_number},
                                 {"signal_name", core_signal_name},
                                 {"exe_path", core_exe_path},
                                 {"sandbox_helper", core_sandbox_helper},
                                 {"secret_equal", core_secret_equal},
                                 {"random_hex", core_random_hex},
                                 {"ids", core_ids},
                                 {"environ", core_environ},
                                 {"read_fd", core_read_fd},
                                 {"write_fd", core_write_fd},
                                 {"claim_stdout", core_claim_stdout},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  /* The scheduler calls these on every round: the runtime is an upvalue, not a registry lookup. */
  static const luaL_Reg loop_fns[] = {
      {"run_once", core_run_once}, {"alive", core_alive}, {NULL, NULL}};
  lua_pushlightuserdata(L, seer_runtime_from(L));
  luaL_setfuncs(L, loop_fns, 1);
  lua_pushstring(L, SEER_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, SEER_LUA_FLAVOUR);
  lua_setfield(L, -2, "lua_flavour");
#if defined(SEER_LUAJIT)
  lua_pushstring(L, LUAJIT_VERSION);
#else
  lua_pushstring(L, LUA_RELEASE);
#endif
  lua_setfield(L, -2, "lua_version");
  return 1;
}
