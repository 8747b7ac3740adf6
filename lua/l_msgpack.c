/* l_msgpack.c: the `seer.msgpack` module over msgpack-c: Lua values to msgpack and back, ext values
 * (with per-type decoders and a __tomsgpack hook for userdata such as tensors), and stream
 * decoding. The value mapping itself is in lmsgpack_convert.c, shared with RPC. */
#include <msgpack.h>
#include <string.h>

#include "bindings.h"
#include "lmsgpack_convert.h"
#include "runtime_internal.h"

typedef struct {
  msgpack_sbuffer buf;
  msgpack_packer pk;
} packer_box;

static int packer_gc(lua_State *L) {
  packer_box *p = lua_touserdata(L, 1);
  msgpack_sbuffer_destroy(&p->buf);
  return 0;
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
  seer_lmsgpack_pack(L, &p->pk, 1, "msgpack.encode");
  lua_pushlstring(L, p->buf.data ? p->buf.data : "", p->buf.size);
  return 1;
}

/* ---- decoding ---- */

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
  seer_lmsgpack_push(L, &u->result.data, lua_gettop(L));
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
  seer_lmsgpack_push_ext_mt(L);
  lua_setmetatable(L, -2);
  return 1;
}

int luaopen_seer_msgpack(lua_State *L) {
  seer_lmsgpack_push_ext_mt(L);
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
