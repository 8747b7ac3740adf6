/* l_tensor_index.c: torch-style selection on Tensors. Table keys (t[{1, {2, 5}, ":"}]) and mask
 * keys (t[mask]) for reading and assignment, narrow, index_select, masked_select / masked_fill,
 * permute, the comparisons that make masks (eq, ne, lt, le, gt, ge), size(dim), and the callable
 * shape field (t.shape and t:shape() both work). Dims and indices are 1-based here, 0-based in C.
 */
#include <string.h>

#include "l_tensor.h"

#define SHAPE_MT "seer.TensorShape"

static void push_view_or_number(lua_State *L, seer_tensor *v) {
  if (v->ndim == 0) {
    double x = seer_tensor_get_flat(v, 0);
    int is_float = seer_dtype_is_float(v->dtype);
    seer_tensor_release(v);
    if (is_float)
      lua_pushnumber(L, x);
    else
      seer_pushinteger(L, (long long)x);
    return;
  }
  seer_lua_push_tensor(L, v);
}

/* Converts the 1-based position at the top of the stack (negative counts from the end, as
 * string.sub) into [0, n]; `end` allows n + 1 (an empty range a..a-1). */
static int64_t pos_arg(lua_State *L, int idx, int64_t n, int allow_end, const char *what) {
  if (!seer_isinteger(L, idx))
    luaL_error(L, "tensor index: %s must be an integer, got %s", what, luaL_typename(L, idx));
  int64_t i = (int64_t)lua_tonumber(L, idx);
  if (i < 0) i += n + 1;
  if (i < 1 || i > n + (allow_end ? 1 : 0))
    luaL_error(L, "tensor index: %s %d is out of range 1..%d", what, (int)lua_tonumber(L, idx),
               (int)n);
  return i - 1;
}

/* Applies the index table at idx to t: per dim, an integer picks one entry and drops the dim;
 * {a, b} keeps a..b (inclusive, negative from the end), {a} keeps a..a, {} or ":" keeps all.
 * Returns a new view (its own reference). */
static seer_tensor *apply_spec(lua_State *L, seer_tensor *t, int idx) {
  int n = (int)seer_rawlen(L, idx);
  if (n > t->ndim) luaL_error(L, "tensor index: %d entries for a %d-D tensor", n, t->ndim);
  seer_tensor *v = seer_tensor_retain(t);
  seer_error err;
  int dim = 0;
  for (int k = 1; k <= n; k++) {
    lua_rawgeti(L, idx, k);
    int e = lua_gettop(L);
    int64_t size = v->shape[dim], a, b;
    int drop = 0;
    if (lua_type(L, e) == LUA_TNUMBER) {
      a = pos_arg(L, e, size, 0, "index");
      b = a + 1;
      drop = 1;
    } else if (lua_type(L, e) == LUA_TSTRING && !strcmp(lua_tostring(L, e), ":")) {
      a = 0, b = size;
    } else if (lua_istable(L, e) && seer_rawlen(L, e) <= 2) {
      size_t m = seer_rawlen(L, e);
      lua_rawgeti(L, e, 1);
      lua_rawgeti(L, e, 2);
      a = m >= 1 ? pos_arg(L, -2, size, 0, "range start") : 0;
      b = m == 2 ? pos_arg(L, -1, size, 0, "range end") + 1 : m == 1 ? a + 1 : size;
      lua_pop(L, 2);
      if (b < a) {
        seer_tensor_release(v);
        luaL_error(L, "tensor index: range %d..%d of dim %d is backwards", (int)a + 1, (int)b,
                   dim + 1);
      }
    } else {
      seer_tensor_release(v);
      luaL_error(L,
                 "tensor index: entry %d is a %s; use an integer, {first, last}, {} or \":\" "
                 "(e.g. t[{1, {2, 5}}])",
                 k, luaL_typename(L, e));
      return NULL;
    }
    lua_pop(L, 1);
    seer_tensor *s = seer_tensor_slice(v, dim, a, b, &err);
    if (s && drop) {
      seer_tensor *q = seer_tensor_squeeze(s, dim, &err);
      seer_tensor_release(s);
      s = q;
    }
    seer_tensor_release(v);
    if (!s) seer_lua_tensor_error(L, "tensor index", &err);
    v = s;
    if (!drop) dim++;
  }
  return v;
}

/* t[{...}] and t[mask]; returns 0 when the key is neither (the caller handles it). */
int seer_lua_tensor_index_key(lua_State *L, seer_tensor *t) {
  seer_tensor *mask = seer_lua_to_tensor(L, 2);
  seer_error err;
  if (mask) {
    seer_tensor *r = seer_tensor_masked_select(t, mask, &err);
    if (!r) return seer_lua_tensor_error(L, "tensor index", &err);
    seer_lua_push_tensor(L, r);
    return 1;
  }
  if (!lua_istable(L, 2)) return 0;
  push_view_or_number(L, apply_spec(L, t, 2));
  return 1;
}

/* t[{...}] = number | Tensor and t[mask] = number; returns 0 when the key is neither. */
int seer_lua_tensor_assign_key(lua_State *L, seer_tensor *t) {
  seer_tensor *mask = seer_lua_to_tensor(L, 2);
  seer_error err;
  if (mask) {
    if (lua_type(L, 3) != LUA_TNUMBER)
      return luaL_error(L, "tensor assignment: t[mask] = v takes a number");
    if (seer_tensor_masked_fill_(t, mask, lua_tonumber(L, 3), &err))
      return seer_lua_tensor_error(L, "tensor assignment", &err);
    return 1;
  }
  if (!lua_istable(L, 2)) return 0;
  seer_tensor *v = apply_spec(L, t, 2);
  seer_tensor *src = seer_lua_to_tensor(L, 3), *fill = NULL;
  if (!src) {
    if (lua_type(L, 3) != LUA_TNUMBER) {
      seer_tensor_release(v);
      return luaL_error(L, "tensor assignment: assign a number or a Tensor");
    }
    src = fill = seer_tensor_full(v->dtype, 0, NULL, lua_tonumber(L, 3), &err);
  }
  int rc = src ? seer_tensor_copy_(v, src, &err) : -1;
  seer_tensor_release(fill);
  seer_tensor_release(v);
  if (rc) return seer_lua_tensor_error(L, "tensor assignment", &err);
  return 1;
}

/* t:narrow(dim, start, length): entries start..start+length-1 along dim, sharing storage. */
static int t_narrow(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:narrow");
  int dim = seer_lua_check_dim(L, 2, t->ndim, "tensor:narrow");
  int64_t n = t->shape[dim];
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  if (start < 0) start += n + 1;
  if (start < 1 || len < 0 || start - 1 + len > n)
    return luaL_error(L, "tensor:narrow: start %d, length %d do not fit in size %d of dim %d",
                      (int)lua_tointeger(L, 3), (int)len, (int)n, dim + 1);
  seer_error err;
  seer_tensor *v = seer_tensor_slice(t, dim, start - 1, start - 1 + len, &err);
  if (!v) return seer_lua_tensor_error(L, "tensor:narrow", &err);
  seer_lua_push_tensor(L, v);
  return 1;
}

/* t:index_select(dim, indices): a copy with the entries at 1-based indices (a list or a 1-D
 * integer Tensor, e.g. topk's) along dim, in that order. */
static int t_index_select(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:index_select");
  int dim = seer_lua_check_dim(L, 2, t->ndim, "tensor:index_select");
  seer_tensor *it = seer_lua_to_tensor(L, 3);
  int64_t n;
  if (it) {
    if (it->ndim != 1 || seer_dtype_is_float(it->dtype))
      return luaL_error(L, "tensor:index_select: indices must be a 1-D integer Tensor or a list");
    n = it->shape[0];
  } else {
    luaL_checktype(L, 3, LUA_TTABLE);
    n = (int64_t)seer_rawlen(L, 3);
  }
  int64_t *idx = lua_newuserdata(L, sizeof(int64_t) * (size_t)(n ? n : 1));
  int64_t size = t->shape[dim];
  for (int64_t k = 0; k < n; k++) {
    double x;
    if (it) {
      x = seer_tensor_get_flat(it, k);
    } else {
      lua_rawgeti(L, 3, (int)k + 1);
      if (!seer_isinteger(L, -1))
        return luaL_error(L, "tensor:index_select: index %d is not an integer", (int)k + 1);
      x = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    int64_t i = (int64_t)x;
    if (i < 0) i += size + 1;
    if (i < 1 || i > size)
      return luaL_error(L, "tensor:index_select: index %d is out of range 1..%d of dim %d", (int)x,
                        (int)size, dim + 1);
    idx[k] = i - 1;
  }
  seer_error err;
  seer_tensor *r = seer_tensor_index_select(t, dim, idx, n, &err);
  if (!r) return seer_lua_tensor_error(L, "tensor:index_select", &err);
  seer_lua_push_tensor(L, r);
  return 1;
}

static int t_masked_select(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:masked_select");
  seer_tensor *m = seer_lua_check_tensor(L, 2, "tensor:masked_select");
  seer_error err;
  seer_tensor *r = seer_tensor_masked_select(t, m, &err);
  if (!r) return seer_lua_tensor_error(L, "tensor:masked_select", &err);
  seer_lua_push_tensor(L, r);
  return 1;
}

/* t:masked_fill_(mask, v): in place, returns t. */
static int t_masked_fill_(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:masked_fill_");
  seer_tensor *m = seer_lua_check_tensor(L, 2, "tensor:masked_fill_");
  seer_error err;
  if (seer_tensor_masked_fill_(t, m, luaL_checknumber(L, 3), &err))
    return seer_lua_tensor_error(L, "tensor:masked_fill_", &err);
  lua_settop(L, 1);
  return 1;
}

/* t:masked_fill(mask, v): a filled copy. */
static int t_masked_fill(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:masked_fill");
  seer_tensor *m = seer_lua_check_tensor(L, 2, "tensor:masked_fill");
  double v = luaL_checknumber(L, 3);
  seer_error err;
  seer_tensor *c = seer_tensor_clone(t, &err);
  if (!c) return seer_lua_tensor_error(L, "tensor:masked_fill", &err);
  seer_lua_push_tensor(L, c);
  if (seer_tensor_masked_fill_(c, m, v, &err))
    return seer_lua_tensor_error(L, "tensor:masked_fill", &err);
  return 1;
}

/* t:permute(d1, d2, ...) or t:permute({d1, d2, ...}): dim i of the result is dim d_i of t. */
static int t_permute(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:permute");
  int from_table = lua_istable(L, 2);
  int n = from_table ? (int)seer_rawlen(L, 2) : lua_gettop(L) - 1;
  if (n != t->ndim)
    return luaL_error(L,
                      "tensor:permute: pass all %d dims in their new order, e.g. "
                      "t:permute(2, 1) for a 2-D tensor",
                      t->ndim);
  int perm[SEER_TENSOR_MAX_DIMS];
  for (int i = 0; i < n; i++) {
    if (from_table) {
      lua_rawgeti(L, 2, i + 1);
      perm[i] = seer_lua_check_dim(L, lua_gettop(L), t->ndim, "tensor:permute");
      lua_pop(L, 1);
    } else {
      perm[i] = seer_lua_check_dim(L, i + 2, t->ndim, "tensor:permute");
    }
  }
  seer_error err;
  seer_tensor *v = seer_tensor_permute(t, perm, &err);
  if (!v) return seer_lua_tensor_error(L, "tensor:permute", &err);
  seer_lua_push_tensor(L, v);
  return 1;
}

static int compare(lua_State *L, seer_cmpop op, const char *fn) {
  seer_tensor *a = seer_lua_check_tensor(L, 1, fn);
  seer_tensor *b = seer_lua_to_tensor(L, 2);
  double s = b ? 0 : luaL_checknumber(L, 2);
  seer_error err;
  seer_tensor *r = seer_tensor_compare(op, a, b, s, &err);
  if (!r) return seer_lua_tensor_error(L, fn, &err);
  seer_lua_push_tensor(L, r);
  return 1;
}

static int t_eq(lua_State *L) { return compare(L, SEER_CMP_EQ, "tensor:eq"); }
static int t_ne(lua_State *L) { return compare(L, SEER_CMP_NE, "tensor:ne"); }
static int t_lt(lua_State *L) { return compare(L, SEER_CMP_LT, "tensor:lt"); }
static int t_le(lua_State *L) { return compare(L, SEER_CMP_LE, "tensor:le"); }
static int t_gt(lua_State *L) { return compare(L, SEER_CMP_GT, "tensor:gt"); }
static int t_ge(lua_State *L) { return compare(L, SEER_CMP_GE, "tensor:ge"); }

/* t:size([dim]): the shape (a table), or the size of one dim. */
static int t_size(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:size");
  if (lua_isnoneornil(L, 2)) {
    seer_lua_push_shape(L, t);
    return 1;
  }
  seer_pushinteger(L, t->shape[seer_lua_check_dim(L, 2, t->ndim, "tensor:size")]);
  return 1;
}

/* shape(self [, dim]): `t:shape()` calls the shape table with the tensor as self. */
static int shape_call(lua_State *L) {
  if (lua_isnoneornil(L, 3)) {
    lua_settop(L, 1);
    return 1;
  }
  int ndim = (int)seer_rawlen(L, 1);
  int d = seer_lua_check_dim(L, 3, ndim, "tensor:shape");
  lua_rawgeti(L, 1, d + 1);
  return 1;
}

void seer_lua_push_shape(lua_State *L, const seer_tensor *t) {
  lua_createtable(L, t->ndim, 0);
  for (int i = 0; i < t->ndim; i++) {
    seer_pushinteger(L, t->shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
  luaL_setmetatable(L, SHAPE_MT);
}

void seer_lua_tensor_index_register(lua_State *L) {
  static const luaL_Reg methods[] = {{"narrow", t_narrow},
                                     {"index_select", t_index_select},
                                     {"masked_select", t_masked_select},
                                     {"masked_fill_", t_masked_fill_},
                                     {"masked_fill", t_masked_fill},
                                     {"permute", t_permute},
                                     {"eq", t_eq},
                                     {"ne", t_ne},
                                     {"lt", t_lt},
                                     {"le", t_le},
                                     {"gt", t_gt},
                                     {"ge", t_ge},
                                     {"size", t_size},
                                     {NULL, NULL}};
  luaL_setfuncs(L, methods, 0);
  luaL_newmetatable(L, SHAPE_MT);
  lua_pushcfunction(L, shape_call);
  lua_setfield(L, -2, "__call");
  lua_pop(L, 1);
}
