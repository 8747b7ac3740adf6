/* l_model.c: the `seer._model` module, the C half of seer.model: a Model userdata over seer_model
 * (load, info, forward, generate, persistent hooks), KV caches, and create-random. Lua callbacks
 * (hooks, on_token) run inside the synchronous C call under lua_pcall, so an error in one stops the
 * C work cleanly and is raised afterwards with its traceback; stdlib/seer/model.lua adds the
 * policy (input forms, option defaults, hidden-state numbering, tokenizers). */
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "l_tensor.h"
#include "seer/lora.h"
#include "seer/model.h"

#define MODEL_MT "seer.Model"
#define CACHE_MT "seer.KVCache"

/* Shared by the Model userdata and every KV cache made from it, so a cache keeps its model alive
 * whatever order the collector finalizes them in. */
typedef struct model_ref {
  seer_model *m;
  int refs;
  lua_State *L;     /* thread of the binding call in progress: callbacks and frees run on it */
  int in_call;      /* a forward/generate is running: hooks must not re-enter the model */
  int batched_call; /* the caller passed a batch: hook views keep the leading B dim */
  int err_ref;      /* the first error a Lua callback raised during the call, or LUA_NOREF */
  char err_where[64];
} model_ref;

typedef struct {
  model_ref *r;
} model_box;

typedef struct {
  seer_kv_cache *c;
  model_ref *r;
  size_t batch;
} cache_box;

/* A Lua hook. Persistent hooks keep their function in the Model userdata's user value (a table
 * keyed by handle), so a hook closure that refers back to its model forms a collectable cycle
 * rather than a registry root; per-call hooks use a stack slot of the call. */
typedef struct lua_hook {
  model_ref *r;
  int handle; /* persistent: key in the user value table; 0 for per-call hooks */
  int stack_idx;
} lua_hook;

#if defined(SEER_LUAJIT)
#define get_uservalue(L, i) lua_getfenv((L), (i))
#define set_uservalue(L, i) lua_setfenv((L), (i))
#else
#define get_uservalue(L, i) lua_getiuservalue((L), (i), 1)
#define set_uservalue(L, i) lua_setiuservalue((L), (i), 1)
#endif

static void ref_release(model_ref *r, lua_State *L) {
  if (--r->refs > 0) return;
  r->L = L;
  seer_model_free(r->m);
  free(r);
}

static model_ref *check_model(lua_State *L, int idx, const char *fn) {
  model_box *b = luaL_testudata(L, idx, MODEL_MT);
  if (!b || !b->r) luaL_error(L, "%s: expected a model (call it with ':')", fn);
  b->r->L = L;
  return b->r;
}

static model_ref *begin_call(lua_State *L, const char *fn) {
  model_ref *r = check_model(L, 1, fn);
  if (r->in_call)
    luaL_error(L,
               "%s: the model is already running (a hook or on_token callback cannot call "
               "forward, generate or change hooks on the same model)",
               fn);
  return r;
}

/* ---- callbacks: run Lua under pcall, keep the first error ---- */

static int traceback_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  if (strstr(msg, "attempt to yield"))
    msg = lua_pushfstring(L,
                          "%s (hooks and on_token run inside a C call and cannot yield: no "
                          "seer.sleep, I/O or task waits inside them)",
                          msg);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* body(L, call) runs with the callback function at stack index 2. */
typedef int (*body_fn)(lua_State *L, void *call);

typedef struct {
  body_fn body;
  void *call;
} pcall_box;

static int run_body(lua_State *L) {
  pcall_box *p = lua_touserdata(L, 1);
  return p->body(L, p->call);
}

/* Runs body protected, with the callback taken from the model's hook table (handle > 0; the model
 * is slot 1 of every binding call that runs the engine) or from slot fn_idx of the binding call's
 * frame (which is still the current frame while the C engine runs). On error
 * keeps the message (the first one wins) and returns it in err. Nothing here raises, so no
 * longjmp crosses the C engine. */
static int protected_callback(model_ref *r, body_fn body, void *call, int handle, int fn_idx,
                              const char *where, seer_error *err) {
  lua_State *L = r->L;
  if (!L || !lua_checkstack(L, 8))
    return seer_errorf(err, SEER_ESTATE, "no Lua stack available for the callback");
  int top = lua_gettop(L);
  pcall_box p = {body, call};
  lua_pushcfunction(L, traceback_handler);
  lua_pushcfunction(L, run_body);
  lua_pushlightuserdata(L, &p);
  if (handle > 0) {
    get_uservalue(L, 1);
    lua_rawgeti(L, -1, handle);
    lua_remove(L, -2);
  } else {
    lua_pushvalue(L, fn_idx);
  }
  if (lua_pcall(L, 2, 0, top + 1) == 0) {
    lua_settop(L, top);
    return 0;
  }
  const char *msg = lua_tostring(L, -1);
  seer_errorf(err, SEER_ECANCELED, "%s", msg ? msg : "Lua error");
  if (r->err_ref == LUA_NOREF) {
    snprintf(r->err_where, sizeof r->err_where, "%s", where);
    r->err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_settop(L, top);
  return SEER_ECANCELED;
}

/* Raises the error of a failed call: a callback's full message and traceback when one failed. */
static int raise_call_error(lua_State *L, model_ref *r, const char *fn, const seer_error *err) {
  if (r->err_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->err_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, r->err_ref);
    r->err_ref = LUA_NOREF;
    return luaL_error(L, "%s: %s: %s", fn, r->err_where, lua_tostring(L, -1));
  }
  return luaL_error(L, "%s: %s", fn, err->msg);
}

typedef struct {
  lua_hook *lh;
  seer_tensor *h;
  const seer_hook_ctx *ctx;
  seer_tensor **rep;
} hook_call;

static int hook_body(lua_State *L, void *vc) {
  hook_call *c = vc;
  lua_pushvalue(L, 2);
  seer_tensor *h = c->h;
  seer_error err;
  /* generate always runs batched; an unbatched caller sees [T,H] views, as forward gives. */
  int bnd = c->ctx->point.kind == SEER_HOOK_ATTN_WEIGHTS ? 4 : 3;
  if (!c->lh->r->batched_call && h->ndim == bnd && h->shape[0] == 1)
    h = seer_tensor_reshape(h, bnd - 1, h->shape + 1, &err);
  else
    h = seer_tensor_retain(h);
  seer_lua_push_tensor(L, h);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, c->ctx->name);
  lua_setfield(L, -2, "point");
  if (c->ctx->point.layer >= 0) {
    lua_pushinteger(L, c->ctx->point.layer);
    lua_setfield(L, -2, "layer");
  }
  lua_pushstring(L, c->ctx->decode ? "decode" : "prefill");
  lua_setfield(L, -2, "step");
  seer_pushinteger(L, c->ctx->position);
  lua_setfield(L, -2, "position");
  seer_pushinteger(L, c->ctx->num_tokens);
  lua_setfield(L, -2, "num_tokens");
  lua_call(L, 2, 1);
  if (lua_isnil(L, -1)) return 0;
  seer_tensor *rep = seer_lua_to_tensor(L, -1);
  if (!rep)
    return luaL_error(L, "a hook must return nil (after changing h in place) or a Tensor, got %s",
                      luaL_typename(L, -1));
  *c->rep = seer_tensor_retain(rep);
  return 0;
}

static int hook_trampoline(void *ud, seer_tensor *h, const seer_hook_ctx *ctx,
                           seer_tensor **replacement, seer_error *err) {
  lua_hook *lh = ud;
  hook_call c = {lh, h, ctx, replacement};
  char where[64];
  snprintf(where, sizeof where, "hook at %s", ctx->name);
  return protected_callback(lh->r, hook_body, &c, lh->handle, lh->stack_idx, where, err);
}

static void hook_free(void *ud) { free(ud); }

typedef struct {
  model_ref *r;
  int fn_idx;
  size_t row;
  int32_t token;
  int stop_row; /* the callback returned "stop": finish this row */
} token_call;

static int token_body(lua_State *L, void *vc) {
  token_call *c = vc;
  lua_pushvalue(L, 2);
  seer_pushinteger(L, c->token);
  seer_pushinteger(L, (long long)c->row + 1);
  lua_call(L, 2, 1);
  const char *ret = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  c->stop_row = ret && strcmp(ret, "stop") == 0;
  lua_pop(L, 1);
  return 0;
}

static int token_trampoline(void *ud, size_t row, int32_t token, seer_error *err) {
  token_call *c = ud;
  c->row = row;
  c->token = token;
  c->stop_row = 0;
  int rc = protected_callback(c->r, token_body, c, 0, c->fn_idx, "on_token", err);
  return rc == 0 && c->stop_row ? SEER_GENERATE_STOP_ROW : rc;
}

/* ---- argument conversion ---- */

typedef struct {
  size_t batch;
  const int32_t **rows;
  size_t *lens;
} id_rows;

/* rows: a list of id lists (already normalised by model.lua). Buffers are userdata on the stack. */
static void check_rows(lua_State *L, int idx, const char *fn, id_rows *out) {
  luaL_checktype(L, idx, LUA_TTABLE);
  size_t B = seer_rawlen(L, idx);
  if (B == 0) luaL_error(L, "%s: pass token ids (a list of integers) or a batch of such lists", fn);
  out->batch = B;
  /* One buffer per row stays on the stack (plus the row table and an id while it is read): a C
   * function is only promised LUA_MINSTACK slots, and Lua 5.4 does not grow the stack on push. */
  if (B > 100000 || !lua_checkstack(L, (int)B + 8))
    luaL_error(L, "%s: a batch of more than 100000 rows (or more than memory allows) in one call",
               fn);
  out->rows = lua_newuserdata(L, sizeof(int32_t *) * B);
  out->lens = lua_newuserdata(L, sizeof(size_t) * B);
  for (size_t b = 0; b < B; b++) {
    lua_rawgeti(L, idx, (int)b + 1);
    if (!lua_istable(L, -1)) luaL_error(L, "%s: row %d is not a list of token ids", fn, (int)b + 1);
    size_t n = seer_rawlen(L, -1);
    int32_t *ids = lua_newuserdata(L, sizeof(int32_t) * (n ? n : 1));
    lua_insert(L, -2); /* keep the buffer on the stack under the row table */
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, -1, (int)i + 1);
      if (!seer_isinteger(L, -1) || lua_tonumber(L, -1) < 0 || lua_tonumber(L, -1) > 2147483647)
        luaL_error(L, "%s: row %d, position %d: token ids are non-negative integers, got %s", fn,
                   (int)b + 1, (int)i + 1, luaL_typename(L, -1));
      ids[i] = (int32_t)lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    out->rows[b] = ids;
    out->lens[b] = n;
  }
}

/* hooks: a list of {point, fn}; entries become per-call hooks whose functions stay in the list. */
static seer_hook *check_hooks(lua_State *L, int idx, model_ref *r, const char *fn, size_t *n) {
  *n = 0;
  if (lua_isnoneornil(L, idx)) return NULL;
  luaL_checktype(L, idx, LUA_TTABLE);
  size_t k = seer_rawlen(L, idx);
  seer_hook *hooks = lua_newuserdata(L, sizeof(seer_hook) * (k ? k : 1));
  lua_hook *lhs = lua_newuserdata(L, sizeof(lua_hook) * (k ? k : 1));
  for (size_t i = 0; i < k; i++) {
    lua_rawgeti(L, idx, (int)i + 1);
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    const char *point = lua_tostring(L, -2);
    if (!point || !lua_isfunction(L, -1))
      luaL_error(L, "%s: hooks map a point (e.g. \"layers.3\") to a function", fn);
    seer_error err;
    if (seer_model_parse_hook_point(r->m, point, &hooks[i].point, &err))
      luaL_error(L, "%s: %s", fn, err.msg);
    lua_replace(L, -3); /* leave the function on the stack where the trampoline finds it */
    lua_pop(L, 1);
    lhs[i] = (lua_hook){r, 0, lua_gettop(L)};
    hooks[i].fn = hook_trampoline;
    hooks[i].ud = &lhs[i];
  }
  *n = k;
  return hooks;
}

/* ---- module functions ---- */

/* load(dir [, threads [, cuda [, device_index [, device_dtype]]]]) -> Model | nil, err (files
 * missing or malformed, an unsupported architecture, no usable GPU) */
static int l_load(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  seer_model_opts o = {lua_toboolean(L, 3) ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU,
                       (int)luaL_optinteger(L, 2, 0), (int)luaL_optinteger(L, 4, 0),
                       luaL_optstring(L, 5, NULL)};
  model_box *b = lua_newuserdata(L, sizeof *b);
  b->r = NULL;
  luaL_setmetatable(L, MODEL_MT);
  lua_newtable(L); /* persistent hook functions by handle */
  set_uservalue(L, -2);
  model_ref *r = calloc(1, sizeof *r);
  if (!r) return luaL_error(L, "seer.model.load: out of memory");
  r->refs = 1;
  r->err_ref = LUA_NOREF;
  seer_error err;
  if (seer_model_load(dir, &o, &r->m, &err)) {
    free(r);
    return seer_lua_fail(L, "seer.model.load", &err);
  }
  b->r = r;
  return 1;
}

static int l_supported(lua_State *L) {
  lua_pushstring(L, seer_model_supported_architectures());
  return 1;
}

/* create_random(config_path, out_dir, dtype, seed) -> true | nil, err (the config cannot be read
 * or the model cannot be written) */
static int l_create_random(lua_State *L) {
  const char *cfg = luaL_checkstring(L, 1), *out = luaL_checkstring(L, 2);
  seer_dtype dt = seer_lua_opt_dtype(L, 3, SEER_DTYPE_BF16, "seer.model.create_random");
  uint64_t seed = (uint64_t)luaL_optinteger(L, 4, 0);
  seer_error err;
  if (seer_model_create_random(cfg, out, dt, seed, &err))
    return seer_lua_fail(L, "seer.model.create_random", &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- Model methods ---- */

static int m_gc(lua_State *L) {
  model_box *b = luaL_checkudata(L, 1, MODEL_MT);
  if (b->r) ref_release(b->r, L);
  b->r = NULL;
  return 0;
}

static int m_info(lua_State *L) {
  model_ref *r = check_model(L, 1, "model:info");
  const seer_model_info *in = seer_model_get_info(r->m);
  lua_createtable(L, 0, 20);
#define SETI(k, v)                                                                                 \
  do {                                                                                             \
    seer_pushinteger(L, (v));                                                                      \
    lua_setfield(L, -2, k);                                                                        \
  } while (0)
#define SETS(k, v)                                                                                 \
  do {                                                                                             \
    lua_pushstring(L, v);                                                                          \
    lua_setfield(L, -2, k);                                                                        \
  } while (0)
  SETS("architecture", in->architecture);
  SETS("model_type", in->model_type);
  SETI("num_layers", in->num_layers);
  SETI("hidden_size", in->hidden_size);
  SETI("vocab_size", in->vocab_size);
  SETI("intermediate_size", in->intermediate_size);
  SETI("num_heads", in->num_heads);
  SETI("num_kv_heads", in->num_kv_heads);
  SETI("head_dim", in->head_dim);
  SETI("max_position_embeddings", in->max_position_embeddings);
  SETI("sliding_window", in->sliding_window);
  SETS("dtype", seer_dtype_name(in->dtype));
  SETS("device", in->device == SEER_DEVICE_CPU ? "cpu" : "cuda");
  SETI("weight_bytes", (long long)seer_model_weight_bytes(r->m));
  if (in->bos_token_id >= 0) SETI("bos_token_id", in->bos_token_id);
  if (in->pad_token_id >= 0) SETI("pad_token_id", in->pad_token_id);
  lua_createtable(L, in->num_eos, 0);
  for (int i = 0; i < in->num_eos; i++) {
    seer_pushinteger(L, in->eos_token_ids[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "eos_token_ids");
  lua_createtable(L, in->num_layers, 0);
  for (int i = 0; i < in->num_layers; i++) {
    lua_pushstring(L,
                   seer_model_layer_is_sliding(r->m, i) ? "sliding_attention" : "full_attention");
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "layer_types");
#undef SETI
#undef SETS
  return 1;
}

static int m_config_json(lua_State *L) {
  lua_pushstring(L, seer_model_config_json(check_model(L, 1, "model:config_json")->m));
  return 1;
}

/* forward(rows, batched, hidden_states, logits_mode, hooks, cache) -> logits|nil, hidden|nil */
static int m_forward(lua_State *L) {
  model_ref *r = begin_call(L, "model:forward");
  lua_settop(L, 7);
  id_rows rows;
  check_rows(L, 2, "model:forward", &rows);
  int batched = lua_toboolean(L, 3);
  seer_forward_opts o = {0};
  o.hidden_states = lua_toboolean(L, 4);
  const char *lm = luaL_optstring(L, 5, "all");
  if (!strcmp(lm, "all"))
    o.logits = SEER_LOGITS_ALL;
  else if (!strcmp(lm, "last"))
    o.logits = SEER_LOGITS_LAST;
  else if (!strcmp(lm, "none"))
    o.logits = SEER_LOGITS_NONE;
  else
    return luaL_error(L, "model:forward: logits must be \"all\", \"last\" or false");
  o.batched = batched;
  seer_kv_cache *cache = NULL;
  if (!lua_isnil(L, 7)) {
    cache_box *cb = luaL_checkudata(L, 7, CACHE_MT);
    if (cb->r != r) return luaL_error(L, "model:forward: the cache belongs to another model");
    if (cb->batch != rows.batch)
      return luaL_error(L, "model:forward: the cache was made for %d rows, got %d", (int)cb->batch,
                        (int)rows.batch);
    cache = cb->c;
  }
  o.hooks = check_hooks(L, 6, r, "model:forward", &o.num_hooks);
  if (!batched && rows.batch != 1)
    return luaL_error(L, "model:forward: %d rows given to an unbatched call", (int)rows.batch);
  seer_forward_out out = {0};
  seer_error err;
  r->in_call = 1;
  r->batched_call = batched;
  int rc = seer_model_forward(r->m, cache, rows.batch, rows.rows, rows.lens, &o, &out, &err);
  r->in_call = 0;
  if (rc) return raise_call_error(L, r, "model:forward", &err);
  if (out.logits)
    seer_lua_push_tensor(L, out.logits);
  else
    lua_pushnil(L);
  if (out.hidden_states)
    seer_lua_push_tensor(L, out.hidden_states);
  else
    lua_pushnil(L);
  return 2;
}

/* unembed(h, apply_norm) -> logits: the readout of a hidden state (allowed inside hooks: it
 * reads weights only). */
static int m_unembed(lua_State *L) {
  model_ref *r = check_model(L, 1, "model:unembed");
  seer_tensor *h = seer_lua_check_tensor(L, 2, "model:unembed");
  seer_error err;
  seer_tensor *out = seer_model_unembed(r->m, h, lua_toboolean(L, 3), &err);
  if (!out) return luaL_error(L, "model:unembed: %s", err.msg);
  seer_lua_push_tensor(L, out);
  return 1;
}

/* generate(rows, batched, opts) -> {{ids = {...}, finish_reason = "length"|"stop"}, ...};
 * opts fields are already defaulted and checked by model.lua. */
static int m_generate(lua_State *L) {
  model_ref *r = begin_call(L, "model:generate");
  lua_settop(L, 4);
  id_rows rows;
  check_rows(L, 2, "model:generate", &rows);
  int batched = lua_toboolean(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  seer_generate_opts o = {0};
  lua_getfield(L, 4, "max_new_tokens");
  o.max_new_tokens = (int)luaL_checkinteger(L, -1);
  lua_getfield(L, 4, "temperature");
  o.temperature = luaL_checknumber(L, -1);
  lua_getfield(L, 4, "top_k");
  o.top_k = (int)luaL_checkinteger(L, -1);
  lua_getfield(L, 4, "top_p");
  o.top_p = luaL_checknumber(L, -1);
  lua_getfield(L, 4, "seed");
  o.seed = (uint64_t)seer_tointeger(L, -1);
  lua_pop(L, 5);
  lua_getfield(L, 4, "stop");
  int stop_idx = lua_gettop(L);
  size_t ns = lua_istable(L, stop_idx) ? seer_rawlen(L, stop_idx) : 0;
  int32_t *stop = lua_newuserdata(L, sizeof(int32_t) * (ns ? ns : 1));
  for (size_t i = 0; i < ns; i++) {
    lua_rawgeti(L, stop_idx, (int)i + 1);
    if (!seer_isinteger(L, -1)) return luaL_error(L, "model:generate: stop must be a list of ids");
    stop[i] = (int32_t)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  o.stop = stop;
  o.num_stop = ns;
  lua_getfield(L, 4, "hooks");
  o.hooks = check_hooks(L, lua_gettop(L), r, "model:generate", &o.num_hooks);
  lua_getfield(L, 4, "on_token");
  token_call tc = {r, lua_gettop(L), 0, 0, 0};
  if (lua_isfunction(L, -1)) {
    o.on_token = token_trampoline;
    o.on_token_ud = &tc;
  }
  seer_generate_row *out = NULL;
  seer_error err;
  r->in_call = 1;
  r->batched_call = batched;
  int rc = seer_model_generate(r->m, rows.batch, rows.rows, rows.lens, &o, &out, &err);
  r->in_call = 0;
  if (rc) return raise_call_error(L, r, "model:generate", &err);
  /* Copy the ids out before anything can raise, then free the C rows. */
  lua_createtable(L, (int)rows.batch, 0);
  for (size_t b = 0; b < rows.batch; b++) {
    lua_createtable(L, 0, 2);
    lua_createtable(L, (int)out[b].len, 0);
    for (size_t i = 0; i < out[b].len; i++) {
      seer_pushinteger(L, out[b].ids[i]);
      lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "ids");
    lua_pushstring(L, out[b].finish_reason == SEER_FINISH_STOP ? "stop" : "length");
    lua_setfield(L, -2, "finish_reason");
    lua_rawseti(L, -2, (int)b + 1);
  }
  seer_generate_rows_free(out, rows.batch);
  return 1;
}

/* add_hook(point, fn) -> handle */
static int m_add_hook(lua_State *L) {
  model_ref *r = begin_call(L, "model:add_hook");
  const char *point = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  seer_hook_point p;
  seer_error err;
  if (seer_model_parse_hook_point(r->m, point, &p, &err))
    return luaL_error(L, "model:add_hook: %s", err.msg);
  lua_hook *lh = malloc(sizeof *lh);
  if (!lh) return luaL_error(L, "model:add_hook: out of memory");
  *lh = (lua_hook){r, 0, 0};
  int h = seer_model_add_hook(r->m, p, hook_trampoline, lh, hook_free, &err);
  if (h < 0) {
    hook_free(lh);
    return luaL_error(L, "model:add_hook: %s", err.msg);
  }
  lh->handle = h; /* no hook runs before this returns */
  get_uservalue(L, 1);
  lua_pushvalue(L, 3);
  lua_rawseti(L, -2, h);
  lua_pushinteger(L, h);
  return 1;
}

static int m_remove_hook(lua_State *L) {
  model_ref *r = begin_call(L, "model:remove_hook");
  int h = (int)luaL_checkinteger(L, 2);
  int ok = seer_model_remove_hook(r->m, h) == 0;
  get_uservalue(L, 1);
  lua_pushnil(L);
  lua_rawseti(L, -2, h);
  lua_pushboolean(L, ok);
  return 1;
}

/* ---- LoRA adapters (policy in stdlib/seer/model.lua) ---- */

/* load_adapter(dir, name) -> true | nil, err (the adapter's files are missing or malformed, or do
 * not fit this model) */
static int m_load_adapter(lua_State *L) {
  model_ref *r = begin_call(L, "model:load_adapter");
  const char *dir = luaL_checkstring(L, 2), *name = luaL_checkstring(L, 3);
  seer_error err;
  if (seer_model_load_adapter(r->m, dir, name, &err))
    return seer_lua_fail(L, "model:load_adapter", &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* set_adapter(name | nil) */
static int m_set_adapter(lua_State *L) {
  model_ref *r = begin_call(L, "model:set_adapter");
  seer_error err;
  if (seer_model_set_adapter(r->m, luaL_optstring(L, 2, NULL), &err))
    return luaL_error(L, "model:set_adapter: %s", err.msg);
  return 0;
}

static int m_active_adapter(lua_State *L) {
  const char *name = seer_model_active_adapter(check_model(L, 1, "model:active_adapter")->m);
  if (name)
    lua_pushstring(L, name);
  else
    lua_pushnil(L);
  return 1;
}

/* adapters() -> {{name, base_model, targets, saved, r_max, bytes}, ...} in load order */
static int m_adapters(lua_State *L) {
  model_ref *r = check_model(L, 1, "model:adapters");
  size_t n = seer_model_num_adapters(r->m);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    seer_adapter_info in;
    seer_model_adapter_info(r->m, i, &in);
    lua_createtable(L, 0, 6);
    lua_pushstring(L, in.name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, in.base_model);
    lua_setfield(L, -2, "base_model");
    seer_pushinteger(L, in.num_targets);
    lua_setfield(L, -2, "targets");
    seer_pushinteger(L, in.num_saved);
    lua_setfield(L, -2, "saved");
    seer_pushinteger(L, in.r_max);
    lua_setfield(L, -2, "r_max");
    seer_pushinteger(L, (long long)in.bytes);
    lua_setfield(L, -2, "bytes");
    lua_rawseti(L, -2, (int)i + 1);
  }
  return 1;
}

static int m_delete_adapter(lua_State *L) {
  model_ref *r = begin_call(L, "model:delete_adapter");
  seer_error err;
  if (seer_model_delete_adapter(r->m, luaL_checkstring(L, 2), &err))
    return luaL_error(L, "model:delete_adapter: %s", err.msg);
  return 0;
}

static int m_merge_adapter(lua_State *L) {
  model_ref *r = begin_call(L, "model:merge_adapter");
  seer_error err;
  if (seer_model_merge_adapter(r->m, &err))
    return luaL_error(L, "model:merge_adapter: %s", err.msg);
  return 0;
}

static int m_unmerge_adapter(lua_State *L) {
  seer_model_unmerge_adapter(begin_call(L, "model:unmerge_adapter")->m);
  return 0;
}

static int m_adapter_merged(lua_State *L) {
  lua_pushboolean(L, seer_model_adapter_merged(check_model(L, 1, "model:adapter_merged")->m));
  return 1;
}

/* new_cache(batch) -> KVCache */
static int m_new_cache(lua_State *L) {
  model_ref *r = check_model(L, 1, "model:new_cache");
  lua_Integer batch = luaL_optinteger(L, 2, 1);
  if (batch < 1) return luaL_error(L, "model:new_cache: batch must be >= 1");
  cache_box *cb = lua_newuserdata(L, sizeof *cb);
  cb->c = NULL;
  cb->r = NULL;
  cb->batch = (size_t)batch;
  luaL_setmetatable(L, CACHE_MT);
  seer_error err;
  cb->c = seer_kv_cache_new(r->m, (size_t)batch, &err);
  if (!cb->c) return luaL_error(L, "model:new_cache: %s", err.msg);
  cb->r = r;
  r->refs++;
  return 1;
}

static int c_gc(lua_State *L) {
  cache_box *cb = luaL_checkudata(L, 1, CACHE_MT);
  if (cb->c) seer_kv_cache_free(cb->c);
  if (cb->r) ref_release(cb->r, L);
  cb->c = NULL;
  cb->r = NULL;
  return 0;
}

static int c_length(lua_State *L) {
  cache_box *cb = luaL_checkudata(L, 1, CACHE_MT);
  seer_pushinteger(L, cb->c ? seer_kv_cache_length(cb->c) : 0);
  return 1;
}

static int c_bytes(lua_State *L) {
  cache_box *cb = luaL_checkudata(L, 1, CACHE_MT);
  seer_pushinteger(L, cb->c ? (long long)seer_kv_cache_bytes(cb->c) : 0);
  return 1;
}

int luaopen_seer__model(lua_State *L) {
  static const luaL_Reg methods[] = {{"info", m_info},
                                     {"config_json", m_config_json},
                                     {"forward", m_forward},
                                     {"generate", m_generate},
                                     {"add_hook", m_add_hook},
                                     {"remove_hook", m_remove_hook},
                                     {"new_cache", m_new_cache},
                                     {"load_adapter", m_load_adapter},
                                     {"set_adapter", m_set_adapter},
                                     {"active_adapter", m_active_adapter},
                                     {"adapters", m_adapters},
                                     {"delete_adapter", m_delete_adapter},
                                     {"merge_adapter", m_merge_adapter},
                                     {"unmerge_adapter", m_unmerge_adapter},
                                     {"adapter_merged", m_adapter_merged},
                                     {"unembed", m_unembed},
                                     {NULL, NULL}};
  static const luaL_Reg cache_methods[] = {{"length", c_length}, {"bytes", c_bytes}, {NULL, NULL}};
  static const luaL_Reg fns[] = {{"load", l_load},
                                 {"supported_architectures", l_supported},
                                 {"create_random", l_create_random},
                                 {NULL, NULL}};
  /* Tensors come back from forward: make sure their metatable exists. */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "seer.tensor");
  lua_call(L, 1, 0);
  luaL_newmetatable(L, MODEL_MT);
  lua_pushcfunction(L, m_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newmetatable(L, CACHE_MT);
  lua_pushcfunction(L, c_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newlib(L, cache_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  return 1;
}
