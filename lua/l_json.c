/* l_json.c: the `seer.json` module. Decoding goes through jansson (line:column errors); encoding is
 * a direct writer so numbers keep their exact, shortest form and Lua integers stay integers. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "runtime_internal.h"
#include "seer/utf8.h"
#include "seer/buf.h"

#define MAX_DEPTH 1000

/* ---- encoding ---- */

typedef struct {
  lua_State *L;
  seer_buf out;
  int indent;
  int sort_keys;
  /* Keys on the way down, for error messages. They live on json_encode's C stack: a 16 KiB
   * userdata per call cost a malloc that made glibc consolidate its heap, and a memset. */
  const char **path;
  long long *path_index;
} encoder;

static void push_path(encoder *e, int depth) {
  luaL_Buffer b;
  luaL_buffinit(e->L, &b);
  luaL_addstring(&b, "$");
  for (int i = 1; i <= depth; i++) {
    if (e->path[i]) {
      luaL_addstring(&b, ".");
      luaL_addstring(&b, e->path[i]);
    } else {
      char tmp[32];
      snprintf(tmp, sizeof tmp, "[%lld]", e->path_index[i]);
      luaL_addstring(&b, tmp);
    }
  }
  luaL_pushresult(&b);
}

static int encode_fail(encoder *e, int depth, const char *what) {
  push_path(e, depth);
  return luaL_error(e->L, "json.encode: %s at %s", what, lua_tostring(e->L, -1));
}

static void write_string(encoder *e, int depth, const char *s, size_t n) {
  if (!seer_utf8_valid(s, n)) encode_fail(e, depth, "string is not valid UTF-8");
  seer_buf *b = &e->out;
  seer_buf_reserve(b, n + 2);
  seer_buf_appendc(b, '"');
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    seer_buf_append(b, s + start, i - start);
    start = i + 1;
    switch (c) {
    case '"': seer_buf_appends(b, "\\\""); break;
    case '\\': seer_buf_appends(b, "\\\\"); break;
    case '\n': seer_buf_appends(b, "\\n"); break;
    case '\r': seer_buf_appends(b, "\\r"); break;
    case '\t': seer_buf_appends(b, "\\t"); break;
    case '\b': seer_buf_appends(b, "\\b"); break;
    case '\f': seer_buf_appends(b, "\\f"); break;
    default: seer_buf_printf(b, "\\u%04x", c);
    }
  }
  seer_buf_append(b, s + start, n - start);
  seer_buf_appendc(b, '"');
}

/* Shortest of %.15g/%.16g/%.17g that reads back as the same double. */
static void write_double(encoder *e, int depth, double d, int force_fraction) {
  if (!isfinite(d)) encode_fail(e, depth, "cannot encode NaN or infinity");
  char tmp[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (strtod(tmp, NULL) == d) break;
  }
  seer_buf_appends(&e->out, tmp);
  /* Keep a float a float across a round trip ("1.0", not "1"). */
  if (force_fraction && !strpbrk(tmp, ".eEn")) seer_buf_appends(&e->out, ".0");
}

static void newline(encoder *e, int level) {
  if (!e->indent) return;
  seer_buf_appendc(&e->out, '\n');
  for (int i = 0; i < level * e->indent; i++)
    seer_buf_appendc(&e->out, ' ');
}

static int compare_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void encode_value(encoder *e, int idx, int depth);

static void encode_object(encoder *e, int idx, int depth) {
  lua_State *L = e->L;
  /* Keys in the shared order (insertion order when known, else sorted). String keys are written
   * as they are; number keys need a string form, kept in a second table (made only if needed). */
  size_t n = seer_push_key_order(L, idx);
  int keys = lua_gettop(L);
  lua_pushnil(L); /* slot for the number keys' strings */
  int numstr = lua_gettop(L);
  /* Scratch: C arrays for small objects; a userdata (freed by the collector if an error unwinds
   * past it) for large ones. */
  const char *small[2 * 16];
  int small_order[16];
  const char **names = small, **sorted;
  int *order = small_order;
  if (n > 16) {
    names = lua_newuserdata(L, n * (2 * sizeof(char *) + sizeof(int)) + 1);
    order = (int *)(names + 2 * n);
  } else {
    lua_pushnil(L);
  }
  sorted = names + n;
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, keys, (int)i + 1);
    int kt = lua_type(L, -1);
    if (kt == LUA_TSTRING) {
      names[i] = lua_tostring(L, -1); /* the keys table keeps it alive */
    } else if (kt == LUA_TNUMBER) {
      char tmp[40];
      if (seer_isinteger(L, -1))
        snprintf(tmp, sizeof tmp, "%lld", seer_tointeger(L, -1));
      else
        snprintf(tmp, sizeof tmp, "%.17g", lua_tonumber(L, -1));
      if (lua_isnil(L, numstr)) {
        lua_newtable(L);
        lua_replace(L, numstr);
      }
      lua_pushstring(L, tmp);
      names[i] = lua_tostring(L, -1);
      lua_rawseti(L, numstr, (int)i + 1);
    } else {
      encode_fail(e, depth, lua_pushfstring(L, "table key of type %s", luaL_typename(L, -1)));
    }
    lua_pop(L, 1);
    order[i] = (int)i;
  }
  if (e->sort_keys && n > 1) {
    /* sort_keys = true: by the keys' string forms, whatever order the table records. Sort
     * pointers, then recover each one's slot by pointer identity. */
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_keys);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++)
        if (names[j] == sorted[i]) {
          order[i] = (int)j;
          break;
        }
  }
  seer_buf_appendc(&e->out, '{');
  for (size_t i = 0; i < n; i++) {
    if (i) seer_buf_appendc(&e->out, ',');
    newline(e, depth + 1);
    const char *name = names[order[i]];
    write_string(e, depth, name, strlen(name));
    seer_buf_appends(&e->out, e->indent ? ": " : ":");
    lua_rawgeti(L, keys, order[i] + 1);
    lua_rawget(L, idx);
    e->path[depth + 1] = name;
    encode_value(e, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
  if (n) newline(e, depth);
  seer_buf_appendc(&e->out, '}');
  lua_pop(L, 3);
}

static void encode_value(encoder *e, int idx, int depth) {
  lua_State *L = e->L;
  if (depth >= MAX_DEPTH) encode_fail(e, depth, "tables nested too deeply (a cycle?)");
  switch (lua_type(L, idx)) {
  case LUA_TNIL: seer_buf_appends(&e->out, "null"); return;
  case LUA_TBOOLEAN: seer_buf_appends(&e->out, lua_toboolean(L, idx) ? "true" : "false"); return;
  case LUA_TNUMBER:
    if (seer_isinteger(L, idx))
      seer_buf_printf(&e->out, "%lld", seer_tointeger(L, idx));
    else
      write_double(e, depth, lua_tonumber(L, idx), 1);
    return;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    write_string(e, depth, s, n);
    return;
  }
  case LUA_TLIGHTUSERDATA:
    if (seer_is_null(L, idx)) {
      seer_buf_appends(&e->out, "null");
      return;
    }
    break;
  case LUA_TTABLE: {
    luaL_checkstack(L, 8, "json.encode: nesting");
    if (luaL_getmetafield(L, idx, "__tojson")) {
      lua_pushvalue(L, idx);
      lua_call(L, 1, 1);
      encode_value(e, lua_gettop(L), depth);
      lua_pop(L, 1);
      return;
    }
    size_t n;
    if (seer_table_kind(L, idx, &n) == SEER_TABLE_ARRAY) {
      seer_buf_appendc(&e->out, '[');
      for (size_t i = 1; i <= n; i++) {
        if (i > 1) seer_buf_appendc(&e->out, ',');
        newline(e, depth + 1);
        lua_rawgeti(L, idx, (int)i);
        e->path[depth + 1] = NULL;
        e->path_index[depth + 1] = (long long)i;
        encode_value(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
      }
      if (n) newline(e, depth);
      seer_buf_appendc(&e->out, ']');
    } else {
      encode_object(e, idx, depth);
    }
    return;
  }
  default: break;
  }
  encode_fail(e, depth, lua_pushfstring(L, "cannot encode a %s value", luaL_typename(L, idx)));
}

static int encoder_gc(lua_State *L) {
  encoder *e = lua_touserdata(L, 1);
  seer_buf_free(&e->out);
  return 0;
}

/* encode(value [, {indent = n, sort_keys = bool}]) -> string. Keys go in each object's recorded
 * order, or sorted when it has none; sort_keys = true sorts every object. */
static int json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  const char *path[MAX_DEPTH + 1];
  long long path_index[MAX_DEPTH + 1];
  encoder *e =
      lua_newuserdata(L, sizeof *e); /* its __gc frees the buffer even if encoding raises */
  memset(e, 0, sizeof *e);
  e->path = path;
  e->path_index = path_index;
  if (luaL_newmetatable(L, "seer.json.encoder")) {
    lua_pushcfunction(L, encoder_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  e->L = L;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "indent");
    e->indent = (int)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 2, "sort_keys");
    e->sort_keys = lua_toboolean(L, -1);
    lua_pop(L, 2);
  }
  encode_value(e, 1, 0);
  lua_pushlstring(L, e->out.data ? e->out.data : "", e->out.len);
  seer_buf_free(&e->out);
  return 1;
}

/* ---- decoding ---- */

void seer_lua_push_json(lua_State *L, json_t *v) {
  luaL_checkstack(L, 4, "json.decode: nesting");
  switch (json_typeof(v)) {
  case JSON_NULL: lua_pushlightuserdata(L, NULL); break;
  case JSON_TRUE: lua_pushboolean(L, 1); break;
  case JSON_FALSE: lua_pushboolean(L, 0); break;
  case JSON_INTEGER: seer_pushinteger(L, json_integer_value(v)); break;
  case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
  case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
  case JSON_ARRAY: {
    size_t n = json_array_size(v);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
      seer_lua_push_json(L, json_array_get(v, i));
      lua_rawseti(L, -2, (int)i + 1);
    }
    seer_push_array_mt(L);
    lua_setmetatable(L, -2);
    break;
  }
  case JSON_OBJECT: {
    lua_createtable(L, 0, (int)json_object_size(v));
    seer_push_object_mt(L);
    lua_setmetatable(L, -2);
    seer_key_order_new(L, -1); /* jansson iterates in document order: record it */
    const char *key;
    size_t klen, n = 0;
    json_t *item;
    void *tmp;
    json_object_keylen_foreach_safe(v, tmp, key, klen, item) {
      lua_pushlstring(L, key, klen);
      lua_pushvalue(L, -1);
      lua_rawseti(L, -3, (int)++n);
      seer_lua_push_json(L, item);
      lua_rawset(L, -4);
    }
    lua_pop(L, 1);
    break;
  }
  }
}

json_t *seer_lua_to_json(lua_State *L, int idx, int depth, const char **why) {
  if (depth > 64) {
    *why = "nested too deeply (cycle?)";
    return NULL;
  }
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  luaL_checkstack(L, 6, "json: nesting");
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return json_null();
  case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER:
    if (seer_isinteger(L, idx)) return json_integer(seer_tointeger(L, idx));
    return json_real(lua_tonumber(L, idx));
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    json_t *j = json_stringn(s, len);
    if (!j) *why = "a string is not valid UTF-8";
    return j;
  }
  case LUA_TLIGHTUSERDATA:
    if (seer_is_null(L, idx)) return json_null();
    break;
  case LUA_TTABLE: {
    size_t n;
    if (seer_table_kind(L, idx, &n) == SEER_TABLE_ARRAY) {
      json_t *a = json_array();
      for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (int)i);
        json_t *v = seer_lua_to_json(L, -1, depth + 1, why);
        lua_pop(L, 1);
        if (!v) {
          json_decref(a);
          return NULL;
        }
        json_array_append_new(a, v);
      }
      return a;
    }
    /* jansson keeps insertion order, so the object keeps the table's key order. */
    json_t *o = json_object();
    n = seer_push_key_order(L, idx);
    int keys = lua_gettop(L);
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, keys, (int)i);
      if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 2);
        json_decref(o);
        *why = "an object key is not a string";
        return NULL;
      }
      lua_pushvalue(L, -1);
      lua_rawget(L, idx);
      json_t *v = seer_lua_to_json(L, -1, depth + 1, why);
      if (!v) {
        lua_pop(L, 3);
        json_decref(o);
        return NULL;
      }
      size_t klen;
      const char *k = lua_tolstring(L, -2, &klen);
      if (json_object_setn_new(o, k, klen, v)) {
        lua_pop(L, 3);
        json_decref(o);
        *why = "an object key is not valid UTF-8";
        return NULL;
      }
      lua_pop(L, 2);
    }
    lua_pop(L, 1);
    return o;
  }
  default: break;
  }
  *why = "a value is not representable in JSON (function, userdata or thread)";
  return NULL;
}

/* decode(string) -> value; raises "json.decode: <reason> at line L column C" */
static int json_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  json_error_t jerr;
  json_t *root = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!root)
    return luaL_error(L, "json.decode: %s at line %d column %d (byte %d)", jerr.text, jerr.line,
                      jerr.column, jerr.position);
  seer_lua_push_json(L, root);
  json_decref(root);
  return 1;
}

static void mark(lua_State *L, void (*push_mt)(lua_State *)) {
  if (lua_isnoneornil(L, 1)) {
    lua_newtable(L);
    lua_replace(L, 1);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
  }
  push_mt(L);
  lua_setmetatable(L, 1);
}

static int l_json_array(lua_State *L) {
  lua_settop(L, 1);
  mark(L, seer_push_array_mt);
  return 1;
}

/* object([t [, keys]]): marks t as a JSON object. keys (an array of its key names) sets the order
 * its keys are written in; without it, an order it already records is kept, and otherwise its
 * current keys are listed sorted. Keys assigned afterwards are written after them, in assignment
 * order. */
static int l_json_object(lua_State *L) {
  lua_settop(L, 2);
  if (!lua_isnil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  mark(L, seer_push_object_mt);
  if (lua_istable(L, 2))
    seer_key_order_set(L, 1, 2);
  else
    seer_key_order_init(L, 1);
  lua_settop(L, 1);
  return 1;
}

/* ordered{ {k1, v1}, {k2, v2}, ... } -> an object with those keys, in that order. */
static int l_json_ordered(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t n = seer_rawlen(L, 1);
  lua_createtable(L, 0, (int)n);
  int t = lua_gettop(L);
  seer_push_object_mt(L);
  lua_setmetatable(L, t);
  seer_key_order_new(L, t);
  int list = lua_gettop(L);
  size_t nk = 0;
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, (int)i);
    if (!lua_istable(L, -1))
      return luaL_error(L, "json.ordered: entry %d is a %s; pass {key, value} pairs", (int)i,
                        luaL_typename(L, -1));
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    if (lua_isnil(L, -2)) return luaL_error(L, "json.ordered: entry %d has no key", (int)i);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 3); /* a nil value means no such key, as in a table constructor */
      continue;
    }
    lua_pushvalue(L, -2);
    lua_rawget(L, t);
    int dup = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (dup) {
      lua_pushvalue(L, -2);
      return luaL_error(L, "json.ordered: key %s appears twice",
                        lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)");
    }
    lua_pushvalue(L, -2);
    lua_rawseti(L, list, (int)++nk);
    lua_rawset(L, t);
    lua_pop(L, 1);
  }
  lua_settop(L, t);
  return 1;
}

/* keys(t) -> the keys of t in the order encode writes them. */
static int l_json_keys(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t n;
  if (seer_table_kind(L, 1, &n) == SEER_TABLE_ARRAY) {
    lua_createtable(L, (int)n, 0);
    for (size_t i = 1; i <= n; i++) {
      seer_pushinteger(L, (long long)i);
      lua_rawseti(L, -2, (int)i);
    }
  } else {
    seer_push_key_order(L, 1);
  }
  seer_push_array_mt(L);
  lua_setmetatable(L, -2);
  return 1;
}

int luaopen_seer_json(lua_State *L) {
  static const luaL_Reg fns[] = {{"encode", json_encode},
                                 {"decode", json_decode},
                                 {"array", l_json_array},
                                 {"object", l_json_object},
                                 {"ordered", l_json_ordered},
                                 {"keys", l_json_keys},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
