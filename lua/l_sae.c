/* l_sae.c: the seer._sae C module: load_npz (NumPy archives into Tensors) and SAE userdata over
 * seer_sae_* (encode, decode, reconstruct on [rows, d] Tensors). Formats, shapes and hooks are
 * policy in stdlib/seer/sae.lua. */
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "compat.h"
#include "l_tensor.h"
#include "seer/npy.h"
#include "seer/sae.h"

#define SAE_MT "seer.SAE"

typedef struct lsae {
  seer_sae *s;
} lsae;

/* ---- load_npz(path, max_bytes) -> {name = Tensor} | nil, err ---- */

static int npz_put(void *ud, const char *name, seer_tensor *t, seer_error *err) {
  (void)err;
  lua_State *L = ud;
  seer_lua_push_tensor(L, t);
  lua_setfield(L, -2, name);
  return 0;
}

static int l_load_npz(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Number max = luaL_checknumber(L, 2);
  if (max < 0) return luaL_argerror(L, 2, "max_bytes must be >= 0");
  lua_newtable(L);
  seer_error err = {0};
  if (seer_npz_load(path, (uint64_t)max, npz_put, L, &err)) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  return 1;
}

/* ---- new(spec) ---- */

static const char *const arch_names[] = {"standard", "jumprelu", "topk", "gated", NULL};
static const char *const norm_names[] = {"none", "constant_norm_rescale", "layer_norm", NULL};

static const seer_tensor *opt_tensor(lua_State *L, int spec, const char *key) {
  lua_getfield(L, spec, key);
  const seer_tensor *t = NULL;
  if (!lua_isnil(L, -1)) {
    t = seer_lua_to_tensor(L, -1);
    if (!t) luaL_error(L, "seer._sae.new: %s must be a Tensor", key);
  }
  lua_pop(L, 1); /* the spec table keeps it alive */
  return t;
}

static int l_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  seer_sae_spec sp;
  memset(&sp, 0, sizeof sp);
  lua_getfield(L, 1, "architecture");
  sp.arch = (seer_sae_arch)luaL_checkoption(L, -1, NULL, arch_names);
  lua_getfield(L, 1, "normalize_activations");
  sp.norm = (seer_sae_norm)luaL_checkoption(L, -1, "none", norm_names);
  lua_getfield(L, 1, "apply_b_dec_to_input");
  sp.apply_b_dec_to_input = lua_toboolean(L, -1);
  lua_getfield(L, 1, "k");
  sp.k = lua_isnil(L, -1) ? 0 : (int64_t)luaL_checkinteger(L, -1);
  lua_pop(L, 4);
  sp.W_enc = opt_tensor(L, 1, "W_enc");
  sp.b_enc = opt_tensor(L, 1, "b_enc");
  sp.W_dec = opt_tensor(L, 1, "W_dec");
  sp.b_dec = opt_tensor(L, 1, "b_dec");
  sp.threshold = opt_tensor(L, 1, "threshold");
  sp.b_gate = opt_tensor(L, 1, "b_gate");
  sp.r_mag = opt_tensor(L, 1, "r_mag");
  sp.b_mag = opt_tensor(L, 1, "b_mag");
  sp.scaling = opt_tensor(L, 1, "finetuning_scaling_factor");
  lsae *u = lua_newuserdata(L, sizeof *u);
  u->s = NULL;
  luaL_getmetatable(L, SAE_MT);
  lua_setmetatable(L, -2);
  seer_error err = {0};
  if (seer_sae_new(&sp, &u->s, &err)) return luaL_error(L, "%s", err.msg);
  return 1;
}

/* ---- methods ---- */

static seer_sae *check_sae(lua_State *L) {
  lsae *u = luaL_checkudata(L, 1, SAE_MT);
  if (!u->s) luaL_error(L, "SAE: use of a freed SAE");
  return u->s;
}

/* The Tensor at idx as f32 rows of width d, copied (any dtype or layout). */
static float *rows_of(lua_State *L, int idx, int64_t d, int64_t *rows, const char *fn) {
  seer_tensor *t = seer_lua_check_tensor(L, idx, fn);
  if (t->ndim != 2 || t->shape[1] != d || !seer_dtype_is_float(t->dtype) ||
      seer_tensor_device(t) != SEER_DEVICE_CPU)
    luaL_error(L, "%s: expected a float Tensor [rows, %d]", fn, (int)d);
  *rows = t->shape[0];
  float *p = malloc(sizeof(float) * (size_t)(t->shape[0] * d + 1));
  if (!p) luaL_error(L, "%s: out of memory", fn);
  seer_tensor_read_f32(t, p);
  return p;
}

static seer_tensor *new_out(lua_State *L, int64_t rows, int64_t d, float *free_on_fail) {
  int64_t shape[2] = {rows, d};
  seer_error err = {0};
  seer_tensor *t = seer_tensor_new(SEER_DTYPE_F32, 2, shape, &err);
  if (!t) {
    free(free_on_fail);
    luaL_error(L, "SAE: %s", err.msg);
  }
  return t;
}

typedef int (*sae_map_fn)(const seer_sae *, const float *, int64_t, float *, seer_error *);

static int map(lua_State *L, sae_map_fn fn, int64_t din, int64_t dout, const char *name) {
  seer_sae *s = check_sae(L);
  int64_t rows;
  float *x = rows_of(L, 2, din, &rows, name);
  seer_tensor *out = new_out(L, rows, dout, x);
  seer_error err = {0};
  int rc = fn(s, x, rows, seer_tensor_data(out), &err);
  free(x);
  if (rc) {
    seer_tensor_release(out);
    return luaL_error(L, "%s: %s", name, err.msg);
  }
  seer_lua_push_tensor(L, out);
  return 1;
}

static int m_encode(lua_State *L) {
  seer_sae *s = check_sae(L);
  return map(L, seer_sae_encode, seer_sae_d_in(s), seer_sae_d_sae(s), "sae:encode");
}

static int m_decode(lua_State *L) {
  seer_sae *s = check_sae(L);
  return map(L, seer_sae_decode, seer_sae_d_sae(s), seer_sae_d_in(s), "sae:decode");
}

/* reconstruct(x) -> recon, acts */
static int m_reconstruct(lua_State *L) {
  seer_sae *s = check_sae(L);
  int64_t rows, di = seer_sae_d_in(s), ds = seer_sae_d_sae(s);
  float *x = rows_of(L, 2, di, &rows, "sae:reconstruct");
  seer_tensor *out = new_out(L, rows, di, x);
  seer_lua_push_tensor(L, out);
  seer_tensor *acts = new_out(L, rows, ds, x);
  seer_lua_push_tensor(L, acts);
  seer_error err = {0};
  int rc = seer_sae_reconstruct(s, x, rows, seer_tensor_data(out), seer_tensor_data(acts), &err);
  free(x);
  if (rc) return luaL_error(L, "sae:reconstruct: %s", err.msg);
  return 2;
}

static int m_dims(lua_State *L) {
  seer_sae *s = check_sae(L);
  lua_pushinteger(L, (lua_Integer)seer_sae_d_in(s));
  lua_pushinteger(L, (lua_Integer)seer_sae_d_sae(s));
  return 2;
}

static int m_gc(lua_State *L) {
  lsae *u = luaL_checkudata(L, 1, SAE_MT);
  seer_sae_free(u->s);
  u->s = NULL;
  return 0;
}

int luaopen_seer__sae(lua_State *L) {
  static const luaL_Reg methods[] = {{"encode", m_encode},
                                     {"decode", m_decode},
                                     {"reconstruct", m_reconstruct},
                                     {"dims", m_dims},
                                     {NULL, NULL}};
  static const luaL_Reg fns[] = {{"load_npz", l_load_npz}, {"new", l_new}, {NULL, NULL}};
  luaL_newmetatable(L, SAE_MT);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, m_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushstring(L, SAE_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  return 1;
}
