/* l_json.c: the `seer.json` module. Decoding goes through jansson (line:column errors); encoding is
 * a direct writer so numbers keep their exact, shortest form and Lua integers stay integers. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "runtime_internal.h"
#include "seer/buf.h"

#define MAX_DEPTH 1000

/* ---- encoding ---- */

typedef struct {
  lua_State *L;
  seer_buf out;
  int indent;
  int sort_keys;
  const char *path[MAX_DEPTH + 1]; /* keys on the way down, for error messages */
  long long path_index[MAX_DEPTH + 1];
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
  if (!seer_utf8_valid((const unsigned char *)s, n))
    encode_fail(e, depth, "string is not valid UTF-8");
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
  /* Collect string forms of the keys into a Lua table (keeps them alive), then sort. */
  lua_newtable(L);
  int keys = lua_gettop(L);
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) { /* ..., key, value */
    int kt = lua_type(L, -2);
    if (kt == LUA_TSTRING) {
      lua_pushvalue(L, -2);
    } else if (kt == LUA_TNUMBER) {
      char tmp[40];
      if (seer_isinteger(L, -2))
        snprintf(tmp, sizeof tmp, "%lld", seer_tointeger(L, -2));
      else
        snprintf(tmp, sizeof tmp, "%.17g", lua_tonumber(L, -2));
      lua_pushstring(L, tmp);
    } else {
      encode_fail(e, depth, lua_pushfstring(L, "table key of type %s", luaL_typename(L, -2)));
    }
    n++;
    lua_rawseti(L, keys, (int)(2 * n - 1)); /* key string */
    lua_rawseti(L, keys, (int)(2 * n));     /* value */
  }
  /* Scratch arrays live in a userdata so an error raised mid-object cannot leak them. */
  const char **names = lua_newuserdata(L, n * (2 * sizeof(char *) + sizeof(int)) + 1);
  const char **sorted = names + n;
  int *order = (int *)(sorted + n);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, keys, (int)i * 2 + 1);
    names[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  if (e->sort_keys && n > 1) {
    /* Sort pointers, then recover each one's slot by pointer identity. */
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_keys);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++)
        if (names[j] == sorted[i]) {
          order[i] = (int)j;
          break;
        }
  } else {
    for (size_t i = 0; i < n; i++)
      order[i] = (int)i;
  }
  seer_buf_appendc(&e->out, '{');
  for (size_t i = 0; i < n; i++) {
    if (i) seer_buf_appendc(&e->out, ',');
    newline(e, depth + 1);
    const char *name = names[order[i]];
    write_string(e, depth, name, strlen(name));
    seer_buf_appends(&e->out, e->indent ? ": " : ":");
    lua_rawgeti(L, keys, order[i] * 2 + 2);
    e->path[depth + 1] = name;
    encode_value(e, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
  if (n) newline(e, depth);
  seer_buf_appendc(&e->out, '}');
  lua_pop(L, 2);
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

/* encode(value [, {indent = n, sort_keys = true}]) -> string */
static int json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  encoder *e =
      lua_newuserdata(L, sizeof *e); /* its __gc frees the buffer even if encoding raises */
  memset(e, 0, sizeof *e);
  if (luaL_newmetatable(L, "seer.json.encoder")) {
    lua_pushcfunction(L, encoder_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  e->L = L;
  e->sort_keys = 1;
  if (lua_istable(L, 2)) {
    lua_getfield(L, 2, "indent");
    e->indent = (int)luaL_optinteger(L, -1, 0);
    lua_getfield(L, 2, "sort_keys");
    if (!lua_isnil(L, -1)) e->sort_keys = lua_toboolean(L, -1);
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
    const char *key;
    size_t klen;
    json_t *item;
    void *tmp;
    json_object_keylen_foreach_safe(v, tmp, key, klen, item) {
      lua_pushlstring(L, key, klen);
      seer_lua_push_json(L, item);
      lua_rawset(L, -3);
    }
    seer_push_object_mt(L);
    lua_setmetatable(L, -2);
    break;
  }
  }
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

static int mark(lua_State *L, void (*push_mt)(lua_State *)) {
  if (lua_isnoneornil(L, 1))
    lua_newtable(L);
  else
    luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  push_mt(L);
  lua_setmetatable(L, 1);
  return 1;
}
static int l_json_array(lua_State *L) { return mark(L, seer_push_array_mt); }
static int l_json_object(lua_State *L) { return mark(L, seer_push_object_mt); }

int luaopen_seer_json(lua_State *L) {
  static const luaL_Reg fns[] = {{"encode", json_encode},
                                 {"decode", json_decode},
                                 {"array", l_json_array},
                                 {"object", l_json_object},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
