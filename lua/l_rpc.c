/* l_rpc.c: the `seer._rpc` module: listeners, connections and stop signals of runtime/rpc as Lua
 * userdata. Frames arrive as Lua values converted straight from msgpack-c objects, and go out
 * packed straight from Lua values. Events are delivered to a Lua handler on the thread driving
 * the loop; the request/response protocol is in seer/rpc.lua. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "lmsgpack_convert.h"
#include "runtime_internal.h"
#include "seer/rpc.h"

#define CONN_MT "seer.rpc.conn"
#define LISTENER_MT "seer.rpc.listener"
#define STOP_MT "seer.rpc.stopwatch"
#define TLS_MT "seer.rpc.tls"
/* Frames bigger than this are handed to the socket without a copy (the packer's buffer moves). */
#define COPY_LIMIT (64 * 1024)

/* Registry slot of the ext decoder table used for incoming frames (set by seer.rpc). */
static const char DECODERS_KEY = 'd';

typedef struct {
  seer_rpc_conn *conn; /* NULL once closed */
  seer_runtime *rt;
  int handler_ref; /* fn(event, value) */
  int self_ref;    /* keeps the userdata alive while the connection is open */
  int connected;   /* accepted, or connect() completed */
  int split_calls; /* calls and replies as ("call"|"reply", ...) events (conn:split_calls) */
  char peer[300];
} conn_box;

typedef struct {
  seer_rpc_listener *l; /* NULL once closed */
  seer_runtime *rt;
  int on_accept_ref;
  seer_rpc_tls_ctx *tls; /* accepted connections speak TLS with it (kept alive by tls_ref) */
  int tls_ref;
  char address[300];
} listener_box;

/* The output buffer of a send. Big frames move to the socket without a copy, and the next big frame
 * is allocated at the size of the last one at once, instead of growing by doubling (each doubling
 * is a copy of everything so far). */
typedef struct {
  char *data;
  size_t size, cap, hint;
} out_buf;

typedef struct {
  out_buf buf;
  msgpack_packer pk;
  int busy;
} packer_box;

static int out_write(void *ud, const char *src, size_t len) {
  out_buf *o = ud;
  if (o->size + len > o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 4096;
    if (cap < o->hint) cap = o->hint;
    while (cap < o->size + len)
      cap *= 2;
    char *d = realloc(o->data, cap);
    if (!d) return -1;
    o->data = d;
    o->cap = cap;
  }
  memcpy(o->data + o->size, src, len);
  o->size += len;
  return 0;
}

/* ---- connection events ---- */

static int push_handler(conn_box *b, lua_State **Lout) {
  if (b->rt->closing || !b->rt->driving || b->handler_ref == LUA_NOREF) return 0;
  lua_State *L = b->rt->driving;
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->handler_ref);
  *Lout = L;
  return 1;
}

/* On a connection with split_calls set, the frames a call and its answer travel in, [0, msgid,
 * method, params] and [1, msgid, error, result], are delivered as ("call", msgid, method, params)
 * and ("reply", msgid, error, result): no table for the frame itself, and the protocol code reads
 * four arguments instead of indexing one. Any other frame comes as ("message", value) for the
 * protocol code to judge. */
static int frame_shape(const msgpack_object *o) {
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4) return 0;
  const msgpack_object *v = o->via.array.ptr;
  if (v[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) return 0;
  if (v[0].via.u64 == 0 && v[2].type == MSGPACK_OBJECT_STR && v[3].type == MSGPACK_OBJECT_ARRAY)
    return 1;
  if (v[0].via.u64 == 1) return 2;
  return 0;
}

/* Protected conversion: a frame that cannot become Lua values (a decoder raised) is reported to the
 * handler as an "invalid" event instead of unwinding through libuv. Pushes the event name and its
 * values. */
static int convert_frame(lua_State *L) {
  const msgpack_object *o = lua_touserdata(L, 1);
  int split = lua_toboolean(L, 2);
  lua_pushlightuserdata(L, (void *)&DECODERS_KEY);
  lua_rawget(L, LUA_REGISTRYINDEX);
  int decoders = lua_istable(L, -1) ? lua_gettop(L) : 0;
  int shape = split ? frame_shape(o) : 0;
  if (shape == 0) {
    lua_pushliteral(L, "message");
    seer_lmsgpack_push(L, o, decoders);
    return 2;
  }
  lua_pushstring(L, shape == 1 ? "call" : "reply");
  for (int i = 1; i < 4; i++)
    seer_lmsgpack_push(L, &o->via.array.ptr[i], decoders);
  return 4;
}

/* Counts down *budget over o's values; 0 when o holds an ext or a map (whose conversion calls a
 * decoder or may raise) or more values than the budget allowed. */
static int plain_values(const msgpack_object *o, int *budget) {
  if (--*budget < 0) return 0;
  if (o->type == MSGPACK_OBJECT_EXT || o->type == MSGPACK_OBJECT_MAP) return 0;
  if (o->type == MSGPACK_OBJECT_ARRAY)
    for (uint32_t i = 0; i < o->via.array.size; i++)
      if (!plain_values(&o->via.array.ptr[i], budget)) return 0;
  return 1;
}

static void on_message(seer_rpc_conn *c, const msgpack_object *obj, void *ud) {
  conn_box *b = ud;
  lua_State *L;
  if (!push_handler(b, &L)) return;
  int base = lua_gettop(L);
  int shape = b->split_calls ? frame_shape(obj) : 0;
  int budget = 16;
  if (shape && plain_values(obj, &budget)) {
    /* A small call or reply of plain values cannot fail to convert: no protected call (like the
     * other events' few pushes, only running out of memory could raise here). */
    lua_pushstring(L, shape == 1 ? "call" : "reply");
    for (int i = 1; i < 4; i++)
      seer_lmsgpack_push(L, &obj->via.array.ptr[i], 0);
    seer_runtime_callback(b->rt, L, 4);
    return;
  }
  lua_pushcfunction(L, convert_frame);
  lua_pushlightuserdata(L, (void *)obj);
  lua_pushboolean(L, b->split_calls);
  if (lua_pcall(L, 2, LUA_MULTRET, 0) != LUA_OK) {
    lua_pushstring(L, "invalid");
    lua_insert(L, -2);
  }
  seer_runtime_callback(b->rt, L, lua_gettop(L) - base);
}

static void on_connect(seer_rpc_conn *c, int status, const seer_error *err, void *ud) {
  conn_box *b = ud;
  b->connected = status == 0;
  lua_State *L;
  if (!push_handler(b, &L)) return;
  lua_pushstring(L, "connect");
  if (status == 0)
    lua_pushnil(L);
  else
    lua_pushstring(L, err->msg);
  seer_runtime_callback(b->rt, L, 2);
}

static void on_close(seer_rpc_conn *c, const char *reason, void *ud) {
  conn_box *b = ud;
  b->conn = NULL;
  lua_State *L;
  if (push_handler(b, &L)) {
    lua_pushstring(L, "close");
    if (reason)
      lua_pushstring(L, reason);
    else
      lua_pushnil(L);
    seer_runtime_callback(b->rt, L, 2);
  }
  L = b->rt->L;
  luaL_unref(L, LUA_REGISTRYINDEX, b->handler_ref);
  b->handler_ref = LUA_NOREF;
  luaL_unref(L, LUA_REGISTRYINDEX, b->self_ref); /* may make the box collectable */
}

static void on_timer(seer_rpc_conn *c, void *ud) {
  conn_box *b = ud;
  lua_State *L;
  if (!push_handler(b, &L)) return;
  lua_pushstring(L, "timer");
  lua_pushnil(L);
  seer_runtime_callback(b->rt, L, 2);
}

/* Raw connections: a "data" event with the bytes as a string. */
static void on_bytes(seer_rpc_conn *c, const char *data, size_t len, void *ud) {
  conn_box *b = ud;
  lua_State *L;
  if (!push_handler(b, &L)) return;
  lua_pushstring(L, "data");
  lua_pushlstring(L, data, len);
  seer_runtime_callback(b->rt, L, 2);
}

static const seer_rpc_conn_cbs conn_cbs = {on_connect, on_message, on_close, on_timer, on_bytes};

static conn_box *new_conn_box(lua_State *L, seer_runtime *rt) {
  conn_box *b = lua_newuserdata(L, sizeof *b);
  memset(b, 0, sizeof *b);
  b->rt = rt;
  b->handler_ref = LUA_NOREF;
  b->self_ref = LUA_NOREF;
  luaL_setmetatable(L, CONN_MT);
  return b;
}

/* The limit fields a Lua table may set (a name table, in the order of seer_rpc_limits). */
static const struct {
  const char *name;
  size_t offset;
} LIMIT_FIELDS[] = {{"max_frame", offsetof(seer_rpc_limits, max_frame)},
                    {"max_objects", offsetof(seer_rpc_limits, max_objects)},
                    {"max_depth", offsetof(seer_rpc_limits, max_depth)},
                    {"max_decoded", offsetof(seer_rpc_limits, max_decoded)}};
#define NLIMITS (sizeof LIMIT_FIELDS / sizeof LIMIT_FIELDS[0])

/* A limits table {max_frame=, max_objects=, max_depth=, max_decoded=} (nil or missing fields: the
 * defaults). */
static seer_rpc_limits opt_limits(lua_State *L, int idx) {
  seer_rpc_limits l;
  memset(&l, 0, sizeof l);
  if (lua_isnoneornil(L, idx)) return l;
  luaL_checktype(L, idx, LUA_TTABLE);
  for (size_t i = 0; i < NLIMITS; i++) {
    lua_getfield(L, idx, LIMIT_FIELDS[i].name);
    if (!lua_isnil(L, -1)) {
      lua_Number n = lua_tonumber(L, -1);
      if (!lua_isnumber(L, -1) || !(n >= 1) || n > 1e18)
        luaL_error(L, "rpc: %s must be a positive number", LIMIT_FIELDS[i].name);
      *(size_t *)((char *)&l + LIMIT_FIELDS[i].offset) = (size_t)n;
    }
    lua_pop(L, 1);
  }
  seer_rpc_limits_normalize(&l);
  return l;
}

static void push_limits(lua_State *L, seer_rpc_limits l) {
  lua_createtable(L, 0, NLIMITS);
  for (size_t i = 0; i < NLIMITS; i++) {
    lua_pushnumber(L, (lua_Number) * (size_t *)((char *)&l + LIMIT_FIELDS[i].offset));
    lua_setfield(L, -2, LIMIT_FIELDS[i].name);
  }
}

/* ---- TLS contexts ---- */

typedef struct {
  seer_rpc_tls_ctx *ctx;
} tls_box;

static int tls_gc(lua_State *L) {
  tls_box *t = luaL_checkudata(L, 1, TLS_MT);
  seer_rpc_tls_ctx_free(t->ctx);
  t->ctx = NULL;
  return 0;
}

static int push_tls(lua_State *L, seer_rpc_tls_ctx *ctx, const seer_error *err) {
  if (!ctx) {
    lua_pushnil(L);
    lua_pushstring(L, err->msg);
    return 2;
  }
  tls_box *t = lua_newuserdata(L, sizeof *t);
  t->ctx = ctx;
  luaL_setmetatable(L, TLS_MT);
  return 1;
}

/* tls_server(cert_pem, key_pem) -> ctx | nil, err */
static int rpc_tls_server(lua_State *L) {
  seer_error err;
  return push_tls(L, seer_rpc_tls_server_ctx(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &err),
                  &err);
}

/* tls_client(pin) -> ctx | nil, err: accepts only the server certificate with that SHA-256. */
static int rpc_tls_client(lua_State *L) {
  seer_error err;
  return push_tls(L, seer_rpc_tls_client_ctx(luaL_checkstring(L, 1), &err), &err);
}

/* tls_cert() -> cert_pem, key_pem, sha256_hex | nil, err: a new self-signed certificate. */
static int rpc_tls_cert(lua_State *L) {
  char *cert, *key, fp[65];
  seer_error err;
  if (seer_rpc_tls_make_cert(&cert, &key, fp, &err) != SEER_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushstring(L, cert);
  lua_pushstring(L, key);
  lua_pushstring(L, fp);
  free(key);
  free(cert);
  return 3;
}

static seer_rpc_tls_ctx *opt_tls(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return NULL;
  tls_box *t = luaL_checkudata(L, idx, TLS_MT);
  if (!t->ctx) luaL_error(L, "rpc: the TLS context is gone");
  return t->ctx;
}

/* connect(addr, handler [, limits [, raw [, tls]]]) -> conn | nil, err. handler gets ("connect",
 * nil|err); raw: a byte stream, whose bytes come as ("data", string) events; tls: a tls_client
 * context (then "connect" comes once the handshake is done and the pin checked). */
static int rpc_connect(lua_State *L) {
  seer_runtime *rt = seer_runtime_from(L);
  const char *addr = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  seer_rpc_conn_opts opts = {
      .limits = opt_limits(L, 3), .answer_errors = 0, .raw = lua_toboolean(L, 4)};
  seer_rpc_tls_ctx *tls = opt_tls(L, 5);
  conn_box *b = new_conn_box(L, rt);
  seer_error err;
  if (seer_rpc_connect(rt->loop, addr, &opts, &conn_cbs, b, &b->conn, &err) != SEER_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  if (tls && seer_rpc_conn_use_tls(b->conn, tls, &err) != SEER_OK) {
    seer_rpc_conn_close(b->conn); /* not yet connected: nothing reaches Lua */
    b->conn = NULL;
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  memcpy(b->peer, seer_rpc_conn_peer(b->conn), sizeof b->peer);
  lua_pushvalue(L, 2);
  b->handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  b->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static conn_box *check_conn(lua_State *L) { return luaL_checkudata(L, 1, CONN_MT); }

/* conn:start(handler [, limits [, answer_errors [, raw]]]): begin reading an accepted connection
 * (raw: as a byte stream, see connect). */
static int conn_start(lua_State *L) {
  conn_box *b = check_conn(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (!b->conn) return luaL_error(L, "rpc: connection %s is closed", b->peer);
  seer_rpc_conn_opts opts = {
      .limits = opt_limits(L, 3), .answer_errors = lua_toboolean(L, 4), .raw = lua_toboolean(L, 5)};
  lua_pushvalue(L, 2);
  luaL_unref(L, LUA_REGISTRYINDEX, b->handler_ref);
  b->handler_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  seer_rpc_conn_start(b->conn, &opts, &conn_cbs, b);
  return 0;
}

/* Hands the packed frame to the connection; pushes true | nil, err. */
static int send_packed(lua_State *L, conn_box *b, packer_box *p) {
  seer_error err;
  int src;
  if (p->buf.size > COPY_LIMIT) {
    char *data = p->buf.data;
    size_t n = p->buf.size;
    p->buf.hint = n + n / 8;
    p->buf.data = NULL;
    p->buf.size = p->buf.cap = 0;
    src = seer_rpc_conn_send_owned(b->conn, data, n, &err);
  } else {
    src = seer_rpc_conn_send(b->conn, p->buf.data, p->buf.size, &err);
  }
  if (src != SEER_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* Packs what pack_protected (upvalue 2) packs from the values above the connection; returns the
 * pcall status (an encoding error is left on the stack). */
static int pack_frame(lua_State *L, packer_box *p, int nvalues) {
  if (p->busy) return luaL_error(L, "rpc: send called while encoding another frame");
  p->buf.size = 0;
  p->busy = 1;
  /* Encoding may raise (a function value, a cycle): clear busy first via a protected call. */
  lua_pushvalue(L, lua_upvalueindex(2)); /* pack_protected */
  lua_pushlightuserdata(L, p);
  for (int i = 0; i < nvalues; i++)
    lua_pushvalue(L, 2 + i);
  int rc = lua_pcall(L, 1 + nvalues, 0, 0);
  p->busy = 0;
  return rc;
}

/* conn:send(value) -> true | nil, err. Raises when value cannot be encoded (nothing is sent). */
static int conn_send(lua_State *L) {
  conn_box *b = check_conn(L);
  luaL_checkany(L, 2);
  packer_box *p = lua_touserdata(L, lua_upvalueindex(1));
  if (!b->conn) {
    lua_pushnil(L);
    lua_pushfstring(L, "rpc: connection to %s is closed", b->peer);
    return 2;
  }
  lua_settop(L, 2);
  if (pack_frame(L, p, 1) != LUA_OK) return lua_error(L);
  return send_packed(L, b, p);
}

/* Values whose encoding cannot raise: nil, null, booleans, numbers and strings. */
static int packs_plainly(lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
  case LUA_TBOOLEAN:
  case LUA_TNUMBER:
  case LUA_TSTRING: return 1;
  case LUA_TLIGHTUSERDATA: return seer_is_null(L, idx);
  default: return 0;
  }
}

/* conn:respond(id, error, result) -> true | nil, err | false, encode_err: sends the response
 * [1, id, error, result] (nil error or result travel as msgpack nil) without building it as a
 * table. When it cannot be encoded nothing is sent and the encoding error is returned. */
static int conn_respond(lua_State *L) {
  conn_box *b = check_conn(L);
  packer_box *p = lua_touserdata(L, lua_upvalueindex(1));
  if (!b->conn) {
    lua_pushnil(L);
    lua_pushfstring(L, "rpc: connection to %s is closed", b->peer);
    return 2;
  }
  lua_settop(L, 4);
  if (!p->busy && packs_plainly(L, 2) && lua_isnil(L, 3) && packs_plainly(L, 4)) {
    /* A scalar answer cannot fail to encode: packed without the protected call. */
    p->buf.size = 0;
    msgpack_pack_array(&p->pk, 4);
    msgpack_pack_int(&p->pk, 1);
    seer_lmsgpack_pack(L, &p->pk, 2, "rpc: cannot send the value");
    msgpack_pack_nil(&p->pk);
    seer_lmsgpack_pack(L, &p->pk, 4, "rpc: cannot send the value");
    return send_packed(L, b, p);
  }
  if (pack_frame(L, p, 3) != LUA_OK) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  return send_packed(L, b, p);
}

static int pack_protected(lua_State *L) {
  packer_box *p = lua_touserdata(L, 1);
  if (lua_gettop(L) == 2) {
    seer_lmsgpack_pack(L, &p->pk, 2, "rpc: cannot send the value");
    return 0;
  }
  msgpack_pack_array(&p->pk, 4); /* a response: [1, id, error, result] */
  msgpack_pack_int(&p->pk, 1);
  for (int i = 2; i <= 4; i++)
    seer_lmsgpack_pack(L, &p->pk, i, "rpc: cannot send the value");
  return 0;
}

/* Packs a request [0, id, method, [params...]] from id, method and the params above them. */
static void pack_request(lua_State *L, msgpack_packer *pk, int first, int last) {
  msgpack_pack_array(pk, 4);
  msgpack_pack_int(pk, 0);
  seer_lmsgpack_pack(L, pk, first, "rpc: cannot send the value");
  seer_lmsgpack_pack(L, pk, first + 1, "rpc: cannot send the value");
  msgpack_pack_array(pk, (size_t)(last - first - 1));
  for (int i = first + 2; i <= last; i++)
    seer_lmsgpack_pack(L, pk, i, "rpc: cannot send the value");
}

static int pack_request_protected(lua_State *L) {
  pack_request(L, &((packer_box *)lua_touserdata(L, 1))->pk, 2, lua_gettop(L));
  return 0;
}

/* conn:request(id, method, ...) -> true | nil, err: sends the request [0, id, method, [...]] whose
 * params are the arguments after method (nil travels as msgpack nil), without building tables.
 * Raises when a value cannot be encoded (nothing is sent). */
static int conn_request(lua_State *L) {
  conn_box *b = check_conn(L);
  packer_box *p = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checkany(L, 3);
  if (!b->conn) {
    lua_pushnil(L);
    lua_pushfstring(L, "rpc: connection to %s is closed", b->peer);
    return 2;
  }
  int top = lua_gettop(L), plain = !p->busy;
  for (int i = 2; plain && i <= top; i++)
    plain = packs_plainly(L, i);
  if (plain) { /* scalars cannot fail to encode: no protected call */
    p->buf.size = 0;
    pack_request(L, &p->pk, 2, top);
  } else {
    luaL_checkstack(L, top + 2, "rpc: too many arguments"); /* pack_frame copies them all */
    if (pack_frame(L, p, top - 1) != LUA_OK) return lua_error(L);
  }
  return send_packed(L, b, p);
}

/* conn:send_raw(bytes): queue bytes as they are (tests send malformed frames with it). */
static int conn_send_raw(lua_State *L) {
  conn_box *b = check_conn(L);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  seer_error err;
  if (!b->conn || seer_rpc_conn_send(b->conn, s, n, &err) != SEER_OK) {
    lua_pushnil(L);
    lua_pushstring(L, b->conn ? err.msg : "rpc: connection is closed");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int conn_close(lua_State *L) {
  conn_box *b = check_conn(L);
  if (b->conn) seer_rpc_conn_close(b->conn);
  return 0;
}

static int conn_peer(lua_State *L) {
  lua_pushstring(L, check_conn(L)->peer);
  return 1;
}

static int conn_is_open(lua_State *L) {
  conn_box *b = check_conn(L);
  lua_pushboolean(L, b->conn != NULL && b->connected);
  return 1;
}

static int conn_keep_alive(lua_State *L) {
  conn_box *b = check_conn(L);
  if (b->conn) seer_rpc_conn_keep_alive(b->conn, lua_toboolean(L, 2));
  return 0;
}

/* conn:split_calls(on): deliver calls and replies as ("call", msgid, method, params) and ("reply",
 * msgid, error, result) events instead of ("message", frame). */
static int conn_split_calls(lua_State *L) {
  check_conn(L)->split_calls = lua_toboolean(L, 2);
  return 0;
}

/* conn:set_limits(limits): the limits for the next frames. */
static int conn_set_limits(lua_State *L) {
  conn_box *b = check_conn(L);
  seer_rpc_limits l = opt_limits(L, 2);
  if (b->conn) seer_rpc_conn_set_limits(b->conn, &l);
  return 0;
}

/* conn:set_timer(seconds): a "timer" event after that long (<= 0 or nil: stop). */
static int conn_set_timer(lua_State *L) {
  conn_box *b = check_conn(L);
  if (b->conn) seer_rpc_conn_set_timer(b->conn, luaL_optnumber(L, 2, 0));
  return 0;
}

/* conn:pause(paused): stop reading (true) or read again (false). */
static int conn_pause(lua_State *L) {
  conn_box *b = check_conn(L);
  if (b->conn) seer_rpc_conn_pause(b->conn, lua_toboolean(L, 2));
  return 0;
}

static int conn_pending_bytes(lua_State *L) {
  conn_box *b = check_conn(L);
  lua_pushnumber(L, b->conn ? (lua_Number)seer_rpc_conn_pending_bytes(b->conn) : 0);
  return 1;
}

/* ---- listeners ---- */

static void on_accept(seer_rpc_listener *l, seer_rpc_conn *c, void *ud) {
  listener_box *lb = ud;
  seer_runtime *rt = lb->rt;
  if (rt->closing || !rt->driving) {
    seer_rpc_conn_close(c);
    return;
  }
  seer_error err;
  if (lb->tls && seer_rpc_conn_use_tls(c, lb->tls, &err) != SEER_OK) {
    seer_rpc_conn_close(c);
    return;
  }
  lua_State *L = rt->driving;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lb->on_accept_ref);
  conn_box *b = new_conn_box(L, rt);
  b->conn = c;
  b->connected = 1;
  memcpy(b->peer, seer_rpc_conn_peer(c), sizeof b->peer);
  lua_pushvalue(L, -1);
  b->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  /* Until the handler calls start, nothing is read; a handler error leaves it to be closed. */
  seer_runtime_callback(rt, L, 1);
  if (b->handler_ref == LUA_NOREF && b->conn) {
    seer_rpc_conn_start(c, NULL, &conn_cbs, b);
    seer_rpc_conn_close(c);
  }
}

/* listen(addr, on_accept [, tls]) -> listener, address | nil, err. tls: a tls_server context. */
static int rpc_listen(lua_State *L) {
  seer_runtime *rt = seer_runtime_from(L);
  const char *addr = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 3);
  seer_rpc_tls_ctx *tls = opt_tls(L, 3);
  listener_box *lb = lua_newuserdata(L, sizeof *lb);
  memset(lb, 0, sizeof *lb);
  lb->rt = rt;
  lb->on_accept_ref = LUA_NOREF;
  lb->tls_ref = LUA_NOREF;
  lb->tls = tls;
  luaL_setmetatable(L, LISTENER_MT);
  seer_error err;
  if (seer_rpc_listen(rt->loop, addr, on_accept, lb, &lb->l, &err) != SEER_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  snprintf(lb->address, sizeof lb->address, "%s", seer_rpc_listener_address(lb->l));
  lua_pushvalue(L, 2);
  lb->on_accept_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (lb->tls) {
    lua_pushvalue(L, 3);
    lb->tls_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_pushstring(L, lb->address);
  return 2;
}

static int listener_close(lua_State *L) {
  listener_box *lb = luaL_checkudata(L, 1, LISTENER_MT);
  if (lb->l) {
    seer_rpc_listener_close(lb->l);
    lb->l = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, lb->on_accept_ref);
    lb->on_accept_ref = LUA_NOREF;
    luaL_unref(L, LUA_REGISTRYINDEX, lb->tls_ref);
    lb->tls_ref = LUA_NOREF;
    lb->tls = NULL;
  }
  return 0;
}

static int listener_address(lua_State *L) {
  lua_pushstring(L, ((listener_box *)luaL_checkudata(L, 1, LISTENER_MT))->address);
  return 1;
}

static int listener_keep_alive(lua_State *L) {
  listener_box *lb = luaL_checkudata(L, 1, LISTENER_MT);
  if (lb->l) seer_rpc_listener_keep_alive(lb->l, lua_toboolean(L, 2));
  return 0;
}

/* ---- stop signals ---- */

typedef struct {
  seer_rpc_stop_watch *w;
  seer_runtime *rt;
  int fn_ref;
} stop_box;

static void on_stop(int signum, void *ud) {
  stop_box *s = ud;
  if (s->rt->closing || !s->rt->driving) return;
  lua_State *L = s->rt->driving;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->fn_ref);
  lua_pushinteger(L, signum);
  seer_runtime_callback(s->rt, L, 1);
}

/* on_stop_signal(fn) -> watch: fn(signum) on SIGTERM, SIGINT or SIGHUP; watch:close() ends it. */
static int rpc_on_stop_signal(lua_State *L) {
  seer_runtime *rt = seer_runtime_from(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  stop_box *s = lua_newuserdata(L, sizeof *s);
  s->rt = rt;
  s->w = NULL;
  lua_pushvalue(L, 1);
  s->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  luaL_setmetatable(L, STOP_MT);
  seer_error err;
  if (seer_rpc_stop_watch_start(rt->loop, on_stop, s, &s->w, &err) != SEER_OK)
    return luaL_error(L, "rpc.on_stop_signal: %s", err.msg);
  return 1;
}

static int stop_close(lua_State *L) {
  stop_box *s = luaL_checkudata(L, 1, STOP_MT);
  if (s->w) {
    seer_rpc_stop_watch_close(s->w);
    s->w = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, s->fn_ref);
  }
  return 0;
}

/* set_decoders(t): the ext decoder table for incoming frames (seer.rpc adds named arguments). */
static int rpc_set_decoders(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushlightuserdata(L, (void *)&DECODERS_KEY);
  lua_pushvalue(L, 1);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return 0;
}

static int packer_gc(lua_State *L) {
  packer_box *p = lua_touserdata(L, 1);
  free(p->buf.data);
  return 0;
}

static void new_metatable(lua_State *L, const char *name, const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
}

int luaopen_seer__rpc(lua_State *L) {
  /* One packer per runtime, reused by every send: small frames cost no allocation. */
  packer_box *p = lua_newuserdata(L, sizeof *p);
  memset(p, 0, sizeof *p);
  msgpack_packer_init(&p->pk, &p->buf, out_write);
  lua_newtable(L);
  lua_pushcfunction(L, packer_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  int packer = lua_gettop(L);

  static const luaL_Reg conn_methods[] = {{"start", conn_start},
                                          {"send_raw", conn_send_raw},
                                          {"close", conn_close},
                                          {"peer", conn_peer},
                                          {"is_open", conn_is_open},
                                          {"keep_alive", conn_keep_alive},
                                          {"pending_bytes", conn_pending_bytes},
                                          {"pause", conn_pause},
                                          {"set_limits", conn_set_limits},
                                          {"set_timer", conn_set_timer},
                                          {"split_calls", conn_split_calls},
                                          {NULL, NULL}};
  new_metatable(L, CONN_MT, conn_methods);
  lua_getfield(L, -1, "__index");
  lua_pushvalue(L, packer);
  lua_pushcfunction(L, pack_protected);
  lua_pushcclosure(L, conn_send, 2);
  lua_setfield(L, -2, "send");
  lua_pushvalue(L, packer);
  lua_pushcfunction(L, pack_protected);
  lua_pushcclosure(L, conn_respond, 2);
  lua_setfield(L, -2, "respond");
  lua_pushvalue(L, packer);
  lua_pushcfunction(L, pack_request_protected);
  lua_pushcclosure(L, conn_request, 2);
  lua_setfield(L, -2, "request");
  lua_pop(L, 2);

  static const luaL_Reg listener_methods[] = {{"close", listener_close},
                                              {"address", listener_address},

                                              {"keep_alive", listener_keep_alive},
                                              {NULL, NULL}};
  new_metatable(L, LISTENER_MT, listener_methods);
  lua_pop(L, 1);
  static const luaL_Reg stop_methods[] = {{"close", stop_close}, {NULL, NULL}};
  new_metatable(L, STOP_MT, stop_methods);
  lua_pop(L, 1);
  luaL_newmetatable(L, TLS_MT);
  lua_pushcfunction(L, tls_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);

  static const luaL_Reg fns[] = {{"connect", rpc_connect},
                                 {"listen", rpc_listen},
                                 {"on_stop_signal", rpc_on_stop_signal},
                                 {"set_decoders", rpc_set_decoders},
                                 {"tls_cert", rpc_tls_cert},
                                 {"tls_server", rpc_tls_server},
                                 {"tls_client", rpc_tls_client},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_pushvalue(L, packer);
  lua_setfield(L, -2, "_packer"); /* keeps the shared packer alive with the module */
  push_limits(L, seer_rpc_limits_default());
  lua_setfield(L, -2, "default_limits");
  push_limits(L, seer_rpc_limits_preauth());
  lua_setfield(L, -2, "preauth_limits");
  lua_pushnumber(L, SEER_RPC_DEFAULT_CONNECT_TIMEOUT);
  lua_setfield(L, -2, "default_connect_timeout");
  lua_pushnumber(L, SEER_RPC_DEFAULT_CALL_TIMEOUT);
  lua_setfield(L, -2, "default_call_timeout");
  return 1;
}
