/* lmsgpack_convert.h: Lua values <-> msgpack-c objects, shared by seer.msgpack and seer._rpc so
 * that RPC frames go straight from msgpack-c's unpacker into Lua values (and back) without an
 * intermediate string. */
#ifndef SEER_LMSGPACK_CONVERT_H
#define SEER_LMSGPACK_CONVERT_H

#include <msgpack.h>

#include "compat.h"

/* Metatable of ext values, {type=, data=} (created on first use). */
#define SEER_MSGPACK_EXT_MT "seer.msgpack.ext"

/* Encodes the Lua value at idx with pk. Raises a Lua error naming what cannot be encoded (a
 * function, a cycle, ...); what was packed so far stays in pk's buffer. who prefixes messages. */
void seer_lmsgpack_pack(lua_State *L, msgpack_packer *pk, int idx, const char *who);
/* Pushes o as a Lua value. nil becomes the null sentinel (so arrays keep their holes); ext values
 * go through the decoder table at stack index decoders (a function per type, __index honoured)
 * and otherwise become ext values. decoders may be 0 for none. */
void seer_lmsgpack_push(lua_State *L, const msgpack_object *o, int decoders);
/* Pushes the ext metatable, creating it on first use. */
void seer_lmsgpack_push_ext_mt(lua_State *L);

#endif
