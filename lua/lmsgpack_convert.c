/* lmsgpack_convert.c: owns the mapping between Lua values and msgpack (str vs bin by UTF-8
 * validity, array vs map by seer_table_kind, ext values, __tomsgpack, the null sentinel), used by
 * the seer.msgpack codec and by RPC connections. */
#include "lmsgpack_convert.h"

#include "l_tensor.h"
#include "runtime_internal.h"
#include "seer/utf8.h"

#define MAX_DEPTH 1000

void seer_lmsgpack_push_ext_mt(lua_State *L) {
  if (luaL_newmetatable(L, SEER_MSGPACK_EXT_MT)) {
    lua_pushstring(L, "msgpack.ext");
    lua_setfield(L, -2, "__name");
  }
}

static int is_ext(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  seer_lmsgpack_push_ext_mt(L);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

static void pack_value(lua_State *L, msgpack_packer *pk, int idx, int depth, const char *who);

static void pack_table(lua_State *L, msgpack_packer *pk, int idx, int depth, const char *who) {
  size_t n;
  if (seer_table_kind(L, idx, &n) == SEER_TABLE_ARRAY) {
    msgpack_pack_array(pk, n);
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, (int)i);
      pack_value(L, pk, lua_gettop(L), depth + 1, who);
      lua_pop(L, 1);
    }
    return;
  }
  /* Keys in the shared order (insertion order when known, else sorted): same bytes every run. */
  size_t count = seer_push_key_order(L, idx);
  int keys = lua_gettop(L);
  msgpack_pack_map(pk, count);
  for (size_t i = 1; i <= count; i++) {
    lua_rawgeti(L, keys, (int)i);
    lua_pushvalue(L, -1);
    lua_rawget(L, idx);
    int top = lua_gettop(L);
    pack_value(L, pk, top - 1, depth + 1, who);
    pack_value(L, pk, top, depth + 1, who);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

static void pack_value(lua_State *L, msgpack_packer *pk, int idx, int depth, const char *who) {
  if (depth >= MAX_DEPTH) luaL_error(L, "%s: tables nested too deeply (a cycle?)", who);
  luaL_checkstack(L, 6, "msgpack: nesting");
  switch (lua_type(L, idx)) {
  case LUA_TNIL: msgpack_pack_nil(pk); return;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx))
      msgpack_pack_true(pk);
    else
      msgpack_pack_false(pk);
    return;
  case LUA_TNUMBER:
    if (seer_isinteger(L, idx))
      msgpack_pack_int64(pk, seer_tointeger(L, idx));
    else
      msgpack_pack_double(pk, lua_tonumber(L, idx));
    return;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    /* Text travels as str, anything else as bin, so peers in typed languages get bytes as bytes. */
    if (seer_utf8_valid(s, n)) {
      msgpack_pack_str(pk, n);
      msgpack_pack_str_body(pk, s, n);
    } else {
      msgpack_pack_bin(pk, n);
      msgpack_pack_bin_body(pk, s, n);
    }
    return;
  }
  case LUA_TLIGHTUSERDATA:
    if (seer_is_null(L, idx)) {
      msgpack_pack_nil(pk);
      return;
    }
    break;
  case LUA_TTABLE:
  case LUA_TUSERDATA: {
    if (lua_type(L, idx) == LUA_TUSERDATA) {
      /* Tensors go as ext 1 straight from their storage: no payload string in between. */
      seer_tensor *t = seer_lua_to_tensor(L, idx);
      if (t) {
        seer_lua_tensor_pack(L, pk, t);
        return;
      }
    }
    if (luaL_getmetafield(L, idx, "__tomsgpack")) {
      lua_pushvalue(L, idx);
      lua_call(L, 1, 1);
      pack_value(L, pk, lua_gettop(L), depth + 1, who);
      lua_pop(L, 1);
      return;
    }
    if (is_ext(L, idx)) {
      lua_getfield(L, idx, "type");
      lua_getfield(L, idx, "data");
      size_t n;
      const char *data = luaL_checklstring(L, -1, &n);
      int type = (int)luaL_checkinteger(L, -2);
      if (type < -128 || type > 127) luaL_error(L, "%s: ext type %d out of range", who, type);
      msgpack_pack_ext(pk, n, (int8_t)type);
      msgpack_pack_ext_body(pk, data, n);
      lua_pop(L, 2);
      return;
    }
    if (lua_istable(L, idx)) {
      pack_table(L, pk, idx, depth, who);
      return;
    }
    break;
  }
  default: break;
  }
  luaL_error(L, "%s: cannot encode a %s value", who, luaL_typename(L, idx));
}

void seer_lmsgpack_pack(lua_State *L, msgpack_packer *pk, int idx, const char *who) {
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
  pack_value(L, pk, idx, 0, who);
}

void seer_lmsgpack_push(lua_State *L, const msgpack_object *o, int decoders) {
  luaL_checkstack(L, 6, "msgpack.decode: nesting");
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: lua_pushlightuserdata(L, NULL); break;
  case MSGPACK_OBJECT_BOOLEAN: lua_pushboolean(L, o->via.boolean); break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER:
    if (o->via.u64 > (uint64_t)INT64_MAX)
      lua_pushnumber(L, (lua_Number)o->via.u64);
    else
      seer_pushinteger(L, (long long)o->via.u64);
    break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: seer_pushinteger(L, o->via.i64); break;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: lua_pushnumber(L, o->via.f64); break;
  case MSGPACK_OBJECT_STR: lua_pushlstring(L, o->via.str.ptr, o->via.str.size); break;
  case MSGPACK_OBJECT_BIN: lua_pushlstring(L, o->via.bin.ptr, o->via.bin.size); break;
  case MSGPACK_OBJECT_ARRAY:
    lua_createtable(L, (int)o->via.array.size, 0);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
      seer_lmsgpack_push(L, &o->via.array.ptr[i], decoders);
      lua_rawseti(L, -2, (int)i + 1);
    }
    seer_push_array_mt(L);
    lua_setmetatable(L, -2);
    break;
  case MSGPACK_OBJECT_MAP:
    lua_createtable(L, 0, (int)o->via.map.size);
    seer_push_object_mt(L);
    lua_setmetatable(L, -2);
    seer_key_order_new(L, -1); /* the map's order, kept for re-encoding */
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      seer_lmsgpack_push(L, &o->via.map.ptr[i].key, decoders);
      if (seer_is_null(L, -1)) luaL_error(L, "msgpack.decode: a map key is nil");
      lua_pushvalue(L, -1);
      lua_rawseti(L, -3, (int)i + 1);
      seer_lmsgpack_push(L, &o->via.map.ptr[i].val, decoders);
      lua_rawset(L, -4);
    }
    lua_pop(L, 1);
    break;
  case MSGPACK_OBJECT_EXT:
    if (decoders) {
      seer_pushinteger(L, o->via.ext.type);
      lua_gettable(L, decoders);
    } else {
      lua_pushnil(L);
    }
    if (lua_tocfunction(L, -1) == seer_lua_tensor_from_msgpack) {
      /* The tensor decoder reads the frame's bytes in place: no payload string in between. */
      lua_pop(L, 1);
      seer_lua_tensor_push_payload(L, o->via.ext.ptr, o->via.ext.size);
    } else if (lua_isfunction(L, -1)) {
      lua_pushlstring(L, o->via.ext.ptr, o->via.ext.size);
      lua_call(L, 1, 1);
    } else {
      lua_pop(L, 1);
      lua_createtable(L, 0, 2);
      seer_pushinteger(L, o->via.ext.type);
      lua_setfield(L, -2, "type");
      lua_pushlstring(L, o->via.ext.ptr, o->via.ext.size);
      lua_setfield(L, -2, "data");
      seer_lmsgpack_push_ext_mt(L);
      lua_setmetatable(L, -2);
    }
    break;
  }
}
