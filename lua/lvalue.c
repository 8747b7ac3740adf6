/* lvalue.c: owns the conventions every Lua-to-JSON/msgpack conversion shares: the null sentinel,
 * the array/object marker metatables, deciding whether a table is an array, and the order in which
 * an object's keys are written (insertion order when it is known, otherwise sorted), so that the
 * same table encodes to the same bytes on every run and on both Lua flavours. */
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

static const char ARRAY_MT_KEY[] = "seer.array";
static const char OBJECT_MT_KEY[] = "seer.object";
/* Registry table, weak in its keys: object table -> array of its keys in insertion order. A side
 * table rather than a field, so pairs() over the object sees only its own keys. */
static const char ORDER_KEY[] = "seer.key_order";

static void push_orders(lua_State *L) {
  /* Keyed by the address of ORDER_KEY: no string to hash on every object encoded. */
  lua_pushlightuserdata(L, (void *)ORDER_KEY);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_istable(L, -1)) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_newtable(L);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushlightuserdata(L, (void *)ORDER_KEY);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

static int object_newindex(lua_State *L);

static void push_marker_mt(lua_State *L, const char *key) {
  if (luaL_newmetatable(L, key)) {
    lua_pushstring(L, key + 5); /* "array" / "object", visible to the pretty-printer */
    lua_setfield(L, -2, "__name");
    if (key == OBJECT_MT_KEY) {
      /* Only called for keys the table does not have yet: records where each new key goes. */
      lua_pushcfunction(L, object_newindex);
      lua_setfield(L, -2, "__newindex");
    }
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

/* ---- key order ---- */

/* A key as the fallback order sorts it: numbers (numerically), then strings (bytewise), then
 * booleans; anything else (a table as a key) last, in traversal order. */
typedef struct sort_key {
  int rank;
  int is_int;
  long long i;
  double d;
  const char *s;
  size_t len;
  size_t pos; /* index in the scratch table, and the tie-break */
} sort_key;

static int compare_sort_keys(const void *pa, const void *pb) {
  const sort_key *a = pa, *b = pb;
  if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
  switch (a->rank) {
  case 0:
    if (a->is_int && b->is_int && a->i != b->i) return a->i < b->i ? -1 : 1;
    if (!(a->is_int && b->is_int) && a->d != b->d) return a->d < b->d ? -1 : 1;
    break;
  case 1: {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c) return c < 0 ? -1 : 1;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    break;
  }
  case 2:
    if (a->i != b->i) return a->i < b->i ? -1 : 1;
    break;
  default: break;
  }
  return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Sorts keys[from+1 .. from+n] (the table at index keys) in place by the fallback order. */
static void sort_key_range(lua_State *L, int keys, size_t from, size_t n) {
  if (n < 2) return;
  /* Small key sets sort in a C array (nothing below can raise, so nothing can leak); larger ones
   * in a userdata, which the collector frees even if a memory error unwinds past it. */
  sort_key small[32];
  sort_key *v = n <= 32 ? small : lua_newuserdata(L, n * sizeof *v);
  int scratch = n <= 32 ? 0 : lua_gettop(L);
  for (size_t i = 0; i < n; i++) {
    sort_key *k = &v[i];
    memset(k, 0, sizeof *k);
    k->pos = from + i + 1;
    lua_rawgeti(L, keys, (int)(from + i + 1));
    switch (lua_type(L, -1)) {
    case LUA_TNUMBER:
      k->rank = 0;
      k->is_int = seer_isinteger(L, -1);
      if (k->is_int) k->i = seer_tointeger(L, -1);
      k->d = lua_tonumber(L, -1);
      break;
    case LUA_TSTRING:
      k->rank = 1;
      k->s = lua_tolstring(L, -1, &k->len); /* kept alive by the keys table */
      break;
    case LUA_TBOOLEAN:
      k->rank = 2;
      k->i = lua_toboolean(L, -1);
      break;
    default: k->rank = 3;
    }
    lua_pop(L, 1);
  }
  qsort(v, n, sizeof *v, compare_sort_keys);
  /* Permute through the Lua stack (or a scratch table when the set is large). */
  if (n <= 1024 && lua_checkstack(L, (int)n + 2)) {
    for (size_t i = 0; i < n; i++)
      lua_rawgeti(L, keys, (int)v[i].pos);
    for (size_t i = n; i >= 1; i--)
      lua_rawseti(L, keys, (int)(from + i));
  } else {
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, keys, (int)v[i].pos);
      lua_rawseti(L, -2, (int)(i + 1));
    }
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, (int)i);
      lua_rawseti(L, keys, (int)(from + i));
    }
    lua_pop(L, 1);
  }
  if (scratch) lua_remove(L, scratch);
}

/* Pushes the order list of the table at idx, or nil. */
static void push_order_list(lua_State *L, int idx) {
  push_orders(L);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  lua_remove(L, -2);
}

void seer_key_order_new(lua_State *L, int idx) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  push_orders(L);
  lua_pushvalue(L, idx);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_insert(L, -4); /* list, orders, t, list */
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

/* An object's order list, created on first use from the keys it already has (sorted: their
 * insertion order is not known). Pushes the list. */
static void push_order_list_or_new(lua_State *L, int idx) {
  push_order_list(L, idx);
  if (!lua_isnil(L, -1)) return;
  lua_pop(L, 1);
  size_t n = 0;
  lua_newtable(L);
  int keys = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, keys, (int)++n);
  }
  sort_key_range(L, keys, 0, n);
  push_orders(L);
  lua_pushvalue(L, idx);
  lua_pushvalue(L, keys);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

static int object_newindex(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 3);
  if (lua_isnil(L, 3)) return 0; /* assigning nil to an absent key: nothing to record */
  push_order_list_or_new(L, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, (int)seer_rawlen(L, -2) + 1);
  lua_pop(L, 1);
  lua_rawset(L, 1);
  return 0;
}

void seer_key_order_set(lua_State *L, int idx, int keys) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  keys = keys < 0 ? lua_gettop(L) + keys + 1 : keys;
  size_t n = seer_rawlen(L, keys);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(L, keys, (int)i);
    lua_rawseti(L, -2, (int)i);
  }
  push_orders(L);
  lua_pushvalue(L, idx);
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  lua_pop(L, 2);
}

void seer_key_order_init(lua_State *L, int idx) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  push_order_list_or_new(L, idx);
  lua_pop(L, 1);
}

size_t seer_push_key_order(lua_State *L, int idx) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  luaL_checkstack(L, 8, "key order");
  size_t count = 0; /* sizes the result: growing it key by key costs more than this pass */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
  }
  lua_createtable(L, (int)count, 0);
  int out = lua_gettop(L);
  size_t n = 0;
  push_order_list(L, idx);
  int list = lua_gettop(L);
  if (lua_isnil(L, list)) {
    /* No recorded order: all keys, sorted. */
    lua_pop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      lua_rawseti(L, out, (int)++n);
    }
    sort_key_range(L, out, 0, n);
    return n;
  }
  size_t len = seer_rawlen(L, list);
  lua_createtable(L, 0, (int)len);
  int seen = lua_gettop(L);
  /* Last occurrence wins: a key deleted and assigned again moves to the end, as in Python. */
  for (size_t i = len; i >= 1; i--) {
    lua_rawgeti(L, list, (int)i);
    lua_pushvalue(L, -1);
    lua_rawget(L, seen);
    int dup = !lua_isnil(L, -1);
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawget(L, idx);
    int live = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (dup || !live) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);
    lua_rawseti(L, out, (int)++n);
  }
  for (size_t i = 1, j = n; i < j; i++, j--) {
    lua_rawgeti(L, out, (int)i);
    lua_rawgeti(L, out, (int)j);
    lua_rawseti(L, out, (int)i);
    lua_rawseti(L, out, (int)j);
  }
  /* Keys the list does not know (set with rawset, or present before the list) follow, sorted. */
  size_t listed = n;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawget(L, seen);
    int known = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (known) continue;
    lua_pushvalue(L, -1);
    lua_rawseti(L, out, (int)++n);
  }
  sort_key_range(L, out, listed, n - listed);
  lua_settop(L, out);
  return n;
}
