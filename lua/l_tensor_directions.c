/* l_tensor_directions.c: the everyday interpretability readouts on vectors, without einsum:
 * cosine similarity along a dim, and a tensor's component along a direction (the coefficient,
 * the projection, and what is left when it is removed, as in directional ablation). Each works
 * on the last dim of a [..., H] tensor against an [H] direction or a broadcastable tensor. */
#include "l_tensor.h"

typedef struct {
  seer_tensor *tmp[3];
} scratch;

static void scratch_free(scratch *s) {
  for (int i = 0; i < 3; i++) {
    seer_tensor_release(s->tmp[i]);
    s->tmp[i] = NULL;
  }
}

/* Pushes r, or frees the scratch and raises "<fn>: <err>". */
static int finish(lua_State *L, seer_tensor *r, scratch *s, const char *fn, seer_error *err) {
  scratch_free(s);
  if (!r) return seer_lua_tensor_error(L, fn, err);
  if (r->ndim == 0) {
    lua_pushnumber(L, seer_tensor_get_flat(r, 0));
    seer_tensor_release(r);
    return 1;
  }
  seer_lua_push_tensor(L, r);
  return 1;
}

/* t:cosine_similarity(other [, dim]): cos of the angle between the vectors along dim (default the
 * last), other broadcast against t; a zero vector gives 0. A number when the result is 0-D. */
static int t_cosine_similarity(lua_State *L) {
  const char *fn = "tensor:cosine_similarity";
  seer_tensor *a = seer_lua_check_tensor(L, 1, fn), *b = seer_lua_check_tensor(L, 2, fn);
  if (a->ndim == 0 || b->ndim == 0) return luaL_error(L, "%s: needs vectors, not 0-D tensors", fn);
  int dim = lua_isnoneornil(L, 3) ? a->ndim - 1 : seer_lua_check_dim(L, 3, a->ndim, fn);
  int from_end = a->ndim - dim; /* the same dim of b, counted from the right (broadcasting) */
  if (from_end > b->ndim)
    return luaL_error(L, "%s: the other tensor has no dim %d from the end", fn, from_end);
  seer_error err;
  scratch s = {{NULL}};
  seer_tensor *r = NULL;
  if ((s.tmp[0] = seer_tensor_normalize(a, dim, &err)) &&
      (s.tmp[1] = seer_tensor_normalize(b, b->ndim - from_end, &err)) &&
      (s.tmp[2] = seer_tensor_binary(SEER_OP_MUL, s.tmp[0], s.tmp[1], &err)))
    r = seer_tensor_reduce(SEER_REDUCE_SUM, s.tmp[2], s.tmp[2]->ndim - from_end, 0, &err);
  return finish(L, r, &s, fn, &err);
}

/* The unit direction d/|d| of a 1-D tensor at idx whose size matches t's last dim. */
static seer_tensor *unit_direction(lua_State *L, seer_tensor *t, int idx, const char *fn,
                                   seer_error *err) {
  seer_tensor *d = seer_lua_check_tensor(L, idx, fn);
  if (d->ndim != 1 || t->ndim == 0 || d->shape[0] != t->shape[t->ndim - 1])
    luaL_error(L, "%s: the direction must be 1-D with the tensor's last dim (%d entries)", fn,
               t->ndim ? (int)t->shape[t->ndim - 1] : 0);
  return seer_tensor_normalize(d, 0, err);
}

/* coefficients t·d̂ over the last dim into s->tmp[1] (s->tmp[0] is d̂); 0 on success. */
static int coefficients(seer_tensor *t, scratch *s, seer_error *err) {
  seer_tensor *prod = seer_tensor_binary(SEER_OP_MUL, t, s->tmp[0], err);
  if (!prod) return -1;
  s->tmp[1] = seer_tensor_reduce(SEER_REDUCE_SUM, prod, t->ndim - 1, 1, err);
  seer_tensor_release(prod);
  return s->tmp[1] ? 0 : -1;
}

/* t:along(dir): the scalar projection t·dir/|dir| of each vector in the last dim ([...]; a
 * number for a 1-D t). */
static int t_along(lua_State *L) {
  const char *fn = "tensor:along";
  seer_tensor *t = seer_lua_check_tensor(L, 1, fn);
  seer_error err;
  scratch s = {{NULL}};
  seer_tensor *r = NULL;
  if ((s.tmp[0] = unit_direction(L, t, 2, fn, &err)) && !coefficients(t, &s, &err))
    r = seer_tensor_squeeze(s.tmp[1], t->ndim - 1, &err);
  return finish(L, r, &s, fn, &err);
}

/* t:project(dir): the component of each vector along dir, (t·d̂) d̂, shaped like t. With
 * remove = true (t:project_out), t minus that component. */
static int project(lua_State *L, int remove, const char *fn) {
  seer_tensor *t = seer_lua_check_tensor(L, 1, fn);
  seer_error err;
  scratch s = {{NULL}};
  seer_tensor *r = NULL;
  if ((s.tmp[0] = unit_direction(L, t, 2, fn, &err)) && !coefficients(t, &s, &err) &&
      (s.tmp[2] = seer_tensor_binary(SEER_OP_MUL, s.tmp[1], s.tmp[0], &err)))
    r = remove ? seer_tensor_binary(SEER_OP_SUB, t, s.tmp[2], &err) : seer_tensor_retain(s.tmp[2]);
  return finish(L, r, &s, fn, &err);
}

static int t_project(lua_State *L) { return project(L, 0, "tensor:project"); }
static int t_project_out(lua_State *L) { return project(L, 1, "tensor:project_out"); }

void seer_lua_tensor_directions_register(lua_State *L) {
  static const luaL_Reg methods[] = {{"cosine_similarity", t_cosine_similarity},
                                     {"along", t_along},
                                     {"project", t_project},
                                     {"project_out", t_project_out},
                                     {NULL, NULL}};
  luaL_setfuncs(L, methods, 0);
}
