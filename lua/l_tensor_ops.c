/* l_tensor_ops.c: the computing methods of the Lua Tensor: arithmetic with broadcasting (as
 * metamethods with numbers on either side, and in place), reductions, products and probabilities.
 * Reductions over every element return plain numbers; along a dim they return tensors. Index
 * results (argmax, topk) are 1-based, like every Lua index. */
#include "l_tensor.h"

static void push_result(lua_State *L, seer_tensor *t, const char *fn, const seer_error *err) {
  if (!t) seer_lua_tensor_error(L, fn, err);
  seer_lua_push_tensor(L, t);
}

/* ---- arithmetic ---- */

static int arith(lua_State *L, seer_binop op, const char *fn) {
  seer_tensor *a = seer_lua_to_tensor(L, 1), *b = seer_lua_to_tensor(L, 2);
  seer_error err;
  seer_tensor *r;
  if (a && b) {
    r = seer_tensor_binary(op, a, b, &err);
  } else if (a && lua_type(L, 2) == LUA_TNUMBER) {
    r = seer_tensor_binary_scalar(op, a, lua_tonumber(L, 2), 0, &err);
  } else if (b && lua_type(L, 1) == LUA_TNUMBER) {
    r = seer_tensor_binary_scalar(op, b, lua_tonumber(L, 1), 1, &err);
  } else {
    return luaL_error(L, "%s: operands must be Tensors or numbers, got %s and %s", fn,
                      luaL_typename(L, 1), luaL_typename(L, 2));
  }
  push_result(L, r, fn, &err);
  return 1;
}

static int t_add(lua_State *L) { return arith(L, SEER_OP_ADD, "tensor +"); }
static int t_sub(lua_State *L) { return arith(L, SEER_OP_SUB, "tensor -"); }
static int t_mul(lua_State *L) { return arith(L, SEER_OP_MUL, "tensor *"); }
static int t_div(lua_State *L) { return arith(L, SEER_OP_DIV, "tensor /"); }

static int t_unm(lua_State *L) {
  seer_error err;
  push_result(L, seer_tensor_neg(seer_lua_check_tensor(L, 1, "tensor unary -"), &err),
              "tensor unary -", &err);
  return 1;
}

/* a:op_(b): b (a Tensor broadcast to a's shape, or a number) applied in place; returns a. */
static int arith_(lua_State *L, seer_binop op, const char *fn) {
  seer_tensor *a = seer_lua_check_tensor(L, 1, fn);
  seer_tensor *b = seer_lua_to_tensor(L, 2);
  seer_error err;
  int rc;
  if (b)
    rc = seer_tensor_binary_(op, a, b, &err);
  else if (lua_type(L, 2) == LUA_TNUMBER)
    rc = seer_tensor_binary_scalar_(op, a, lua_tonumber(L, 2), &err);
  else
    return luaL_error(L, "%s: pass a Tensor or a number", fn);
  if (rc) return seer_lua_tensor_error(L, fn, &err);
  lua_settop(L, 1);
  return 1;
}

static int t_add_(lua_State *L) { return arith_(L, SEER_OP_ADD, "tensor:add_"); }
static int t_sub_(lua_State *L) { return arith_(L, SEER_OP_SUB, "tensor:sub_"); }
static int t_mul_(lua_State *L) { return arith_(L, SEER_OP_MUL, "tensor:mul_"); }
static int t_div_(lua_State *L) { return arith_(L, SEER_OP_DIV, "tensor:div_"); }

static int t_abs(lua_State *L) {
  seer_error err;
  push_result(L, seer_tensor_abs(seer_lua_check_tensor(L, 1, "tensor:abs"), &err), "tensor:abs",
              &err);
  return 1;
}

/* ---- reductions ---- */

/* Pushes a 0-D result as a number (consuming it), anything else as a Tensor. */
static void push_reduced(lua_State *L, seer_tensor *r, int as_number, const char *fn,
                         const seer_error *err) {
  if (!r) seer_lua_tensor_error(L, fn, err);
  if (as_number) {
    double v = seer_tensor_get_flat(r, 0);
    int is_float = seer_dtype_is_float(r->dtype);
    seer_tensor_release(r);
    if (is_float)
      lua_pushnumber(L, v);
    else
      seer_pushinteger(L, (long long)v);
    return;
  }
  seer_lua_push_tensor(L, r);
}

/* t:op([dim [, keepdim]]): over every element (a number) or along dim (a Tensor). */
static int reduce(lua_State *L, seer_reduce op, const char *fn) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, fn);
  int all = lua_isnoneornil(L, 2);
  int dim = all ? -1 : seer_lua_check_dim(L, 2, t->ndim, fn);
  seer_error err;
  push_reduced(L, seer_tensor_reduce(op, t, dim, lua_toboolean(L, 3), &err), all, fn, &err);
  return 1;
}

static int t_sum(lua_State *L) { return reduce(L, SEER_REDUCE_SUM, "tensor:sum"); }
static int t_mean(lua_State *L) { return reduce(L, SEER_REDUCE_MEAN, "tensor:mean"); }
static int t_max(lua_State *L) { return reduce(L, SEER_REDUCE_MAX, "tensor:max"); }
static int t_min(lua_State *L) { return reduce(L, SEER_REDUCE_MIN, "tensor:min"); }

static int t_norm(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:norm");
  int all = lua_isnoneornil(L, 2);
  int dim = all ? -1 : seer_lua_check_dim(L, 2, t->ndim, "tensor:norm");
  seer_error err;
  push_reduced(L, seer_tensor_norm(t, dim, lua_toboolean(L, 3), &err), all, "tensor:norm", &err);
  return 1;
}

/* t:normalize([dim]): unit L2 norm along dim (default the last). */
static int t_normalize(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:normalize");
  int dim = lua_isnoneornil(L, 2) ? -1 : seer_lua_check_dim(L, 2, t->ndim, "tensor:normalize");
  seer_error err;
  push_result(L, seer_tensor_normalize(t, dim, &err), "tensor:normalize", &err);
  return 1;
}

/* ---- products ---- */

static int t_dot(lua_State *L) {
  seer_tensor *a = seer_lua_check_tensor(L, 1, "tensor:dot");
  seer_tensor *b = seer_lua_check_tensor(L, 2, "tensor:dot");
  double v;
  seer_error err;
  if (seer_tensor_dot(a, b, &v, &err)) return seer_lua_tensor_error(L, "tensor:dot", &err);
  lua_pushnumber(L, v);
  return 1;
}

static int t_cosine(lua_State *L) {
  seer_tensor *a = seer_lua_check_tensor(L, 1, "tensor:cosine");
  seer_tensor *b = seer_lua_check_tensor(L, 2, "tensor:cosine");
  double v;
  seer_error err;
  if (seer_tensor_cosine(a, b, &v, &err)) return seer_lua_tensor_error(L, "tensor:cosine", &err);
  lua_pushnumber(L, v);
  return 1;
}

static int t_matmul(lua_State *L) {
  seer_tensor *a = seer_lua_check_tensor(L, 1, "tensor:matmul");
  seer_tensor *b = seer_lua_check_tensor(L, 2, "tensor:matmul");
  seer_error err;
  seer_tensor *r = seer_tensor_matmul(a, b, &err);
  if (r && r->ndim == 0) {
    push_reduced(L, r, 1, "tensor:matmul", &err);
    return 1;
  }
  push_result(L, r, "tensor:matmul", &err);
  return 1;
}

static int t_outer(lua_State *L) {
  seer_tensor *a = seer_lua_check_tensor(L, 1, "tensor:outer");
  seer_tensor *b = seer_lua_check_tensor(L, 2, "tensor:outer");
  seer_error err;
  push_result(L, seer_tensor_outer(a, b, &err), "tensor:outer", &err);
  return 1;
}

/* ---- probabilities ---- */

static int t_softmax(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:softmax");
  int dim = lua_isnoneornil(L, 2) ? -1 : seer_lua_check_dim(L, 2, t->ndim, "tensor:softmax");
  seer_error err;
  push_result(L, seer_tensor_softmax(t, dim, &err), "tensor:softmax", &err);
  return 1;
}

static int t_log_softmax(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:log_softmax");
  int dim = lua_isnoneornil(L, 2) ? -1 : seer_lua_check_dim(L, 2, t->ndim, "tensor:log_softmax");
  seer_error err;
  push_result(L, seer_tensor_log_softmax(t, dim, &err), "tensor:log_softmax", &err);
  return 1;
}

/* Shifts 0-based index results to Lua's 1-based ones. */
static int to_lua_indices(seer_tensor *idx, seer_error *err) {
  return seer_tensor_binary_scalar_(SEER_OP_ADD, idx, 1, err);
}

/* Moves dim d to the end and back: topk works on the last dim. Returns a contiguous copy of x
 * with dims d and last swapped (x itself, retained, when d is already last). */
static seer_tensor *swap_last(seer_tensor *x, int d, seer_error *err) {
  if (d == x->ndim - 1) return seer_tensor_retain(x);
  seer_tensor *v = seer_tensor_transpose(x, d, x->ndim - 1, err);
  if (!v) return NULL;
  seer_tensor *c = seer_tensor_clone(v, err);
  seer_tensor_release(v);
  return c;
}

/* t:topk(k [, dim]) -> values, indices (1-based) along dim (default the last), largest first,
 * ties by lower index. */
static int t_topk(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:topk");
  lua_Integer k = luaL_checkinteger(L, 2);
  if (t->ndim == 0) return luaL_error(L, "tensor:topk: needs at least 1 dim");
  int dim = lua_isnoneornil(L, 3) ? t->ndim - 1 : seer_lua_check_dim(L, 3, t->ndim, "tensor:topk");
  if (k < 1 || k > t->shape[dim])
    return luaL_error(L, "tensor:topk: k must be in 1..%d (the size of dim %d)", (int)t->shape[dim],
                      dim + 1);
  seer_tensor *v = NULL, *ix = NULL, *moved = NULL;
  seer_error err;
  int rc = (moved = swap_last(t, dim, &err)) ? 0 : -1;
  if (!rc) rc = seer_tensor_topk(moved, k, &v, &ix, &err);
  seer_tensor_release(moved);
  if (!rc) rc = to_lua_indices(ix, &err);
  if (!rc && dim != t->ndim - 1) {
    seer_tensor *v2 = swap_last(v, dim, &err), *ix2 = v2 ? swap_last(ix, dim, &err) : NULL;
    seer_tensor_release(v);
    seer_tensor_release(ix);
    v = v2, ix = ix2;
    if (!v || !ix) rc = -1;
  }
  if (rc) {
    seer_tensor_release(v);
    seer_tensor_release(ix);
    return seer_lua_tensor_error(L, "tensor:topk", &err);
  }
  seer_lua_push_tensor(L, v);
  seer_lua_push_tensor(L, ix);
  return 2;
}

/* t:argmax([dim]): a 1-based flat index (a number) or, along dim, an i64 Tensor of them. */
static int t_argmax(lua_State *L) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, "tensor:argmax");
  int all = lua_isnoneornil(L, 2);
  int dim = all ? -1 : seer_lua_check_dim(L, 2, t->ndim, "tensor:argmax");
  seer_error err;
  seer_tensor *r = seer_tensor_argmax(t, dim, &err);
  if (r && to_lua_indices(r, &err)) {
    seer_tensor_release(r);
    r = NULL;
  }
  push_reduced(L, r, all, "tensor:argmax", &err);
  return 1;
}

void seer_lua_tensor_ops_register(lua_State *L, int mt) {
  static const luaL_Reg methods[] = {{"add", t_add},
                                     {"sub", t_sub},
                                     {"mul", t_mul},
                                     {"div", t_div},
                                     {"add_", t_add_},
                                     {"sub_", t_sub_},
                                     {"mul_", t_mul_},
                                     {"div_", t_div_},
                                     {"abs", t_abs},
                                     {"neg", t_unm},
                                     {"sum", t_sum},
                                     {"mean", t_mean},
                                     {"max", t_max},
                                     {"min", t_min},
                                     {"norm", t_norm},
                                     {"normalize", t_normalize},
                                     {"dot", t_dot},
                                     {"cosine", t_cosine},
                                     {"matmul", t_matmul},
                                     {"outer", t_outer},
                                     {"softmax", t_softmax},
                                     {"log_softmax", t_log_softmax},
                                     {"topk", t_topk},
                                     {"argmax", t_argmax},
                                     {NULL, NULL}};
  luaL_setfuncs(L, methods, 0);
  static const luaL_Reg meta[] = {{"__add", t_add}, {"__sub", t_sub}, {"__mul", t_mul},
                                  {"__div", t_div}, {"__unm", t_unm}, {NULL, NULL}};
  for (const luaL_Reg *r = meta; r->name; r++) {
    lua_pushcfunction(L, r->func);
    lua_setfield(L, mt, r->name);
  }
}
