/* l_tensor.c: the `seer.tensor` module: the Tensor userdata (fields, 1-based indexing, views,
 * conversion, printing, raw pointers) and the constructors. The ops (arithmetic, reductions,
 * products, probabilities) are in l_tensor_ops.c, the msgpack ext type 1 codec in
 * l_tensor_msgpack.c and safetensors load/save in l_tensor_io.c.
 * Lua dims and element indices are 1-based; they become 0-based here, at the boundary. */
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "l_tensor.h"

typedef struct {
  seer_tensor *t;
} tensor_box;

/* ---- shared helpers ---- */

void seer_lua_push_tensor(lua_State *L, seer_tensor *t) {
  if (!t) luaL_error(L, "seer.tensor: out of memory");
  tensor_box *b = lua_newuserdata(L, sizeof *b);
  b->t = t;
  luaL_setmetatable(L, SEER_TENSOR_MT);
}

seer_tensor *seer_lua_to_tensor(lua_State *L, int idx) {
  tensor_box *b = luaL_testudata(L, idx, SEER_TENSOR_MT);
  return b ? b->t : NULL;
}

seer_tensor *seer_lua_check_tensor(lua_State *L, int idx, const char *fn) {
  seer_tensor *t = seer_lua_to_tensor(L, idx);
  if (!t)
    luaL_error(L, "%s: argument #%d: expected a Tensor, got %s", fn, idx, luaL_typename(L, idx));
  return t;
}

int seer_lua_tensor_error(lua_State *L, const char *fn, const seer_error *err) {
  return luaL_error(L, "%s: %s", fn, err->msg);
}

int seer_lua_check_dim(lua_State *L, int idx, int ndim, const char *fn) {
  lua_Integer d = luaL_checkinteger(L, idx);
  lua_Integer c = d < 0 ? d + ndim : d - 1;
  if (d == 0 || c < 0 || c >= ndim)
    luaL_error(L, "%s: dim %d out of range for a %d-D tensor (dims are 1..%d, or -1 for the last)",
               fn, (int)d, ndim, ndim);
  return (int)c;
}

seer_dtype seer_lua_opt_dtype(lua_State *L, int idx, seer_dtype dflt, const char *fn) {
  if (lua_isnoneornil(L, idx)) return dflt;
  const char *s = luaL_checkstring(L, idx);
  seer_dtype dt;
  if (seer_dtype_parse(s, &dt) != 0)
    luaL_error(L, "%s: unknown dtype '%s' (use f32, bf16, f16, i32 or i64)", fn, s);
  return dt;
}

/* Reads a shape from a table of integers or from integer arguments first..top. */
static int check_shape(lua_State *L, int first, int64_t *shape, const char *fn) {
  int ndim = 0;
  if (lua_istable(L, first)) {
    ndim = (int)seer_rawlen(L, first);
    if (ndim > SEER_TENSOR_MAX_DIMS)
      luaL_error(L, "%s: shapes have at most %d dims", fn, SEER_TENSOR_MAX_DIMS);
    for (int i = 0; i < ndim; i++) {
      lua_rawgeti(L, first, i + 1);
      if (!seer_isinteger(L, -1) || lua_tonumber(L, -1) < 0)
        luaL_error(L, "%s: shape entries must be non-negative integers", fn);
      shape[i] = (int64_t)lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    return ndim;
  }
  int top = lua_gettop(L);
  for (int i = first; i <= top && lua_type(L, i) == LUA_TNUMBER; i++) {
    if (ndim == SEER_TENSOR_MAX_DIMS)
      luaL_error(L, "%s: shapes have at most %d dims", fn, SEER_TENSOR_MAX_DIMS);
    if (!seer_isinteger(L, i) || lua_tonumber(L, i) < 0)
      luaL_error(L, "%s: shape entries must be non-negative integers", fn);
    shape[ndim++] = (int64_t)lua_tonumber(L, i);
  }
  if (ndim == 0 && !lua_isnoneornil(L, first))
    luaL_error(L, "%s: pass a shape as a table of integers, e.g. {2, 3}", fn);
  return ndim;
}

static void push_number(lua_State *L, const seer_tensor *t, double v) {
  if (seer_dtype_is_float(t->dtype))
    lua_pushnumber(L, v);
  else
    seer_pushinteger(L, (long long)v);
}

/* Converts a 1-based index (negative from the end) into [0, n). */
static int64_t check_index(lua_State *L, int idx, int64_t n, const char *fn) {
  lua_Integer i = luaL_checkinteger(L, idx);
  int64_t c = i < 0 ? n + i : i - 1;
  if (i == 0 || c < 0 || c >= n)
    luaL_error(L, "%s: index %d out of range 1..%d", fn, (int)i, (int)n);
  return c;
}

/* ---- metamethods ---- */

static int t_gc(lua_State *L) {
  tensor_box *b = luaL_checkudata(L, 1, SEER_TENSOR_MT);
  seer_tensor_release(b->t);
  b->t = NULL;
  return 0;
}

static int t_len(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "#tensor");
  seer_pushinteger(L, t->ndim ? t->shape[0] : 0);
  return 1;
}

/* t[i]: a number for 1-D tensors, otherwise a view dropping dim 1; table and mask keys are in
 * l_tensor_index.c; string keys are methods and the fields shape, dtype, ndim and device. */
static int t_index(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor index");
  if (seer_lua_tensor_index_key(L, t)) return 1;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    if (t->ndim == 0) return luaL_error(L, "tensor index: a 0-D tensor has no elements to index");
    int64_t i = check_index(L, 2, t->shape[0], "tensor index");
    if (t->ndim == 1) {
      push_number(L, t, seer_tensor_get(t, &i));
      return 1;
    }
    seer_error err;
    seer_tensor *v = seer_tensor_select(t, i, &err);
    if (!v) return seer_lua_tensor_error(L, "tensor index", &err);
    seer_lua_push_tensor(L, v);
    return 1;
  }
  const char *k = lua_tostring(L, 2);
  if (!k) return 0;
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  if (!lua_isnil(L, -1)) return 1;
  if (!strcmp(k, "shape")) {
    seer_lua_push_shape(L, t);
  } else if (!strcmp(k, "dtype")) {
    lua_pushstring(L, seer_dtype_name(t->dtype));
  } else if (!strcmp(k, "ndim")) {
    lua_pushinteger(L, t->ndim);
  } else if (!strcmp(k, "device")) {
    lua_pushstring(L, seer_tensor_device(t) == SEER_DEVICE_CPU ? "cpu" : "cuda");
  } else {
    lua_pushnil(L);
  }
  return 1;
}

/* t[i] = number | Tensor: sets an element (1-D) or fills / copies into the view t[i]. Table and
 * mask keys are in l_tensor_index.c. */
static int t_newindex(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor assignment");
  if (seer_lua_tensor_assign_key(L, t)) return 0;
  if (lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "tensor assignment: assign to t[i], t[{...}] or t[mask]");
  if (t->ndim == 0) return luaL_error(L, "tensor assignment: a 0-D tensor has no elements");
  int64_t i = check_index(L, 2, t->shape[0], "tensor assignment");
  seer_error err;
  if (t->ndim == 1) {
    seer_tensor_set(t, &i, luaL_checknumber(L, 3));
    return 0;
  }
  seer_tensor *row = seer_tensor_select(t, i, &err);
  if (!row) return seer_lua_tensor_error(L, "tensor assignment", &err);
  int rc;
  seer_tensor *src = seer_lua_to_tensor(L, 3);
  if (src) {
    rc = seer_tensor_copy_(row, src, &err);
  } else {
    seer_tensor *s = seer_tensor_full(row->dtype, 0, NULL, luaL_checknumber(L, 3), &err);
    rc = s ? seer_tensor_copy_(row, s, &err) : err.code;
    seer_tensor_release(s);
  }
  seer_tensor_release(row);
  if (rc) return seer_lua_tensor_error(L, "tensor assignment", &err);
  return 0;
}

/* Nested, numpy-like text with at most 3 leading and 3 trailing entries per dim. */
static void fmt_rec(luaL_Buffer *B, const seer_tensor *t, int dim, int64_t *idx) {
  char num[48];
  if (dim == t->ndim) {
    double v = seer_tensor_get(t, idx);
    if (seer_dtype_is_float(t->dtype))
      snprintf(num, sizeof num, "%.5g", v);
    else
      snprintf(num, sizeof num, "%lld", (long long)v);
    luaL_addstring(B, num);
    return;
  }
  int64_t n = t->shape[dim];
  luaL_addchar(B, '[');
  for (int64_t i = 0; i < n; i++) {
    if (n > 6 && i == 3) {
      luaL_addstring(B, "..., ");
      i = n - 3;
    }
    idx[dim] = i;
    fmt_rec(B, t, dim + 1, idx);
    if (i + 1 < n) luaL_addstring(B, ", ");
  }
  luaL_addchar(B, ']');
}

static int t_tostring(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tostring");
  luaL_Buffer B;
  luaL_buffinit(L, &B);
  luaL_addstring(&B, "Tensor{");
  for (int i = 0; i < t->ndim; i++) {
    char num[32];
    snprintf(num, sizeof num, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    luaL_addstring(&B, num);
  }
  luaL_addstring(&B, "} ");
  luaL_addstring(&B, seer_dtype_name(t->dtype));
  luaL_addchar(&B, ' ');
  int64_t idx[SEER_TENSOR_MAX_DIMS] = {0};
  fmt_rec(&B, t, 0, idx);
  luaL_pushresult(&B);
  return 1;
}

/* ---- views and conversion ---- */

/* t:slice(dim, a [, b]): elements a..b (inclusive, 1-based, negative from the end, as
 * string.sub) along dim, sharing storage. */
static int t_slice(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:slice");
  int dim = seer_lua_check_dim(L, 2, t->ndim, "tensor:slice");
  int64_t n = t->shape[dim];
  lua_Integer a = luaL_checkinteger(L, 3), b = luaL_optinteger(L, 4, -1);
  if (a < 0) a += n + 1;
  if (b < 0) b += n + 1;
  if (a < 1 || b > n || a > b + 1)
    return luaL_error(L, "tensor:slice: range %d..%d is outside 1..%d of dim %d", (int)a, (int)b,
                      (int)n, dim + 1);
  seer_error err;
  seer_tensor *v = seer_tensor_slice(t, dim, a - 1, b, &err);
  if (!v) return seer_lua_tensor_error(L, "tensor:slice", &err);
  seer_lua_push_tensor(L, v);
  return 1;
}

/* t:reshape(shape) or t:reshape(d1, d2, ...); one entry may be -1 (inferred). */
static int t_reshape(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:reshape");
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  int ndim = 0, infer = -1;
  int64_t known = 1;
  int from_table = lua_istable(L, 2);
  int n = from_table ? (int)seer_rawlen(L, 2) : lua_gettop(L) - 1;
  if (n < 1 || n > SEER_TENSOR_MAX_DIMS)
    return luaL_error(L, "tensor:reshape: pass 1 to %d dims, e.g. t:reshape({2, -1})",
                      SEER_TENSOR_MAX_DIMS);
  for (int i = 0; i < n; i++) {
    if (from_table)
      lua_rawgeti(L, 2, i + 1);
    else
      lua_pushvalue(L, i + 2);
    if (!seer_isinteger(L, -1))
      return luaL_error(L, "tensor:reshape: dims must be integers (or -1 once)");
    int64_t d = (int64_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (d == -1 && infer < 0) {
      infer = ndim;
    } else if (d < 0) {
      return luaL_error(L, "tensor:reshape: dims must be >= 0, with at most one -1");
    } else {
      known *= d;
    }
    shape[ndim++] = d;
  }
  if (infer >= 0) {
    if (known == 0 || seer_tensor_numel(t) % known)
      return luaL_error(L, "tensor:reshape: cannot infer -1 for %d elements",
                        (int)seer_tensor_numel(t));
    shape[infer] = seer_tensor_numel(t) / known;
  }
  seer_error err;
  seer_tensor *v = seer_tensor_reshape(t, ndim, shape, &err);
  if (!v) return seer_lua_tensor_error(L, "tensor:reshape", &err);
  seer_lua_push_tensor(L, v);
  return 1;
}

static int t_unsqueeze(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:unsqueeze");
  int dim = seer_lua_check_dim(L, 2, t->ndim + 1, "tensor:unsqueeze");
  seer_error err;
  seer_tensor *v = seer_tensor_unsqueeze(t, dim, &err);
  if (!v) return seer_lua_tensor_error(L, "tensor:unsqueeze", &err);
  seer_lua_push_tensor(L, v);
  return 1;
}

static int t_squeeze(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:squeeze");
  int dim = seer_lua_check_dim(L, 2, t->ndim, "tensor:squeeze");
  seer_error err;
  seer_tensor *v = seer_tensor_squeeze(t, dim, &err);
  if (!v) return seer_lua_tensor_error(L, "tensor:squeeze", &err);
  seer_lua_push_tensor(L, v);
  return 1;
}

static int t_transpose(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:transpose");
  int d0 =
      lua_isnoneornil(L, 2) ? t->ndim - 2 : seer_lua_check_dim(L, 2, t->ndim, "tensor:transpose");
  int d1 =
      lua_isnoneornil(L, 3) ? t->ndim - 1 : seer_lua_check_dim(L, 3, t->ndim, "tensor:transpose");
  if (d0 < 0) return luaL_error(L, "tensor:transpose: needs at least 2 dims");
  seer_error err;
  seer_tensor *v = seer_tensor_transpose(t, d0, d1, &err);
  if (!v) return seer_lua_tensor_error(L, "tensor:transpose", &err);
  seer_lua_push_tensor(L, v);
  return 1;
}

static int t_clone(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:clone");
  seer_error err;
  seer_tensor *c = seer_tensor_clone(t, &err);
  if (!c) return seer_lua_tensor_error(L, "tensor:clone", &err);
  seer_lua_push_tensor(L, c);
  return 1;
}

/* t:to(dtype | "cpu"): a converted copy (the same tensor when nothing changes). */
static int t_to(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:to");
  const char *s = luaL_checkstring(L, 2);
  if (!strcmp(s, "cpu")) {
    lua_settop(L, 1);
    return 1;
  }
  if (!strcmp(s, "cuda"))
    return luaL_error(L, "tensor:to: CUDA tensors are not available in this build (CPU only)");
  seer_dtype dt = seer_lua_opt_dtype(L, 2, t->dtype, "tensor:to");
  if (dt == t->dtype) {
    lua_settop(L, 1);
    return 1;
  }
  seer_error err;
  seer_tensor *c = seer_tensor_to(t, dt, &err);
  if (!c) return seer_lua_tensor_error(L, "tensor:to", &err);
  seer_lua_push_tensor(L, c);
  return 1;
}

static int t_copy_(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:copy_");
  seer_tensor *src = seer_lua_check_tensor(L, 2, "tensor:copy_");
  seer_error err;
  if (seer_tensor_copy_(t, src, &err)) return seer_lua_tensor_error(L, "tensor:copy_", &err);
  lua_settop(L, 1);
  return 1;
}

static void totable_rec(lua_State *L, const seer_tensor *t, int dim, int64_t *idx) {
  luaL_checkstack(L, 4, "tensor:totable");
  if (dim == t->ndim) {
    push_number(L, t, seer_tensor_get(t, idx));
    return;
  }
  lua_createtable(L, (int)t->shape[dim], 0);
  for (int64_t i = 0; i < t->shape[dim]; i++) {
    idx[dim] = i;
    totable_rec(L, t, dim + 1, idx);
    lua_rawseti(L, -2, (int)i + 1);
  }
}

/* Nested tables of numbers (a plain number for a 0-D tensor). */
static int t_totable(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:totable");
  int64_t idx[SEER_TENSOR_MAX_DIMS] = {0};
  totable_rec(L, t, 0, idx);
  return 1;
}

static int t_item(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:item");
  if (seer_tensor_numel(t) != 1)
    return luaL_error(L, "tensor:item: the tensor has %d elements; item() needs exactly one",
                      (int)seer_tensor_numel(t));
  push_number(L, t, seer_tensor_get_flat(t, 0));
  return 1;
}

static int t_numel(lua_State *L) {
  seer_pushinteger(L, seer_tensor_numel(seer_lua_check_tensor(L, 1, "tensor:numel")));
  return 1;
}

static int t_is_contiguous(lua_State *L) {
  lua_pushboolean(L,
                  seer_tensor_is_contiguous(seer_lua_check_tensor(L, 1, "tensor:is_contiguous")));
  return 1;
}

/* t:ptr(): the address of element 1, no copy. On LuaJIT it comes back as an FFI pointer of the
 * element type (bf16/f16 as uint16_t), elsewhere as a light userdata. The tensor must stay
 * referenced while the pointer is used. */
static int t_ptr(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:ptr");
  if (!seer_tensor_is_contiguous(t))
    return luaL_error(L, "tensor:ptr: the tensor is a strided view; call clone() first");
#if defined(SEER_LUAJIT)
  static const char *const ctypes[] = {"float *", "uint16_t *", "uint16_t *", "int32_t *",
                                       "int64_t *"};
  lua_getglobal(L, "require");
  lua_pushliteral(L, "ffi");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "cast");
  lua_pushstring(L, ctypes[t->dtype]);
  lua_pushlightuserdata(L, seer_tensor_data(t));
  lua_call(L, 2, 1);
#else
  lua_pushlightuserdata(L, seer_tensor_data(t));
#endif
  return 1;
}

/* ---- constructors ---- */

/* Constructors take their trailing options positionally (randn(shape, 3, "bf16")) or as a table
 * (randn(shape, {seed = 3, dtype = "bf16"})). When the value at idx is a table, its fields named
 * in `keys` replace the stack slots idx, idx + 1, ... in that order; unknown fields raise. */
static void spread_opts(lua_State *L, int idx, const char *const *keys, const char *fn) {
  if (!lua_istable(L, idx) || seer_lua_to_tensor(L, idx)) return;
  int n = 0;
  while (keys[n])
    n++;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int known = 0;
    for (int i = 0; i < n && !known; i++)
      known = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), keys[i]);
    if (!known) {
      luaL_Buffer B;
      luaL_buffinit(L, &B);
      for (int i = 0; i < n; i++) {
        if (i) luaL_addstring(&B, ", ");
        luaL_addstring(&B, keys[i]);
      }
      luaL_pushresult(&B);
      const char *valid = lua_tostring(L, -1);
      const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : luaL_typename(L, -2);
      luaL_error(L, "%s: unknown option '%s' (valid: %s)", fn, key, valid);
    }
  }
  lua_settop(L, idx + n);
  for (int i = 0; i < n; i++) {
    lua_getfield(L, idx, keys[i]);
    lua_replace(L, idx + 1 + i);
  }
  lua_remove(L, idx);
  lua_pushnil(L);
}

/* Walks the first element of each nesting level to find the shape of a nested table. */
static int infer_shape(lua_State *L, int idx, int64_t *shape) {
  int ndim = 0;
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1)) {
    if (ndim == SEER_TENSOR_MAX_DIMS)
      luaL_error(L, "seer.tensor.from: at most %d nesting levels", SEER_TENSOR_MAX_DIMS);
    shape[ndim++] = (int64_t)seer_rawlen(L, -1);
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return ndim;
}

static void flatten(lua_State *L, int idx, int dim, int ndim, const int64_t *shape, double *out,
                    int64_t *pos) {
  luaL_checkstack(L, 4, "seer.tensor.from");
  if (dim == ndim) {
    if (lua_type(L, idx) != LUA_TNUMBER)
      luaL_error(L, "seer.tensor.from: element %d is a %s, not a number", (int)*pos + 1,
                 luaL_typename(L, idx));
    out[(*pos)++] = lua_tonumber(L, idx);
    return;
  }
  if (!lua_istable(L, idx) || (int64_t)seer_rawlen(L, idx) != shape[dim])
    luaL_error(L, "seer.tensor.from: ragged nesting: every list at depth %d must have %d entries",
               dim + 1, (int)shape[dim]);
  for (int64_t i = 0; i < shape[dim]; i++) {
    lua_rawgeti(L, idx, (int)i + 1);
    flatten(L, lua_gettop(L), dim + 1, ndim, shape, out, pos);
    lua_pop(L, 1);
  }
}

static const char *const dtype_opts[] = {"dtype", NULL};

/* from(nested table | number | Tensor [, dtype | {dtype = ...}]) */
static int l_from(lua_State *L) {
  spread_opts(L, 2, dtype_opts, "seer.tensor.from");
  seer_error err;
  seer_tensor *src = seer_lua_to_tensor(L, 1);
  if (src) {
    seer_dtype dt = seer_lua_opt_dtype(L, 2, src->dtype, "seer.tensor.from");
    seer_tensor *c =
        dt == src->dtype ? seer_tensor_clone(src, &err) : seer_tensor_to(src, dt, &err);
    if (!c) return seer_lua_tensor_error(L, "seer.tensor.from", &err);
    seer_lua_push_tensor(L, c);
    return 1;
  }
  if (!lua_istable(L, 1) && lua_type(L, 1) != LUA_TNUMBER)
    return luaL_error(L,
                      "seer.tensor.from: pass a (nested) table of numbers, e.g. {{1, 2}, {3, 4}}");
  seer_dtype dt = seer_lua_opt_dtype(L, 2, SEER_DTYPE_F32, "seer.tensor.from");
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  int ndim = infer_shape(L, 1, shape);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  /* Scratch as userdata so that a raise from flatten (bad element) leaks nothing. Values go in
   * as f32 for float dtypes and i64 for integer ones, the closest source dtypes C converts from. */
  int is_float = seer_dtype_is_float(dt);
  double *buf = lua_newuserdata(L, sizeof(double) * (size_t)(n ? n : 1));
  int64_t pos = 0;
  flatten(L, 1, 0, ndim, shape, buf, &pos);
  void *data =
      lua_newuserdata(L, (is_float ? sizeof(float) : sizeof(int64_t)) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) {
    if (is_float)
      ((float *)data)[i] = (float)buf[i];
    else
      ((int64_t *)data)[i] = (int64_t)buf[i];
  }
  seer_dtype sdt = is_float ? SEER_DTYPE_F32 : SEER_DTYPE_I64;
  seer_tensor *t = seer_tensor_from_data(dt, ndim, shape, data, sdt, &err);
  if (!t) return seer_lua_tensor_error(L, "seer.tensor.from", &err);
  seer_lua_push_tensor(L, t);
  return 1;
}

/* zeros(shape [, dtype | {dtype = ...}]), ones(...), full(shape, value [, dtype | {...}]) */
static int make_full(lua_State *L, const char *fn, double value, int dtype_arg) {
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  spread_opts(L, dtype_arg, dtype_opts, fn);
  if (!lua_istable(L, 1) && !seer_isinteger(L, 1))
    return luaL_error(L, "%s: pass a shape, e.g. %s({2, 3})", fn, fn);
  lua_settop(L, dtype_arg);
  int ndim = lua_istable(L, 1) ? check_shape(L, 1, shape, fn) : 1;
  if (!lua_istable(L, 1)) {
    if (lua_tonumber(L, 1) < 0) return luaL_error(L, "%s: sizes must be >= 0", fn);
    shape[0] = (int64_t)lua_tonumber(L, 1);
  }
  seer_dtype dt = seer_lua_opt_dtype(L, dtype_arg, SEER_DTYPE_F32, fn);
  seer_error err;
  seer_tensor *t = seer_tensor_full(dt, ndim, shape, value, &err);
  if (!t) return seer_lua_tensor_error(L, fn, &err);
  seer_lua_push_tensor(L, t);
  return 1;
}

static int l_zeros(lua_State *L) { return make_full(L, "seer.tensor.zeros", 0, 2); }
static int l_ones(lua_State *L) { return make_full(L, "seer.tensor.ones", 1, 2); }
static int l_full(lua_State *L) {
  return make_full(L, "seer.tensor.full", luaL_checknumber(L, 2), 3);
}

/* randn(shape [, seed [, dtype]]) or randn(shape, {seed = ..., dtype = ...}): standard normals,
 * the same values for a seed everywhere. */
static int l_randn(lua_State *L) {
  static const char *const opts[] = {"seed", "dtype", NULL};
  spread_opts(L, 2, opts, "seer.tensor.randn");
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  int ndim;
  if (lua_istable(L, 1)) {
    ndim = check_shape(L, 1, shape, "seer.tensor.randn");
  } else if (seer_isinteger(L, 1) && lua_tonumber(L, 1) >= 0) {
    ndim = 1;
    shape[0] = (int64_t)lua_tonumber(L, 1);
  } else {
    return luaL_error(L, "seer.tensor.randn: pass a shape and a seed, e.g. randn({4, 8}, 42)");
  }
  if (!lua_isnoneornil(L, 2) && !seer_isinteger(L, 2))
    return luaL_error(L, "seer.tensor.randn: the seed must be an integer");
  uint64_t seed = lua_isnoneornil(L, 2) ? 0 : (uint64_t)seer_tointeger(L, 2);
  seer_dtype dt = seer_lua_opt_dtype(L, 3, SEER_DTYPE_F32, "seer.tensor.randn");
  seer_error err;
  seer_tensor *t = seer_tensor_randn(dt, ndim, shape, seed, &err);
  if (!t) return seer_lua_tensor_error(L, "seer.tensor.randn", &err);
  seer_lua_push_tensor(L, t);
  return 1;
}

static int l_is_tensor(lua_State *L) {
  lua_pushboolean(L, seer_lua_to_tensor(L, 1) != NULL);
  return 1;
}

/* threads([n]): the CPU kernel thread count (0 = all cores); returns the current value. */
static int l_threads(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 0) return luaL_error(L, "seer.tensor.threads: pass a count >= 0 (0 = all cores)");
    seer_tensor_set_threads((int)n);
  }
  lua_pushinteger(L, seer_tensor_get_threads());
  return 1;
}

/* cpu_level(): the CPU kernels' ISA level in use, and the best this machine supports. */
static int l_cpu_level(lua_State *L) {
  lua_pushstring(L, seer_cpu_level());
  lua_pushstring(L, seer_cpu_level_best());
  return 2;
}

int luaopen_seer_tensor(lua_State *L) {
  static const luaL_Reg methods[] = {{"slice", t_slice},
                                     {"reshape", t_reshape},
                                     {"view", t_reshape},
                                     {"unsqueeze", t_unsqueeze},
                                     {"squeeze", t_squeeze},
                                     {"transpose", t_transpose},
                                     {"clone", t_clone},
                                     {"to", t_to},
                                     {"copy_", t_copy_},
                                     {"totable", t_totable},
                                     {"item", t_item},
                                     {"numel", t_numel},
                                     {"is_contiguous", t_is_contiguous},
                                     {"ptr", t_ptr},
                                     {NULL, NULL}};
  static const luaL_Reg fns[] = {
      {"from", l_from},       {"zeros", l_zeros},         {"ones", l_ones},
      {"full", l_full},       {"randn", l_randn},         {"is_tensor", l_is_tensor},
      {"threads", l_threads}, {"cpu_level", l_cpu_level}, {NULL, NULL}};
  /* seer.msgpack gets the tensor codec: __tomsgpack below, and the ext type 1 decoder. */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "seer.msgpack");
  lua_call(L, 1, 1);
  int msgpack = lua_gettop(L);

  luaL_newmetatable(L, SEER_TENSOR_MT);
  int mt = lua_gettop(L);
  lua_pushliteral(L, SEER_TENSOR_MT);
  lua_setfield(L, mt, "__name");
  lua_pushcfunction(L, t_gc);
  lua_setfield(L, mt, "__gc");
  lua_pushcfunction(L, t_len);
  lua_setfield(L, mt, "__len");
  lua_pushcfunction(L, t_tostring);
  lua_setfield(L, mt, "__tostring");
  lua_pushcfunction(L, t_newindex);
  lua_setfield(L, mt, "__newindex");
  lua_pushvalue(L, msgpack);
  lua_pushcclosure(L, seer_lua_tensor_tomsgpack, 1);
  lua_setfield(L, mt, "__tomsgpack");
  luaL_newlib(L, methods);
  seer_lua_tensor_ops_register(L, mt);
  seer_lua_tensor_index_register(L);
  seer_lua_tensor_directions_register(L);
  lua_pushvalue(L, -1);
  lua_setfield(L, mt, "methods"); /* so Lua code can add methods */
  lua_pushcclosure(L, t_index, 1);
  lua_setfield(L, mt, "__index");

  lua_getfield(L, msgpack, "ext_decoders");
  lua_pushcfunction(L, seer_lua_tensor_from_msgpack);
  lua_rawseti(L, -2, MSGPACK_EXT_TENSOR);
  lua_pop(L, 1);

  luaL_newlib(L, fns);
  seer_lua_tensor_io_register(L);
  lua_pushcfunction(L, seer_lua_tensor_from_msgpack);
  lua_setfield(L, -2, "from_msgpack");
  return 1;
}
