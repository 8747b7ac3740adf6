/* l_tensor_msgpack.c: the msgpack ext type 1 codec for Tensors (payload msgpack
 * [dtype, shape, bin little-endian], DESIGN §6): the __tomsgpack metamethod, the ext_decoders[1]
 * function, and the direct packer / payload decoder used by lmsgpack_convert.c for RPC frames.
 * Payloads come from sandboxes: every field is checked before a byte is trusted. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "l_tensor.h"

/* Tensors travel little-endian (DESIGN §6); the payload is the host's bytes, so say so. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tensor wire format assumes LE host");

/* ---- msgpack ext type 1: payload [dtype, shape, bin little-endian] ---- */

/* Packs the payload's head ([dtype, shape, bin header]) into buf; returns its length. */
static size_t payload_head(const seer_tensor *t, size_t nbytes, char *buf, size_t cap) {
  msgpack_sbuffer sb = {0, buf, cap}; /* fits: at most 1 + 17 + 3 + 9*8 + 5 bytes */
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  const char *dn = seer_dtype_name(t->dtype);
  msgpack_pack_array(&pk, 3);
  msgpack_pack_str(&pk, strlen(dn));
  msgpack_pack_str_body(&pk, dn, strlen(dn));
  msgpack_pack_array(&pk, (size_t)t->ndim);
  for (int i = 0; i < t->ndim; i++)
    msgpack_pack_int64(&pk, t->shape[i]);
  msgpack_pack_bin(&pk, nbytes);
  return sb.size;
}

void seer_lua_tensor_pack(lua_State *L, msgpack_packer *pk, seer_tensor *t) {
  seer_error err;
  seer_tensor *c =
      seer_tensor_is_contiguous(t) ? seer_tensor_retain(t) : seer_tensor_clone(t, &err);
  if (!c) {
    seer_lua_tensor_error(L, "tensor msgpack encode", &err);
    return;
  }
  size_t nbytes = (size_t)seer_tensor_numel(c) * seer_dtype_size(c->dtype);
  char head[128];
  size_t hn = payload_head(c, nbytes, head, sizeof head);
  msgpack_pack_ext(pk, hn + nbytes, MSGPACK_EXT_TENSOR);
  msgpack_pack_ext_body(pk, head, hn);
  if (nbytes) msgpack_pack_bin_body(pk, seer_tensor_data(c), nbytes);
  seer_tensor_release(c);
}

static int t_payload(lua_State *L, seer_tensor *t) {
  seer_error err;
  seer_tensor *c =
      seer_tensor_is_contiguous(t) ? seer_tensor_retain(t) : seer_tensor_clone(t, &err);
  if (!c) return seer_lua_tensor_error(L, "tensor msgpack encode", &err);
  size_t nbytes = (size_t)seer_tensor_numel(c) * seer_dtype_size(c->dtype);
  char head[128];
  size_t hn = payload_head(c, nbytes, head, sizeof head);
  char *p = malloc(hn + nbytes);
  if (!p) {
    seer_tensor_release(c);
    return luaL_error(L, "tensor msgpack encode: out of memory");
  }
  memcpy(p, head, hn);
  if (nbytes) memcpy(p + hn, seer_tensor_data(c), nbytes);
  seer_tensor_release(c);
  lua_pushlstring(L, p, hn + nbytes);
  free(p);
  return 1;
}

/* __tomsgpack: msgpack.ext(1, payload); upvalue 1 is the seer.msgpack module. */
int seer_lua_tensor_tomsgpack(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor msgpack encode");
  lua_getfield(L, lua_upvalueindex(1), "ext");
  lua_pushinteger(L, MSGPACK_EXT_TENSOR);
  t_payload(L, t);
  lua_call(L, 2, 1);
  return 1;
}

static seer_tensor *decode_payload(const char *p, size_t len, seer_error *err) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  seer_tensor *t = NULL;
  size_t off = 0;
  if (msgpack_unpack_next(&u, p, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
    seer_errorf(err, SEER_EFORMAT, "payload is not one msgpack value");
    goto out;
  }
  const msgpack_object *o = &u.data;
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3) {
    seer_errorf(err, SEER_EFORMAT, "payload must be [dtype, shape, data]");
    goto out;
  }
  const msgpack_object *od = &o->via.array.ptr[0], *os = &o->via.array.ptr[1],
                       *ob = &o->via.array.ptr[2];
  char dname[16] = "";
  if (od->type == MSGPACK_OBJECT_STR && od->via.str.size < sizeof dname)
    memcpy(dname, od->via.str.ptr, od->via.str.size);
  seer_dtype dt;
  if (seer_dtype_parse(dname, &dt)) {
    seer_errorf(err, SEER_EFORMAT, "unknown dtype in payload");
    goto out;
  }
  if (os->type != MSGPACK_OBJECT_ARRAY || os->via.array.size > SEER_TENSOR_MAX_DIMS) {
    seer_errorf(err, SEER_EFORMAT, "shape must be an array of at most %d sizes",
                SEER_TENSOR_MAX_DIMS);
    goto out;
  }
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  uint64_t numel = 1;
  int ndim = (int)os->via.array.size;
  for (int i = 0; i < ndim; i++) {
    const msgpack_object *d = &os->via.array.ptr[i];
    if (d->type != MSGPACK_OBJECT_POSITIVE_INTEGER || d->via.u64 > ((uint64_t)1 << 40)) {
      seer_errorf(err, SEER_EFORMAT, "shape entries must be non-negative integers");
      goto out;
    }
    shape[i] = (int64_t)d->via.u64;
    numel *= d->via.u64;
  }
  const char *data = ob->type == MSGPACK_OBJECT_BIN   ? ob->via.bin.ptr
                     : ob->type == MSGPACK_OBJECT_STR ? ob->via.str.ptr
                                                      : NULL;
  size_t dlen = ob->type == MSGPACK_OBJECT_BIN ? ob->via.bin.size : ob->via.str.size;
  if (!data && numel) {
    seer_errorf(err, SEER_EFORMAT, "data must be bin");
    goto out;
  }
  if (numel > ((uint64_t)1 << 40) || dlen != numel * seer_dtype_size(dt)) {
    seer_errorf(err, SEER_EFORMAT, "data has %zu bytes, the shape needs %llu", dlen,
                (unsigned long long)(numel * seer_dtype_size(dt)));
    goto out;
  }
  t = seer_tensor_from_data(dt, ndim, shape, data, dt, err);
out:
  msgpack_unpacked_destroy(&u);
  return t;
}

void seer_lua_tensor_push_payload(lua_State *L, const char *p, size_t len) {
  seer_error err;
  seer_tensor *t = decode_payload(p, len, &err);
  if (!t) seer_lua_tensor_error(L, "tensor msgpack decode", &err);
  seer_lua_push_tensor(L, t);
}

/* The ext_decoders[1] entry: payload string -> Tensor. */
int seer_lua_tensor_from_msgpack(lua_State *L) {
  size_t len;
  const char *p = luaL_checklstring(L, 1, &len);
  seer_error err;
  seer_tensor *t = decode_payload(p, len, &err);
  if (!t) return seer_lua_tensor_error(L, "tensor msgpack decode", &err);
  seer_lua_push_tensor(L, t);
  return 1;
}
