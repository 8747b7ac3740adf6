/* l_msgpack.c: the `seer.msgpack` module over msgpack-c: Lua values to msgpack and back, ext values
 * (with per-type decoders and a __tomsgpack hook for userdata such as tensors), and stream
 * decoding. */
#include <msgpack.h>
#include <string.h>

#include "bindings.h"
#include "runtime_internal.h"

#define EXT_MT "seer.msgpack.ext"
#define MAX_DEPTH 1000

typedef struct {
  msgpack_sbuffer buf;
  msgpack_packer pk;
} packer_box;

static int packer_gc(lua_State *L) {
  packer_box *p = lua_touserdata(L, 1);
  msgpack_sbuffer_destroy(&p->buf);
  return 0;
}

static void pack_value(lua_State *L, packer_box *p, int idx, int depth);

static int is_ext(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, EXT_MT);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

static void pack_table(lua_State *L, packer_box *p, int idx, int depth) {
  size_t n;
  if (seer_table_kind(L, idx, &n) == SEER_TABLE_ARRAY) {
    msgpack_pack_array(&p->pk, n);
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, (int)i);
      pack_value(L, p, lua_gettop(L), depth + 1);
      lua_pop(L, 1);
    }
    return;
  }
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
  }
  msgpack_pack_map(&p->pk, count);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int top = lua_gettop(L);
    pack_value(L, p, top - 1, depth + 1);
    pack_value(L, p, top, depth + 1);
    lua_pop(L, 1);
  }
}

static void pack_value(lua_State *L, packer_box *p, int idx, int depth) {
  if (depth >= MAX_DEPTH) luaL_error(L, "msgpack.encode: tables nested too deeply (a cycle?)");
  luaL_checkstack(L, 6, "msgpack.encode: nesting");
  switch (lua_type(L, idx)) {
  case LUA_TNIL: msgpack_pack_nil(&p->pk); return;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx))
      msgpack_pack_true(&p->pk);
    else
      msgpack_pack_false(&p->pk);
    return;
  case LUA_TNUMBER:
    if (seer_isinteger(L, idx))
      msgpack_pack_int64(&p->pk, seer_tointeger(L, idx));
    else
      msgpack_pack_double(&p->pk, lua_tonumber(L, idx));
    return;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    /* Text travels as str, anything else as bin, so peers in typed languages get bytes as bytes. */
    if (seer_utf8_valid((const unsigned char *)s, n)) {
      msgpack_pack_str(&p->pk, n);
      msgpack_pack_str_body(&p->pk, s, n);
    } else {
      msgpack_pack_bin(&p->pk, n);
      msgpack_pack_bin_body(&p->pk, s, n);
    }
    return;
  }
  case LUA_TLIGHTUSERDATA:
    if (seer_is_null(L, idx)) {
      msgpack_pack_nil(&p->pk);
      return;
    }
    break;
  case LUA_TTABLE:
  case LUA_TUSERDATA: {
    if (luaL_getmetafield(L, idx, "__tomsgpack")) {
      lua_pushvalue(L, idx);
      lua_call(L, 1, 1);
      pack_value(L, p, lua_gettop(L), depth + 1);
      lua_pop(L, 1);
      return;
    }
    if (is_ext(L, idx)) {
      lua_getfield(L, idx, "type");
      lua_getfield(L, idx, "data");
      size_t n;
      const char *data = luaL_checklstring(L, -1, &n);
      int type = (int)luaL_checkinteger(L, -2);
      if (type < -128 || type > 127)
        luaL_error(L, "msgpack.encode: ext type %d out of range", type);
      msgpack_pack_ext(&p->pk, n, (int8_t)type);
      msgpack_pack_ext_body(&p->pk, data, n);
      lua_pop(L, 2);
      return;
    }
    if (lua_istable(L, idx)) {
      pack_table(L, p, idx, depth);
      return;
    }
    break;
  }
  default: break;
  }
  luaL_error(L, "msgpack.encode: cannot encode a %s value", luaL_typename(L, idx));
}

static int mp_encode(lua_State *L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  packer_box *p = lua_newuserdata(L, sizeof *p);
  msgpack_sbuffer_init(&p->buf);
  msgpack_packer_init(&p->pk, &p->buf, msgpack_sbuffer_write);
  if (luaL_newmetatable(L, "seer.msgpack.packer")) {
    lua_pushcfunction(L, packer_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  pack_value(L, p, 1, 0);
  lua_pushlstring(L, p->buf.data ? p->buf.data : "", p->buf.size);
  return 1;
}

/* ---- decoding ---- */

static void push_object(lua_State *L, const msgpack_object *o, int decoders) {
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
      push_object(L, &o->via.array.ptr[i], decoders);
      lua_rawseti(L, -2, (int)i + 1);
    }
    seer_push_array_mt(L);
    lua_setmetatable(L, -2);
    break;
  case MSGPACK_OBJECT_MAP:
    lua_createtable(L, 0, (int)o->via.map.size);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      push_object(L, &o->via.map.ptr[i].key, decoders);
      if (seer_is_null(L, -1)) luaL_error(L, "msgpack.decode: a map key is nil");
      push_object(L, &o->via.map.ptr[i].val, decoders);
      lua_rawset(L, -3);
    }
    seer_push_object_mt(L);
    lua_setmetatable(L, -2);
    break;
  case MSGPACK_OBJECT_EXT:
    lua_rawgeti(L, decoders, o->via.ext.type);
    if (lua_isfunction(L, -1)) {
      lua_pushlstring(L, o->via.ext.ptr, o->via.ext.size);
      lua_call(L, 1, 1);
    } else {
      lua_pop(L, 1);
      lua_createtable(L, 0, 2);
      seer_pushinteger(L, o->via.ext.type);
      lua_setfield(L, -2, "type");
      lua_pushlstring(L, o->via.ext.ptr, o->via.ext.size);
      lua_setfield(L, -2, "data");
      luaL_setmetatable(L, EXT_MT);
    }
    break;
  }
}

typedef struct {
  msgpack_unpacked result;
} unpacked_box;

static int unpacked_gc(lua_State *L) {
  unpacked_box *u = lua_touserdata(L, 1);
  msgpack_unpacked_destroy(&u->result);
  return 0;
}

/* Decodes one value at byte offset *off. Returns 1 with the value pushed, 0 if the data ends
 * mid-value, and raises on malformed data. */
static int decode_at(lua_State *L, const char *s, size_t len, size_t *off) {
  unpacked_box *u = lua_newuserdata(L, sizeof *u);
  msgpack_unpacked_init(&u->result);
  if (luaL_newmetatable(L, "seer.msgpack.unpacked")) {
    lua_pushcfunction(L, unpacked_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  size_t start = *off;
  msgpack_unpack_return rc = msgpack_unpack_next(&u->result, s, len, off);
  if (rc == MSGPACK_UNPACK_CONTINUE) {
    lua_pop(L, 1);
    return 0;
  }
  if (rc == MSGPACK_UNPACK_PARSE_ERROR)
    return luaL_error(L, "msgpack.decode: malformed data in the value starting at byte %d",
                      (int)start + 1);
  if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
    return luaL_error(L, "msgpack.decode: out of memory at byte %d", (int)start + 1);
  lua_getfield(L, lua_upvalueindex(1), "ext_decoders");
  push_object(L, &u->result.data, lua_gettop(L));
  lua_replace(L, -3); /* value over the box; drop the decoders table */
  lua_pop(L, 1);
  return 1;
}

/* decode(s) -> value; the whole string must be exactly one value. */
static int mp_decode(lua_State *L) {
  size_t len, off = 0;
  const char *s = luaL_checklstring(L, 1, &len);
  if (!decode_at(L, s, len, &off))
    return luaL_error(L, "msgpack.decode: data ends in the middle of a value (%d bytes)", (int)len);
  if (off != len)
    return luaL_error(L, "msgpack.decode: trailing data after the value at byte %d", (int)off + 1);
  if (seer_is_null(L, -1)) lua_pushnil(L);
  return 1;
}

/* decode_one(s [, pos]) -> value, next_pos | nil, pos when s ends mid-value (stream framing). */
static int mp_decode_one(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_Integer pos = luaL_optinteger(L, 2, 1);
  if (pos < 1 || (size_t)pos > len + 1)
    return luaL_error(L, "msgpack.decode_one: position out of range");
  size_t off = (size_t)pos - 1;
  if (!decode_at(L, s, len, &off)) {
    lua_pushnil(L);
    lua_pushinteger(L, pos);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)off + 1);
  return 2;
}

static int mp_ext(lua_State *L) {
  lua_Integer type = luaL_checkinteger(L, 1);
  luaL_checkstring(L, 2);
  if (type < -128 || type > 127)
    return luaL_error(L, "msgpack.ext: type %d out of range", (int)type);
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "type");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "data");
  luaL_setmetatable(L, EXT_MT);
  return 1;
}

int luaopen_seer_msgpack(lua_State *L) {
  luaL_newmetatable(L, EXT_MT);
  lua_pushstring(L, "msgpack.ext");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"encode", mp_encode},
                                 {"decode", mp_decode},
                                 {"decode_one", mp_decode_one},
                                 {"ext", mp_ext},
                                 {NULL, NULL}};
  lua_newtable(L);
  lua_pushvalue(L, -1);
  luaL_setfuncs(L, fns, 1); /* each function sees the module table as upvalue 1 */
  lua_newtable(L);
  lua_setfield(L, -2, "ext_decoders"); /* ext_decoders[type] = function(payload) -> value */
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
