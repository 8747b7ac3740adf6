/* l_http.c: the `seer._http` module, a thin binding of seer/http.h (and seer/sse.h) for
 * stdlib/seer/http.lua: starts requests whose events (head, data, sse, done) call one Lua function
 * on the thread driving the loop, and exposes a standalone SSE parser for tests. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "bindings.h"
#include "runtime_internal.h"
#include "seer/http.h"
#include "seer/sse.h"

#define CLIENT_MT "seer.http.client"
#define REQUEST_MT "seer.http.request"
#define PARSER_MT "seer.http.sse_parser"

typedef struct {
  seer_http_client *c;
  seer_runtime *rt;
} client_box;

typedef struct {
  seer_http_request *req; /* NULL once done or cancelled */
  seer_runtime *rt;
  int callback_ref; /* fn(event, ...) */
  int self_ref;     /* keeps the box alive while the request runs */
  int decode;       /* sse mode: decode each event's data as JSON */
  int batch_ref;    /* sse mode: the events of the chunk being parsed, flat, 4 slots each */
  int batch_n;
} request_box;

static void release(request_box *b) {
  lua_State *L = b->rt->L;
  b->req = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, b->callback_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, b->self_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, b->batch_ref);
  b->callback_ref = b->self_ref = b->batch_ref = LUA_NOREF;
  b->batch_n = 0;
}

/* Calls the callback pushed by push_callback. A callback may complete a request inside libuv's
 * timer phase, after which uv_run would block in poll although the Lua driver now has work: stop
 * the current uv_run so that seer_loop_run_once returns to the scheduler. */
static void call(request_box *b, lua_State *L, int nargs) {
  seer_runtime_callback(b->rt, L, nargs);
  if (b->rt->loop) uv_stop(seer_loop_uv(b->rt->loop));
}

/* Pushes the request's callback on the driving thread; NULL when Lua must not be called. */
static lua_State *push_callback(request_box *b) {
  seer_runtime *rt = b->rt;
  if (rt->closing || !rt->driving || b->callback_ref == LUA_NOREF) return NULL;
  lua_State *L = rt->driving;
  luaL_checkstack(L, 12, "http callback");
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->callback_ref);
  return L;
}

static void on_head(seer_http_request *r, long status, const char *headers, size_t len, void *ud) {
  lua_State *L = push_callback(ud);
  if (!L) return;
  lua_pushliteral(L, "head");
  seer_pushinteger(L, status);
  lua_pushlstring(L, headers, len);
  call(ud, L, 3);
}

/* Stream mode: a body chunk. SSE mode: on_data(r, NULL, 0) ends a chunk, whose events were batched
 * by on_event: they go to Lua in one call ("events", list, n). */
static int on_data(seer_http_request *r, const char *data, size_t len, void *ud) {
  request_box *b = ud;
  if (!data) {
    if (b->batch_n == 0) return 0;
    lua_State *L = push_callback(b);
    if (!L) return 0;
    int n = b->batch_n;
    lua_pushliteral(L, "events");
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->batch_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, b->batch_ref);
    b->batch_ref = LUA_NOREF;
    b->batch_n = 0;
    seer_pushinteger(L, n);
    call(b, L, 3);
    return 0;
  }
  lua_State *L = push_callback(b);
  if (!L) return 0;
  lua_pushliteral(L, "data");
  lua_pushlstring(L, data, len);
  call(b, L, 2);
  return 0;
}

/* Appends the event to the chunk's batch: event name, data, decoded data (nil when not JSON or not
 * asked for), id. Nothing runs in Lua here. */
static int on_event(seer_http_request *r, const seer_sse_event *ev, void *ud) {
  request_box *b = ud;
  seer_runtime *rt = b->rt;
  if (rt->closing || !rt->driving || b->callback_ref == LUA_NOREF) return 0;
  lua_State *L = rt->driving;
  luaL_checkstack(L, 8, "http event");
  if (b->batch_ref == LUA_NOREF) {
    lua_createtable(L, 16, 0);
    b->batch_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->batch_ref);
  int t = lua_gettop(L), i = b->batch_n;
  lua_pushstring(L, ev->event);
  lua_rawseti(L, t, i + 1);
  lua_pushlstring(L, ev->data, ev->data_len);
  lua_rawseti(L, t, i + 2);
  if (b->decode && ev->data_len > 0) {
    json_t *root = json_loadb(ev->data, ev->data_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (root) {
      seer_lua_push_json(L, root);
      json_decref(root);
      lua_rawseti(L, t, i + 3);
    }
  }
  lua_pushstring(L, ev->id);
  lua_rawseti(L, t, i + 4);
  lua_pop(L, 1);
  b->batch_n = i + 4;
  return 0;
}

static void on_done(seer_http_request *r, const seer_http_result *res, void *ud) {
  request_box *b = ud;
  lua_State *L = push_callback(b);
  if (!L) {
    b->req = NULL;
    return;
  }
  /* The request is over: drop the references first, the callback below may start another. */
  int fn = lua_gettop(L);
  release(b);
  lua_pushvalue(L, fn);
  lua_remove(L, fn);
  lua_pushliteral(L, "done");
  lua_pushboolean(L, res->code == SEER_OK);
  seer_pushinteger(L, res->status);
  if (res->body)
    lua_pushlstring(L, res->body, res->body_len);
  else
    lua_pushnil(L);
  if (res->error)
    lua_pushstring(L, res->error);
  else
    lua_pushnil(L);
  lua_pushstring(L, res->kind);
  lua_pushnumber(L, res->elapsed);
  lua_pushlstring(L, res->headers, res->headers_len);
  call(b, L, 8);
}

static client_box *get_client(lua_State *L) {
  return luaL_checkudata(L, lua_upvalueindex(1), CLIENT_MT);
}

static double opt_number_field(lua_State *L, int t, const char *name) {
  lua_getfield(L, t, name);
  double v = 0;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) < 0)
      luaL_error(L, "http.request: '%s' must be a non-negative number of seconds", name);
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

/* request{url=, method=, headers={"K: V",...}, body=, timeout=, connect_timeout=, idle_timeout=,
 *         gzip=, max_body=, mode="buffer"|"stream"|"sse", decode=}, fn(event, ...)
 *   -> handle | nil, err
 * Events: ("head", status, raw_head), ("data", chunk) in stream mode, ("events", list, n) in sse
 * mode: the events of one received chunk, flat, 4 slots each (name, data, data decoded as JSON when
 * `decode` is set and it parses, else nil; id), then ("done", ok, status, body, err, kind, elapsed,
 * raw_head). */
static int http_request(lua_State *L) {
  client_box *cb = get_client(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  seer_http_opts o;
  memset(&o, 0, sizeof o);
  lua_getfield(L, 1, "url");
  o.url = lua_tostring(L, -1);
  if (!o.url) return luaL_error(L, "http.request: 'url' must be a string");
  lua_getfield(L, 1, "method");
  o.method = lua_tostring(L, -1);
  lua_getfield(L, 1, "body");
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      return luaL_error(L, "http.request: 'body' must be a string");
    o.body = lua_tolstring(L, -1, &o.body_len);
  }
  lua_getfield(L, 1, "headers");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    int t = lua_gettop(L);
    size_t n = seer_rawlen(L, t);
    const char **list = lua_newuserdata(L, (n + 1) * sizeof *list); /* freed with the stack */
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, t, (int)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "http.request: headers[%d] must be a \"Name: value\" string",
                          (int)i + 1);
      list[i] = lua_tostring(L, -1);
      lua_pop(L, 1); /* still referenced by the table */
    }
    list[n] = NULL;
    o.headers = list;
  }
  o.timeout_s = opt_number_field(L, 1, "timeout");
  o.connect_timeout_s = opt_number_field(L, 1, "connect_timeout");
  o.idle_timeout_s = opt_number_field(L, 1, "idle_timeout");
  lua_getfield(L, 1, "max_body");
  if (!lua_isnil(L, -1)) {
    if (!seer_isinteger(L, -1) || seer_tointeger(L, -1) < 1)
      return luaL_error(L, "http.request: 'max_body' must be a positive number of bytes");
    o.max_body = (size_t)seer_tointeger(L, -1);
  }
  lua_getfield(L, 1, "gzip");
  o.accept_encoding = lua_toboolean(L, -1);
  lua_getfield(L, 1, "mode");
  const char *mode = luaL_optstring(L, -1, "buffer");
  if (strcmp(mode, "buffer") == 0)
    o.mode = SEER_HTTP_BUFFER;
  else if (strcmp(mode, "stream") == 0)
    o.mode = SEER_HTTP_STREAM;
  else if (strcmp(mode, "sse") == 0)
    o.mode = SEER_HTTP_SSE;
  else
    return luaL_error(L, "http.request: mode must be buffer, stream or sse, got '%s'", mode);

  request_box *b = lua_newuserdata(L, sizeof *b);
  memset(b, 0, sizeof *b);
  b->rt = cb->rt;
  b->callback_ref = b->self_ref = b->batch_ref = LUA_NOREF;
  lua_getfield(L, 1, "decode");
  b->decode = lua_toboolean(L, -1);
  lua_pop(L, 1);
  luaL_setmetatable(L, REQUEST_MT);
  o.on_head = on_head;
  o.on_data = on_data;
  o.on_event = on_event;
  o.on_done = on_done;
  o.ud = b;
  seer_error err;
  if (seer_http_request_start(cb->c, &o, &b->req, &err) != SEER_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  lua_pushvalue(L, 2);
  b->callback_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  b->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* parse_headers(raw) -> {lower-case name = value}: "Name: value" lines, values trimmed, repeated
 * names joined with ", " (as HTTP allows for list-valued headers); lines without a colon skipped.
 */
static int http_parse_headers(lua_State *L) {
  size_t len;
  const char *p = luaL_optlstring(L, 1, "", &len), *end = p + len;
  lua_createtable(L, 0, 12);
  char name[256];
  while (p < end) {
    const char *eol = p;
    while (eol < end && *eol != '\r' && *eol != '\n')
      eol++;
    const char *colon = memchr(p, ':', (size_t)(eol - p));
    if (colon && colon > p) {
      size_t nl = (size_t)(colon - p);
      const char *v = colon + 1, *ve = eol;
      while (v < ve && is_space(*v))
        v++;
      while (ve > v && is_space(ve[-1]))
        ve--;
      if (nl < sizeof name) {
        for (size_t i = 0; i < nl; i++)
          name[i] = (char)tolower((unsigned char)p[i]);
        lua_pushlstring(L, name, nl);
      } else {
        luaL_Buffer nb;
        luaL_buffinit(L, &nb);
        for (size_t i = 0; i < nl; i++)
          luaL_addchar(&nb, (char)tolower((unsigned char)p[i]));
        luaL_pushresult(&nb);
      }
      lua_pushvalue(L, -1);
      lua_rawget(L, -3);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(ve - v));
      } else {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, v, (size_t)(ve - v));
        lua_concat(L, 3);
      }
      lua_rawset(L, -3);
    }
    p = eol + 1;
  }
  return 1;
}

/* handle:cancel(): stops the request; no further events. Returns true if it was still running. */
static int request_cancel(lua_State *L) {
  request_box *b = luaL_checkudata(L, 1, REQUEST_MT);
  if (!b->req) {
    lua_pushboolean(L, 0);
    return 1;
  }
  seer_http_request *r = b->req;
  release(b);
  seer_http_request_cancel(r);
  lua_pushboolean(L, 1);
  return 1;
}

static int request_running(lua_State *L) {
  lua_pushboolean(L, ((request_box *)luaL_checkudata(L, 1, REQUEST_MT))->req != NULL);
  return 1;
}

static int http_active(lua_State *L) {
  seer_pushinteger(L, (long long)seer_http_client_active(get_client(L)->c));
  return 1;
}

static int client_gc(lua_State *L) {
  client_box *cb = luaL_checkudata(L, 1, CLIENT_MT);
  if (cb->c) {
    /* At runtime shutdown the loop is freed before the Lua state (seer_close). */
    seer_http_client_free(cb->c, cb->rt->loop == NULL);
    cb->c = NULL;
  }
  return 0;
}

/* ---- standalone SSE parser: parser:feed(chunk) -> { {event=, data=, id=, retry=}, ... } ---- */

static int parser_new(lua_State *L) {
  seer_sse_parser *p = lua_newuserdata(L, sizeof *p);
  seer_sse_init(p);
  luaL_setmetatable(L, PARSER_MT);
  return 1;
}

static int collect_event(const seer_sse_event *ev, void *ud) {
  lua_State *L = ud;
  lua_createtable(L, 0, 4);
  lua_pushstring(L, ev->event);
  lua_setfield(L, -2, "event");
  lua_pushlstring(L, ev->data, ev->data_len);
  lua_setfield(L, -2, "data");
  lua_pushstring(L, ev->id);
  lua_setfield(L, -2, "id");
  if (ev->retry_ms >= 0) {
    seer_pushinteger(L, ev->retry_ms);
    lua_setfield(L, -2, "retry");
  }
  lua_rawseti(L, -2, (int)seer_rawlen(L, -2) + 1);
  return 0;
}

static int parser_feed(lua_State *L) {
  seer_sse_parser *p = luaL_checkudata(L, 1, PARSER_MT);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  lua_newtable(L);
  int rc = seer_sse_feed(p, data, len, collect_event, L);
  if (rc == SEER_EFORMAT)
    return luaL_error(L, "sse parser: a line or event exceeds %d MiB",
                      (int)(SEER_SSE_MAX_EVENT >> 20));
  if (rc != 0) return luaL_error(L, "sse parser: out of memory");
  return 1;
}

static int parser_pending(lua_State *L) {
  lua_pushboolean(L, seer_sse_pending(luaL_checkudata(L, 1, PARSER_MT)));
  return 1;
}

static int parser_gc(lua_State *L) {
  seer_sse_free(luaL_checkudata(L, 1, PARSER_MT));
  return 0;
}

int luaopen_seer__http(lua_State *L) {
  seer_runtime *rt = seer_runtime_from(L);
  if (luaL_newmetatable(L, REQUEST_MT)) {
    static const luaL_Reg m[] = {
        {"cancel", request_cancel}, {"running", request_running}, {NULL, NULL}};
    luaL_newlib(L, m);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, PARSER_MT)) {
    static const luaL_Reg m[] = {{"feed", parser_feed}, {"pending", parser_pending}, {NULL, NULL}};
    luaL_newlib(L, m);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, parser_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, CLIENT_MT)) {
    lua_pushcfunction(L, client_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);

  lua_newtable(L);
  client_box *cb = lua_newuserdata(L, sizeof *cb);
  cb->c = NULL;
  cb->rt = rt;
  luaL_setmetatable(L, CLIENT_MT);
  seer_error err;
  if (seer_http_client_new(rt->loop, 0, &cb->c, &err) != SEER_OK)
    return luaL_error(L, "seer._http: %s", err.msg);
  /* The module table keeps the client alive; every function that needs it has it as upvalue. */
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "_client");
  static const luaL_Reg with_client[] = {
      {"request", http_request}, {"active", http_active}, {NULL, NULL}};
  for (const luaL_Reg *f = with_client; f->name; f++) {
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, f->func, 1);
    lua_setfield(L, -3, f->name);
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, parser_new);
  lua_setfield(L, -2, "sse_parser");
  lua_pushcfunction(L, http_parse_headers);
  lua_setfield(L, -2, "parse_headers");
  return 1;
}
