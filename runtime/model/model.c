/* model.c: owns model loading (config, weight binding to the mapped safetensors, shape checks),
 * model info, and the persistent hook registry. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_engine.h"
#include "lora_internal.h"
#include "seer/buf.h"
#include "weights_mem.h"

static int bind_matrix(seer_model *m, const char *name, int64_t rows, int64_t cols, model_w *w,
                       seer_error *err) {
  const seer_st_info *info = seer_st_find(m->st, name);
  if (!info) return seer_errorf(err, SEER_EFORMAT, "model: weight '%s' is missing", name);
  if (info->ndim != 2 || info->shape[0] != rows || info->shape[1] != cols)
    return seer_errorf(
        err, SEER_EFORMAT, "model: weight '%s' in %s has shape [%lld, %lld], expected [%lld, %lld]",
        name, info->file, info->ndim > 0 ? (long long)info->shape[0] : -1LL,
        info->ndim > 1 ? (long long)info->shape[1] : -1LL, (long long)rows, (long long)cols);
  if (!seer_dtype_is_float(info->dtype))
    return seer_errorf(err, SEER_EFORMAT, "model: weight '%s' has dtype %s, expected a float type",
                       name, seer_dtype_name(info->dtype));
  w->t = seer_st_get(m->st, name, err);
  if (!w->t) return err ? err->code : SEER_ENOMEM;
  w->data = seer_tensor_data(w->t);
  w->dtype = info->dtype;
  w->rows = rows;
  w->cols = cols;
  return 0;
}

/* Loads a 1-D weight as f32 (adding `plus` to each value); *out stays NULL when optional and
 * absent. */
static int bind_vector(seer_model *m, const char *name, int64_t n, double plus, int required,
                       float **out, seer_error *err) {
  *out = NULL;
  const seer_st_info *info = seer_st_find(m->st, name);
  if (!info)
    return required ? seer_errorf(err, SEER_EFORMAT, "model: weight '%s' is missing", name) : 0;
  if (info->ndim != 1 || info->shape[0] != n || !seer_dtype_is_float(info->dtype))
    return seer_errorf(err, SEER_EFORMAT,
                       "model: weight '%s' in %s should be a float vector of %lld", name,
                       info->file, (long long)n);
  seer_tensor *t = seer_st_get(m->st, name, err);
  if (!t) return err ? err->code : SEER_ENOMEM;
  float *v = malloc(sizeof(float) * (size_t)n);
  if (!v) {
    seer_tensor_release(t);
    return seer_errorf(err, SEER_ENOMEM, "model: out of memory");
  }
  seer_tensor_read_f32(t, v);
  seer_tensor_release(t);
  /* Gemma computes (1 + w) in f32, so folding it in here is exact. */
  if (plus != 0)
    for (int64_t i = 0; i < n; i++)
      v[i] = (float)(1.0f + v[i]);
  *out = v;
  return 0;
}

/* HF's inv_freq, in f32 as torch computes it, with llama3/linear scaling applied. */
static float *make_inv_freq(const rope_cfg *r, int hd) {
  int half = hd / 2;
  float *f = malloc(sizeof(float) * (size_t)half);
  if (!f) return NULL;
  for (int i = 0; i < half; i++) {
    float expo = (float)(2 * i) / (float)hd;
    f[i] = 1.0f / powf((float)r->theta, expo);
  }
  if (r->type == ROPE_LINEAR) {
    for (int i = 0; i < half; i++)
      f[i] = f[i] / (float)r->factor;
  } else if (r->type == ROPE_LLAMA3) {
    double low_wl = r->original_max / r->low_freq_factor;
    double high_wl = r->original_max / r->high_freq_factor;
    for (int i = 0; i < half; i++) {
      float inv = f[i];
      float wl = 2.0f * (float)M_PI / inv;
      float scaled = wl > (float)low_wl ? inv / (float)r->factor : inv;
      float smooth = ((float)r->original_max / wl - (float)r->low_freq_factor) /
                     (float)(r->high_freq_factor - r->low_freq_factor);
      float smoothed = (1 - smooth) * scaled / (float)r->factor + smooth * scaled;
      int medium = !(wl < (float)high_wl) && !(wl > (float)low_wl);
      f[i] = medium ? smoothed : scaled;
    }
  }
  return f;
}

static int bind_layer(seer_model *m, int i, seer_error *err) {
  const model_cfg *c = &m->cfg;
  layer_w *L = &m->layers[i];
  int64_t H = c->info.hidden_size, hd = c->info.head_dim, I = c->info.intermediate_size;
  int64_t qd = (int64_t)c->info.num_heads * hd, kvd = (int64_t)c->info.num_kv_heads * hd;
  double p1 = c->norm_plus_one ? 1.0 : 0.0;
  char n[256];
  int rc = 0;
#define NAME(suffix) (snprintf(n, sizeof n, "%slayers.%d.%s", m->prefix.body, i, suffix), n)
  if ((rc = bind_matrix(m, NAME("self_attn.q_proj.weight"), qd, H, &L->q, err)) ||
      (rc = bind_matrix(m, NAME("self_attn.k_proj.weight"), kvd, H, &L->k, err)) ||
      (rc = bind_matrix(m, NAME("self_attn.v_proj.weight"), kvd, H, &L->v, err)) ||
      (rc = bind_matrix(m, NAME("self_attn.o_proj.weight"), H, qd, &L->o, err)) ||
      (rc = bind_matrix(m, NAME("mlp.gate_proj.weight"), I, H, &L->gate, err)) ||
      (rc = bind_matrix(m, NAME("mlp.up_proj.weight"), I, H, &L->up, err)) ||
      (rc = bind_matrix(m, NAME("mlp.down_proj.weight"), H, I, &L->down, err)))
    return rc;
  if (seer_st_find(m->st, NAME("mlp.gate_proj.bias")))
    return seer_errorf(err, SEER_ENOTSUP, "model: MLP biases (mlp_bias) are not supported");
  /* Biases are optional in every family (Qwen2 has q/k/v bias, attention_bias adds them). */
  if ((rc = bind_vector(m, NAME("self_attn.q_proj.bias"), qd, 0, 0, &L->q_b, err)) ||
      (rc = bind_vector(m, NAME("self_attn.k_proj.bias"), kvd, 0, 0, &L->k_b, err)) ||
      (rc = bind_vector(m, NAME("self_attn.v_proj.bias"), kvd, 0, 0, &L->v_b, err)) ||
      (rc = bind_vector(m, NAME("self_attn.o_proj.bias"), H, 0, 0, &L->o_b, err)))
    return rc;
  if ((rc = bind_vector(m, NAME("input_layernorm.weight"), H, p1, 1, &L->in_norm, err))) return rc;
  if (c->sandwich_norms) {
    if ((rc = bind_vector(m, NAME("post_attention_layernorm.weight"), H, p1, 1, &L->attn_post_norm,
                          err)) ||
        (rc = bind_vector(m, NAME("pre_feedforward_layernorm.weight"), H, p1, 1, &L->ff_pre_norm,
                          err)) ||
        (rc = bind_vector(m, NAME("post_feedforward_layernorm.weight"), H, p1, 1, &L->ff_post_norm,
                          err)))
      return rc;
  } else if ((rc = bind_vector(m, NAME("post_attention_layernorm.weight"), H, p1, 1,
                               &L->ff_pre_norm, err))) {
    return rc;
  }
  if (c->qk_norm &&
      ((rc = bind_vector(m, NAME("self_attn.q_norm.weight"), hd, p1, 1, &L->q_norm, err)) ||
       (rc = bind_vector(m, NAME("self_attn.k_norm.weight"), hd, p1, 1, &L->k_norm, err))))
    return rc;
#undef NAME
  L->sliding = c->layer_sliding[i];
  L->inv_freq = make_inv_freq(L->sliding ? &c->rope_sliding : &c->rope_full, (int)hd);
  if (!L->inv_freq) return seer_errorf(err, SEER_ENOMEM, "model: out of memory");
  return 0;
}

static size_t w_bytes(const model_w *w) {
  return (size_t)(w->rows * w->cols) * seer_dtype_size(w->dtype);
}

static char *read_text(const char *path, seer_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    seer_errorf(err, SEER_EIO, "%s: cannot open", path);
    return NULL;
  }
  seer_buf b = SEER_BUF_INIT;
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
    if (seer_buf_append(&b, tmp, n)) break;
  fclose(f);
  if (seer_buf_terminate(&b)) {
    seer_buf_free(&b);
    seer_errorf(err, SEER_ENOMEM, "model: out of memory");
    return NULL;
  }
  return b.data;
}

int seer_model_load(const char *dir, const seer_model_opts *opts, seer_model **out,
                    seer_error *err) {
  *out = NULL;
  seer_device dev = opts ? opts->device : SEER_DEVICE_CPU;
  if (dev != SEER_DEVICE_CPU && dev != SEER_DEVICE_CUDA)
    return seer_errorf(err, SEER_ENOTSUP, "model: unknown device %d", (int)dev);
  int wdtype = -1; /* the device weights' dtype; -1: as stored */
  const char *dd = opts ? opts->device_dtype : NULL;
  if (dd && strcmp(dd, "auto") != 0) {
    seer_dtype t;
    if (seer_dtype_parse(dd, &t) != 0 || !seer_dtype_is_float(t))
      return seer_errorf(err, SEER_EINVAL,
                         "model: dtype must be \"auto\", \"f32\", \"bf16\" or \"f16\", got \"%s\"",
                         dd);
    if (dev != SEER_DEVICE_CUDA)
      return seer_errorf(err, SEER_ENOTSUP,
                         "model: dtype = \"%s\": on the CPU the weights stay in their stored dtype "
                         "(pass \"auto\"); converting them is for device = \"cuda\"",
                         dd);
    wdtype = (int)t;
  }
  if (opts && opts->threads > 0) seer_tensor_set_threads(opts->threads);
  seer_model *m = calloc(1, sizeof *m);
  if (!m) return seer_errorf(err, SEER_ENOMEM, "model: out of memory");
  m->be = seer_backend_get(SEER_DEVICE_CPU); /* a device model's host-side work stays on the CPU */
  m->next_handle = 1;
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", dir);
  int rc = 0;
  json_t *cfg = NULL;
  m->config_text = read_text(path, err);
  if (!m->config_text) {
    rc = err ? err->code : SEER_EIO;
    goto fail;
  }
  json_error_t jerr;
  cfg = json_loads(m->config_text, 0, &jerr);
  if (!cfg) {
    rc = seer_errorf(err, SEER_EFORMAT, "%s: invalid JSON (line %d column %d: %s)", path, jerr.line,
                     jerr.column, jerr.text);
    goto fail;
  }
  const seer_arch *arch;
  json_t *text_cfg = NULL;
  int wrapped;
  if ((rc = seer_model_unwrap_config(cfg, path, &text_cfg, &wrapped, err))) goto fail;
  json_decref(cfg);
  cfg = text_cfg;
  if ((rc = seer_model_config_parse(cfg, path, &m->cfg, &arch, err))) goto fail;
  /* Weights a device takes are read once for the upload: no host copy (weights_mem.c). */
  rc = dev == SEER_DEVICE_CPU ? seer_st_open_dir(dir, &m->st, err)
                              : seer_st_open_dir_placed(dir, SEER_WEIGHTS_MAP, &m->st, err);
  if (rc) goto fail;
  seer_model_weight_prefix(m->st, &m->prefix);
  const seer_model_info *in = &m->cfg.info;
  char wname[160];
  snprintf(wname, sizeof wname, "%sembed_tokens.weight", m->prefix.body);
  if ((rc = bind_matrix(m, wname, in->vocab_size, in->hidden_size, &m->embed, err))) goto fail;
  if (m->cfg.tie_embeddings) {
    m->lm_head = m->embed;
    m->lm_head.t = seer_tensor_retain(m->embed.t);
  } else if ((rc = bind_matrix(m, m->prefix.lm_head, in->vocab_size, in->hidden_size, &m->lm_head,
                               err))) {
    goto fail;
  }
  snprintf(wname, sizeof wname, "%snorm.weight", m->prefix.body);
  if ((rc = bind_vector(m, wname, in->hidden_size, m->cfg.norm_plus_one ? 1 : 0, 1, &m->final_norm,
                        err)))
    goto fail;
  m->layers = calloc((size_t)in->num_layers, sizeof *m->layers);
  if (!m->layers) {
    rc = seer_errorf(err, SEER_ENOMEM, "model: out of memory");
    goto fail;
  }
  for (int i = 0; i < in->num_layers; i++)
    if ((rc = bind_layer(m, i, err))) goto fail;
  m->cfg.info.dtype = m->embed.dtype;
  m->cfg.info.device = dev;
  m->weight_bytes = w_bytes(&m->lm_head);
  for (int i = 0; i < in->num_layers; i++) {
    layer_w *L = &m->layers[i];
    m->weight_bytes += w_bytes(&L->q) + w_bytes(&L->k) + w_bytes(&L->v) + w_bytes(&L->o) +
                       w_bytes(&L->gate) + w_bytes(&L->up) + w_bytes(&L->down);
  }
  if (dev == SEER_DEVICE_CUDA && (rc = seer_device_attach(m, opts->device_index, wdtype, err)))
    goto fail;
  json_decref(cfg);
  *out = m;
  return 0;
fail:
  json_decref(cfg);
  seer_model_free(m);
  return rc;
}

static void free_w(model_w *w) { seer_tensor_release(w->t); }

void seer_model_free(seer_model *m) {
  if (!m) return;
  seer_lora_free_model(m);
  seer_device_detach(m);
  for (size_t i = 0; i < m->num_hooks; i++)
    if (m->hooks[i].free_ud) m->hooks[i].free_ud(m->hooks[i].hook.ud);
  free(m->hooks);
  if (m->layers) {
    for (int i = 0; i < m->cfg.info.num_layers; i++) {
      layer_w *L = &m->layers[i];
      free_w(&L->q), free_w(&L->k), free_w(&L->v), free_w(&L->o);
      free_w(&L->gate), free_w(&L->up), free_w(&L->down);
      free(L->q_b), free(L->k_b), free(L->v_b), free(L->o_b);
      free(L->in_norm), free(L->attn_post_norm), free(L->ff_pre_norm), free(L->ff_post_norm);
      free(L->q_norm), free(L->k_norm), free(L->inv_freq);
    }
    free(m->layers);
  }
  free_w(&m->embed);
  free_w(&m->lm_head);
  free(m->final_norm);
  seer_st_close(m->st);
  seer_model_config_free(&m->cfg);
  free(m->config_text);
  free(m);
}

const seer_model_info *seer_model_get_info(const seer_model *m) { return &m->cfg.info; }
const char *seer_model_config_json(const seer_model *m) { return m->config_text; }
size_t seer_model_weight_bytes(const seer_model *m) { return m->weight_bytes; }

int seer_model_layer_is_sliding(const seer_model *m, int layer) {
  return layer >= 0 && layer < m->cfg.info.num_layers && m->cfg.layer_sliding[layer];
}

/* ---- hooks ---- */

int seer_model_parse_hook_point(const seer_model *m, const char *s, seer_hook_point *out,
                                seer_error *err) {
  if (!strcmp(s, "embed")) {
    *out = (seer_hook_point){SEER_HOOK_EMBED, -1};
    return 0;
  }
  if (!strcmp(s, "final_norm")) {
    *out = (seer_hook_point){SEER_HOOK_FINAL_NORM, -1};
    return 0;
  }
  int layer, used = 0;
  char rest[16] = "";
  if (sscanf(s, "layers.%d%n", &layer, &used) == 1 && used > 7) {
    snprintf(rest, sizeof rest, "%s", s + used);
    seer_hook_kind k;
    if (!rest[0])
      k = SEER_HOOK_LAYER;
    else if (!strcmp(rest, ".attn"))
      k = SEER_HOOK_ATTN;
    else if (!strcmp(rest, ".mlp"))
      k = SEER_HOOK_MLP;
    else if (!strcmp(rest, ".attn.heads"))
      k = SEER_HOOK_ATTN_HEADS;
    else if (!strcmp(rest, ".attn.weights"))
      k = SEER_HOOK_ATTN_WEIGHTS;
    else
      goto bad;
    if (layer < 0 || layer >= m->cfg.info.num_layers)
      return seer_errorf(err, SEER_EINVAL, "hook point '%s': layer %d out of range (0..%d)", s,
                         layer, m->cfg.info.num_layers - 1);
    *out = (seer_hook_point){k, layer};
    return 0;
  }
bad:
  return seer_errorf(err, SEER_EINVAL,
                     "unknown hook point '%s' (embed, layers.<i>, layers.<i>.attn, "
                     "layers.<i>.mlp, layers.<i>.attn.heads, layers.<i>.attn.weights, final_norm)",
                     s);
}

int seer_model_add_hook(seer_model *m, seer_hook_point point, seer_hook_fn fn, void *ud,
                        void (*free_ud)(void *ud), seer_error *err) {
  int L = m->cfg.info.num_layers;
  int needs_layer =
      point.kind == SEER_HOOK_LAYER || point.kind == SEER_HOOK_ATTN || point.kind == SEER_HOOK_MLP;
  if (!fn || (needs_layer && (point.layer < 0 || point.layer >= L)))
    return seer_errorf(err, SEER_EINVAL, "add_hook: invalid hook point or function");
  model_hook_entry *h = realloc(m->hooks, (m->num_hooks + 1) * sizeof *h);
  if (!h) return seer_errorf(err, SEER_ENOMEM, "model: out of memory");
  m->hooks = h;
  model_hook_entry *e = &m->hooks[m->num_hooks++];
  e->handle = m->next_handle++;
  e->hook = (seer_hook){point, fn, ud};
  e->free_ud = free_ud;
  return e->handle;
}

int seer_model_remove_hook(seer_model *m, int handle) {
  for (size_t i = 0; i < m->num_hooks; i++) {
    if (m->hooks[i].handle != handle) continue;
    if (m->hooks[i].free_ud) m->hooks[i].free_ud(m->hooks[i].hook.ud);
    memmove(&m->hooks[i], &m->hooks[i + 1], (m->num_hooks - i - 1) * sizeof *m->hooks);
    m->num_hooks--;
    return 0;
  }
  return SEER_EINVAL;
}
