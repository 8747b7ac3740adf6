/* l_jupyter.c: the `seer._jupyter` module: a Jupyter kernel's sockets (runtime/jupyter) as a Lua
 * userdata that receives and sends messages as JSON strings, and the interrupt policy while a
 * cell runs: SIGINT (sent by the client, or by the control thread for an interrupt_request) hooks
 * the running Lua state so it raises "interrupted" at its next instruction, and sets the flag that
 * the model's forward pass polls. The protocol itself is stdlib/seer/kernel/. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "compat.h"
#include "runtime_internal.h"
#include "seer/interrupt.h"
#include "seer/jupyter.h"

#define KERNEL_MT "seer.jupyter.kernel"
#define BROKER_MT "seer.jupyter.broker"

typedef struct {
  seer_jupyter_kernel *k; /* NULL once closed */
} kernel_box;

static const char *const channel_names[] = {"shell", "iopub", "stdin", "control", "hb", NULL};

static seer_jupyter_kernel *check_open(lua_State *L) {
  kernel_box *b = luaL_checkudata(L, 1, KERNEL_MT);
  if (!b->k) luaL_error(L, "jupyter kernel: already closed");
  return b->k;
}

/* open{transport=, ip=, key=, client=bool, shell_port=, iopub_port=, stdin_port=, control_port=,
 * hb_port=} */
static int l_open(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  seer_jupyter_config cfg;
  memset(&cfg, 0, sizeof cfg);
  lua_getfield(L, 1, "transport");
  cfg.transport = luaL_optstring(L, -1, "tcp");
  lua_getfield(L, 1, "ip");
  cfg.ip = luaL_optstring(L, -1, "127.0.0.1");
  lua_getfield(L, 1, "key");
  cfg.key = luaL_optlstring(L, -1, "", &cfg.key_len);
  lua_getfield(L, 1, "client");
  cfg.client = lua_toboolean(L, -1);
  lua_getfield(L, 1, "connect");
  cfg.connect = lua_toboolean(L, -1);
  for (int ch = 0; ch < SEER_JUPYTER_NCHANNELS; ch++) {
    lua_pushfstring(L, "%s_port", channel_names[ch]);
    lua_gettable(L, 1);
    lua_Integer p = luaL_optinteger(L, -1, 0);
    if (p < 0 || p > 65535)
      return luaL_error(L, "jupyter.open: %s_port out of range", channel_names[ch]);
    cfg.ports[ch] = (int)p;
    lua_pop(L, 1);
  }
  kernel_box *b = lua_newuserdata(L, sizeof *b);
  b->k = NULL;
  luaL_setmetatable(L, KERNEL_MT);
  seer_error err = {0, ""};
  if (seer_jupyter_open(&cfg, &b->k, &err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  return 1;
}

static int k_ports(lua_State *L) {
  seer_jupyter_kernel *k = check_open(L);
  lua_createtable(L, 0, SEER_JUPYTER_NCHANNELS);
  for (int ch = 0; ch < SEER_JUPYTER_NCHANNELS; ch++) {
    lua_pushinteger(L, seer_jupyter_port(k, ch));
    lua_setfield(L, -2, channel_names[ch]);
  }
  return 1;
}

/* k:recv(timeout_ms) -> channel, {ids=, header=, parent_header=, metadata=, content=, buffers=}
 * or nil on timeout (or a signal). */
static int k_recv(lua_State *L) {
  seer_jupyter_kernel *k = check_open(L);
  int timeout = (int)luaL_optinteger(L, 2, -1);
  seer_jupyter_msg m;
  int ch = 0;
  seer_error err = {0, ""};
  int r = seer_jupyter_recv(k, timeout, &m, &ch, &err);
  if (r < 0) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  if (r == 0) return 0;
  lua_pushstring(L, channel_names[ch]);
  lua_createtable(L, 0, 6);
  lua_createtable(L, m.nids, 0);
  for (int i = 0; i < m.nids; i++) {
    lua_pushlstring(L, m.frames[i], m.lens[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "ids");
  static const char *const parts[] = {"header", "parent_header", "metadata", "content"};
  for (int i = 0; i < 4; i++) {
    lua_pushlstring(L, m.frames[m.nids + 2 + i], m.lens[m.nids + 2 + i]);
    lua_setfield(L, -2, parts[i]);
  }
  lua_createtable(L, m.nframes - m.nids - 6, 0);
  for (int i = m.nids + 6; i < m.nframes; i++) {
    lua_pushlstring(L, m.frames[i], m.lens[i]);
    lua_rawseti(L, -2, i - m.nids - 5);
  }
  lua_setfield(L, -2, "buffers");
  seer_jupyter_msg_free(&m);
  return 2;
}

static int read_parts(lua_State *L, int idx, seer_jupyter_part *out, int max, const char *what) {
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  int n = (int)seer_rawlen(L, idx);
  if (n > max) luaL_error(L, "jupyter send: more than %d %s", max, what);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, idx, i + 1);
    out[i].data = luaL_checklstring(L, -1, &out[i].len); /* kept alive by the table */
    lua_pop(L, 1);
  }
  return n;
}

/* k:send(channel, ids, header, parent_header, metadata, content[, buffers]) -> true | nil, err */
static int k_send(lua_State *L) {
  seer_jupyter_kernel *k = check_open(L);
  int ch = luaL_checkoption(L, 2, NULL, channel_names);
  seer_jupyter_part ids[16], parts[4], bufs[64];
  int nids = read_parts(L, 3, ids, 16, "identities");
  for (int i = 0; i < 4; i++)
    parts[i].data = luaL_checklstring(L, 4 + i, &parts[i].len);
  int nbufs = read_parts(L, 8, bufs, 64, "buffers");
  seer_error err = {0, ""};
  if (seer_jupyter_send(k, ch, ids, nids, parts, bufs, nbufs, &err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int k_dropped(lua_State *L) {
  seer_pushinteger(L, (long long)seer_jupyter_dropped(check_open(L)));
  return 1;
}

static int k_close(lua_State *L) {
  kernel_box *b = luaL_checkudata(L, 1, KERNEL_MT);
  seer_jupyter_close(b->k);
  b->k = NULL;
  return 0;
}

/* sign(key, part...) -> hex HMAC-SHA256, as the wire format carries it */
static int l_sign(lua_State *L) {
  size_t klen;
  const char *key = luaL_checklstring(L, 1, &klen);
  int n = lua_gettop(L) - 1;
  if (n > 16) return luaL_error(L, "jupyter.sign: at most 16 parts");
  seer_jupyter_part parts[16];
  for (int i = 0; i < n; i++)
    parts[i].data = luaL_checklstring(L, i + 2, &parts[i].len);
  char out[65];
  seer_error err = {0, ""};
  if (seer_jupyter_sign(key, klen, parts, n, out, &err) != 0) return luaL_error(L, "%s", err.msg);
  lua_pushstring(L, out);
  return 1;
}

/* process_alive(pid) -> bool: whether pid exists (the kernel's parent, JPY_PARENT_PID). */
static int l_process_alive(lua_State *L) {
  lua_Integer pid = luaL_checkinteger(L, 1);
  lua_pushboolean(L, pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM));
  return 1;
}

/* ---- a sandboxed kernel's broker ---- */

typedef struct {
  seer_jupyter_broker *b; /* NULL once closed */
} broker_box;

/* broker(front, back) -> broker | nil, err: binds "<front>-1..5" for clients and "<back>-1..5"
 * for a kernel that connects, and relays between them until closed. */
static int l_broker(lua_State *L) {
  const char *front = luaL_checkstring(L, 1), *back = luaL_checkstring(L, 2);
  broker_box *box = lua_newuserdata(L, sizeof *box);
  box->b = NULL;
  luaL_setmetatable(L, BROKER_MT);
  seer_error err = {0, ""};
  if (seer_jupyter_broker_open(front, back, &box->b, &err) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  return 1;
}

static int broker_close(lua_State *L) {
  broker_box *box = luaL_checkudata(L, 1, BROKER_MT);
  if (box->b) seer_jupyter_broker_close(box->b);
  box->b = NULL;
  return 0;
}

/* ---- interrupts while a cell runs ---- */

static lua_State *running_state;
static seer_runtime *running_rt;

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  /* C work that saw the interrupt (the forward pass) took it and raised its own error; the hook
   * would otherwise fire in that error's message handler and replace it. */
  if (!seer_interrupt_pending()) return;
  luaL_error(L, "interrupted");
}

static void on_sigint(int sig) {
  (void)sig;
  if (!running_state) return; /* idle: nothing to stop */
  seer_interrupt_set();
  /* lua_sethook is async-signal-safe; the hook raises at the next instruction. */
  lua_sethook(running_state, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  if (running_rt && running_rt->loop) seer_loop_wakeup(running_rt->loop);
}

/* watch_interrupts(on): while on, SIGINT interrupts the calling Lua state; off removes the hook
 * and forgets an interrupt that came too late to stop anything. */
static int l_watch_interrupts(lua_State *L) {
  static int installed;
  if (!installed) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    installed = 1;
  }
  seer_interrupt_clear();
  if (lua_toboolean(L, 1)) {
    running_rt = seer_runtime_from(L);
    running_state = L;
  } else {
    running_state = NULL;
    lua_sethook(L, NULL, 0, 0);
  }
  return 0;
}

int luaopen_seer__jupyter(lua_State *L) {
  static const luaL_Reg methods[] = {{"ports", k_ports},     {"recv", k_recv},   {"send", k_send},
                                     {"dropped", k_dropped}, {"close", k_close}, {NULL, NULL}};
  luaL_newmetatable(L, KERNEL_MT);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, k_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, BROKER_MT);
  lua_newtable(L);
  lua_pushcfunction(L, broker_close);
  lua_setfield(L, -2, "close");
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, broker_close);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"open", l_open},
                                 {"broker", l_broker},
                                 {"sign", l_sign},
                                 {"watch_interrupts", l_watch_interrupts},
                                 {"process_alive", l_process_alive},
                                 {NULL, NULL}};
  lua_newtable(L);
  luaL_setfuncs(L, fns, 0);
  return 1;
}
