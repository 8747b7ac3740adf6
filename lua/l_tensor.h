/* l_tensor.h: what the seer.tensor binding shares between its own files (l_tensor.c,
 * l_tensor_ops.c, l_tensor_index.c, l_tensor_directions.c, l_tensor_msgpack.c, l_tensor_io.c) and
 * with other bindings that hand tensors to Lua (l_model.c). */
#ifndef SEER_L_TENSOR_H
#define SEER_L_TENSOR_H

#include "compat.h"
#include "seer/tensor.h"

#define SEER_TENSOR_MT "seer.Tensor"
#define MSGPACK_EXT_TENSOR 1

/* Pushes t as a Lua Tensor, taking over the caller's reference (t NULL: raises out of memory). */
void seer_lua_push_tensor(lua_State *L, seer_tensor *t);
/* The tensor at idx, or NULL when the value is not a Tensor. */
seer_tensor *seer_lua_to_tensor(lua_State *L, int idx);
/* The tensor at idx, raising "<fn>: argument #<arg>: expected a Tensor" otherwise. */
seer_tensor *seer_lua_check_tensor(lua_State *L, int idx, const char *fn);
/* Raises "<fn>: <err->msg>". */
int seer_lua_tensor_error(lua_State *L, const char *fn, const seer_error *err);
/* Converts a 1-based Lua dim (negative counts from the end) at idx to a 0-based C dim for a tensor
 * of ndim dims, raising a clear error when it is out of range. */
int seer_lua_check_dim(lua_State *L, int idx, int ndim, const char *fn);
/* Reads a dtype name at idx ("f32", "bf16", ...), or dflt when the value is absent. */
seer_dtype seer_lua_opt_dtype(lua_State *L, int idx, seer_dtype dflt, const char *fn);

/* The msgpack ext type 1 codec (payload [dtype, shape, bin]), used by seer.msgpack and RPC frames
 * without an intermediate payload string. Packs t as an ext 1 value with pk (the elements go from
 * the tensor's storage to pk's writer in one write); raises on out of memory. */
struct msgpack_packer;
void seer_lua_tensor_pack(lua_State *L, struct msgpack_packer *pk, seer_tensor *t);
/* Pushes the Tensor decoded from an ext 1 payload; raises on a malformed payload. */
void seer_lua_tensor_push_payload(lua_State *L, const char *p, size_t len);
/* The ext_decoders[1] function: payload string -> Tensor (lmsgpack_convert.c recognises it and
 * decodes straight from the frame instead). */
int seer_lua_tensor_from_msgpack(lua_State *L);
/* The __tomsgpack metamethod: msgpack.ext(1, payload); upvalue 1 is the seer.msgpack module. */
int seer_lua_tensor_tomsgpack(lua_State *L);

/* l_tensor_index.c: t[{...}] / t[mask] reads and writes (each returns 0 when the key at 2 is
 * not a table or Tensor), the selection methods (added to the methods table at the top of the
 * stack), and the shape table (callable, so t:shape() works like t.shape). */
int seer_lua_tensor_index_key(lua_State *L, seer_tensor *t);
int seer_lua_tensor_assign_key(lua_State *L, seer_tensor *t);
void seer_lua_tensor_index_register(lua_State *L);
void seer_lua_push_shape(lua_State *L, const seer_tensor *t);

/* Adds cosine_similarity, along, project and project_out (l_tensor_directions.c) to the methods
 * table at the top of the stack. */
void seer_lua_tensor_directions_register(lua_State *L);

/* Adds load and save (l_tensor_io.c) to the module table at the top of the stack. */
void seer_lua_tensor_io_register(lua_State *L);

/* Adds the arithmetic, reduction, product and probability methods (l_tensor_ops.c) to the
 * methods table at the top of the stack, and the arithmetic metamethods to the metatable at mt. */
void seer_lua_tensor_ops_register(lua_State *L, int mt);

#endif
