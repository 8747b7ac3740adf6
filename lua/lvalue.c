/* lvalue.c: owns the conventions the JSON and msgpack codecs share for Lua values: the null
 * sentinel, the array/object marker metatables, and deciding whether a table is an array. */
#include "runtime_internal.h"

static const char ARRAY_MT_KEY[] = "seer.array";
static const char OBJECT_MT_KEY[] = "seer.object";

static void push_marker_mt(lua_State *L, const char *key) {
  if (luaL_newmetatable(L, key)) {
    lua_pushstring(L, key + 5); /* "array" / "object", visible to the pretty-printer */
    lua_setfield(L, -2, "__name");
  }
}

void seer_push_array_mt(lua_State *L) { push_marker_mt(L, ARRAY_MT_KEY); }
void seer_push_object_mt(lua_State *L) { push_marker_mt(L, OBJECT_MT_KEY); }

int seer_is_null(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

int seer_table_kind(lua_State *L, int idx, size_t *len) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  *len = 0;
  if (lua_getmetatable(L, idx)) {
    luaL_getmetatable(L, ARRAY_MT_KEY);
    int is_array = lua_rawequal(L, -1, -2);
    lua_pop(L, 1);
    luaL_getmetatable(L, OBJECT_MT_KEY);
    int is_object = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (is_object) return SEER_TABLE_OBJECT;
    if (is_array) {
      *len = seer_rawlen(L, idx);
      return SEER_TABLE_ARRAY;
    }
  }
  /* An array is a table whose keys are exactly 1..n (n > 0). */
  size_t n = seer_rawlen(L, idx);
  if (n == 0) return SEER_TABLE_OBJECT;
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!seer_isinteger(L, -1)) {
      lua_pop(L, 1);
      return SEER_TABLE_OBJECT;
    }
    long long k = seer_tointeger(L, -1);
    if (k < 1 || (size_t)k > n) {
      lua_pop(L, 1);
      return SEER_TABLE_OBJECT;
    }
    count++;
  }
  if (count != n) return SEER_TABLE_OBJECT;
  *len = n;
  return SEER_TABLE_ARRAY;
}

int seer_utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    if (len == 0 || i + len > n) return 0;
    if (len == 2 && c < 0xc2) return 0; /* overlong */
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xc0) != 0x80) return 0;
    if (len == 3) {
      unsigned cp = ((c & 0xf) << 12) | ((s[i + 1] & 0x3f) << 6) | (s[i + 2] & 0x3f);
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    } else if (len == 4) {
      unsigned cp = ((c & 0x7) << 18) | ((s[i + 1] & 0x3f) << 12) | ((s[i + 2] & 0x3f) << 6) |
                    (s[i + 3] & 0x3f);
      if (cp < 0x10000 || cp > 0x10ffff) return 0;
    }
    i += len;
  }
  return 1;
}
