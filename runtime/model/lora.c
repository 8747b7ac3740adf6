/* lora.c: owns the LoRA adapters of a model: loading adapter_model.safetensors against the base
 * model's shapes (every tensor in the file must be used), the active adapter, the side path the
 * forward pass adds to each targeted linear layer, and merging into copies of the weights. On a
 * device model, device_lora.c keeps device copies of what the forward pass reads, following each
 * load, merge, unmerge and free here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora_internal.h"

/* HF module names of the slots, relative to the CausalLM model (PEFT's key without
 * "base_model.model."). */
static const char *const layer_modules[LORA_LAYER_SLOTS] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

/* The base weight behind a slot. */
static model_w *base_weight(seer_model *m, int layer, lora_slot s) {
  if (layer < 0) return s == LORA_EMBED ? &m->embed : &m->lm_head;
  layer_w *L = &m->layers[layer];
  model_w *w[LORA_LAYER_SLOTS] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
  return w[s];
}

/* Module names as PEFT saw them: "model.layers.3.self_attn.q_proj" in a CausalLM, and under a
 * multimodal wrapper "model.language_model.layers..." (transformers >= 4.52) or
 * "language_model.model.layers..." (earlier), whatever layout the base checkpoint has. */
typedef struct module_layout {
  const char *body, *head;
} module_layout;

static const module_layout layouts[] = {
    {"model.", "lm_head"},
    {"model.language_model.", "lm_head"},
    {"language_model.model.", "language_model.lm_head"},
};

static void module_name(const module_layout *lay, int layer, lora_slot s, char *buf, size_t n) {
  if (layer < 0 && s == LORA_EMBED)
    snprintf(buf, n, "%sembed_tokens", lay->body);
  else if (layer < 0)
    snprintf(buf, n, "%s", lay->head);
  else
    snprintf(buf, n, "%slayers.%d.%s", lay->body, layer, layer_modules[s]);
}

static void release_merged(lora_adapter *a, size_t n) {
  for (size_t i = 0; i < n; i++) {
    seer_tensor_release(a->mats[i].merged.t);
    memset(&a->mats[i].merged, 0, sizeof a->mats[i].merged);
  }
}

static void adapter_free(seer_model *m, lora_adapter *a) {
  if (!a) return;
  size_t n = lora_slot_count(m);
  if (a->mats && m->dev) seer_device_lora_free(m, a);
  if (a->mats) {
    release_merged(a, n);
    for (size_t i = 0; i < n; i++) {
      free(a->mats[i].A);
      free(a->mats[i].B);
      seer_tensor_release(a->mats[i].saved.t);
    }
  }
  free(a->mats);
  free(a->base_model);
  free(a);
}

void seer_lora_free_model(seer_model *m) {
  lora_set *s = m->lora;
  if (!s) return;
  for (size_t i = 0; i < s->n; i++)
    adapter_free(m, s->list[i]);
  free(s->list);
  free(s);
  m->lora = NULL;
}

/* ---- loading ---- */

typedef struct load_ctx {
  seer_model *m;
  const char *file;
  seer_safetensors *st;
  lora_cfg cfg;
  unsigned char *used; /* per tensor of the file */
  lora_adapter *a;
  const module_layout *layout;
  seer_error *err;
} load_ctx;

/* The layout the adapter's keys use: the first whose layer prefix some key has. */
static const module_layout *adapter_layout(const seer_safetensors *st) {
  size_t n = seer_st_count(st);
  for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
    char want[96];
    int len = snprintf(want, sizeof want, "base_model.model.%slayers.", layouts[l].body);
    for (size_t i = 0; i < n; i++)
      if (!strncmp(seer_st_info_at(st, i)->name, want, (size_t)len)) return &layouts[l];
  }
  return &layouts[0];
}

static const seer_st_info *take(load_ctx *c, const char *key) {
  size_t n = seer_st_count(c->st);
  for (size_t i = 0; i < n; i++) {
    const seer_st_info *in = seer_st_info_at(c->st, i);
    if (!strcmp(in->name, key)) {
      c->used[i] = 1;
      return in;
    }
  }
  return NULL;
}

static int check_shape(load_ctx *c, const seer_st_info *in, int64_t rows, int64_t cols,
                       const char *what) {
  if (!seer_dtype_is_float(in->dtype))
    return seer_errorf(c->err, SEER_EFORMAT, "%s: '%s' has dtype %s, expected a float type",
                       c->file, in->name, seer_dtype_name(in->dtype));
  if (in->ndim != 2 || in->shape[0] != rows || in->shape[1] != cols)
    return seer_errorf(c->err, SEER_EFORMAT,
                       "%s: '%s' has shape [%lld, %lld], expected [%lld, %lld] (%s for this base "
                       "model; is the adapter for another model?)",
                       c->file, in->name, in->ndim > 0 ? (long long)in->shape[0] : -1LL,
                       in->ndim > 1 ? (long long)in->shape[1] : -1LL, (long long)rows,
                       (long long)cols, what);
  return 0;
}

static float *read_f32(load_ctx *c, const seer_st_info *in) {
  seer_tensor *t = seer_st_get(c->st, in->name, c->err);
  if (!t) return NULL;
  size_t n = (size_t)(in->shape[0] * in->shape[1]);
  float *v = malloc(sizeof(float) * (n ? n : 1));
  if (v) seer_tensor_read_f32(t, v);
  seer_tensor_release(t);
  if (!v) seer_errorf(c->err, SEER_ENOMEM, "%s: out of memory", c->file);
  for (size_t i = 0; v && i < n; i++)
    if (!isfinite(v[i])) {
      seer_errorf(c->err, SEER_EFORMAT, "%s: '%s' holds a non-finite value", c->file, in->name);
      free(v);
      return NULL;
    }
  return v;
}

static int load_lora(load_ctx *c, int layer, lora_slot s, const char *mod) {
  const model_w *w = base_weight(c->m, layer, s);
  lora_mat *lm = &c->a->mats[lora_slot_index(c->m, layer, s)];
  char ka[320], kb[320];
  snprintf(ka, sizeof ka, "base_model.model.%s.lora_A.weight", mod);
  snprintf(kb, sizeof kb, "base_model.model.%s.lora_B.weight", mod);
  const seer_st_info *ia = take(c, ka), *ib = take(c, kb);
  if (!ia || !ib)
    return seer_errorf(c->err, SEER_EFORMAT, "%s: '%s' is missing (adapter_config.json targets %s)",
                       c->file, ia ? kb : ka, mod);
  int r;
  double alpha;
  lora_cfg_rank_alpha(&c->cfg, mod, &r, &alpha);
  int rc;
  if ((rc = check_shape(c, ia, r, w->cols, "[r, in]")) ||
      (rc = check_shape(c, ib, w->rows, r, "[out, r]")))
    return rc;
  if (!(lm->A = read_f32(c, ia)) || !(lm->B = read_f32(c, ib))) return c->err->code;
  lm->r = r;
  lm->in = w->cols, lm->out = w->rows;
  lm->scale_d = c->cfg.rslora ? alpha / sqrt((double)r) : alpha / (double)r;
  lm->scale = (float)lm->scale_d;
  c->a->num_targets++;
  c->a->r_max = r > c->a->r_max ? r : c->a->r_max;
  c->a->out_max = w->rows > c->a->out_max ? w->rows : c->a->out_max;
  c->a->bytes += sizeof(float) * (size_t)r * (size_t)(w->rows + w->cols);
  return 0;
}

static int load_saved(load_ctx *c, int layer, lora_slot s, const char *mod) {
  const model_w *w = base_weight(c->m, layer, s);
  lora_mat *lm = &c->a->mats[lora_slot_index(c->m, layer, s)];
  char k[320];
  snprintf(k, sizeof k, "base_model.model.%s.weight", mod);
  const seer_st_info *in = take(c, k);
  if (!in)
    return seer_errorf(c->err, SEER_EFORMAT,
                       "%s: '%s' is missing (adapter_config.json lists %s in modules_to_save)",
                       c->file, k, mod);
  int rc = check_shape(c, in, w->rows, w->cols, "the base weight's shape");
  if (rc) return rc;
  lm->saved.t = seer_st_get(c->st, k, c->err);
  if (!lm->saved.t) return c->err->code;
  lm->saved.data = seer_tensor_data(lm->saved.t);
  lm->saved.dtype = in->dtype;
  lm->saved.rows = w->rows;
  lm->saved.cols = w->cols;
  c->a->num_saved++;
  c->a->bytes += in->nbytes;
  return 0;
}

static int load_slot(load_ctx *c, int layer, lora_slot s) {
  char mod[128];
  module_name(c->layout, layer, s, mod, sizeof mod);
  int target = lora_cfg_is_target(&c->cfg, mod, layer >= 0);
  int saved = lora_cfg_saves(&c->cfg, mod);
  if (target) {
    int r;
    double alpha;
    lora_cfg_rank_alpha(&c->cfg, mod, &r, &alpha);
  }
  if (c->cfg.regex_failed)
    return seer_errorf(c->err, SEER_EFORMAT,
                       "%s: a regex from the file (target_modules, exclude_modules, layers_pattern "
                       "or a rank/alpha pattern) takes too many steps to match '%s'; simplify it",
                       c->cfg.path, mod);
  if (target && saved)
    return seer_errorf(c->err, SEER_EFORMAT, "%s: %s is both a LoRA target and in modules_to_save",
                       c->cfg.path, mod);
  if (target && layer < 0)
    return seer_errorf(c->err, SEER_ENOTSUP,
                       "%s: target_modules matches %s: LoRA on embeddings and the output head is "
                       "not supported (only the attention and MLP projections)",
                       c->cfg.path, mod);
  if (target) return load_lora(c, layer, s, mod);
  if (saved) return load_saved(c, layer, s, mod);
  return 0;
}

static int load_into(load_ctx *c, const char *dir) {
  seer_model *m = c->m;
  int rc;
  for (int l = 0; l < m->cfg.info.num_layers; l++)
    for (int s = 0; s < LORA_LAYER_SLOTS; s++)
      if ((rc = load_slot(c, l, (lora_slot)s))) return rc;
  if ((rc = load_slot(c, -1, LORA_EMBED)) || (rc = load_slot(c, -1, LORA_LM_HEAD))) return rc;
  if (!c->a->num_targets && !c->a->num_saved)
    return seer_errorf(c->err, SEER_EFORMAT,
                       "%s: target_modules and layers_to_transform match no module of this %s "
                       "model (its projections are q_proj, k_proj, v_proj, o_proj, gate_proj, "
                       "up_proj and down_proj in %slayers.<i>)",
                       c->cfg.path, m->cfg.info.architecture, c->layout->body);
  size_t n = seer_st_count(c->st);
  for (size_t i = 0; i < n; i++)
    if (!c->used[i])
      return seer_errorf(
          c->err, SEER_EFORMAT,
          "%s: tensor '%s' belongs to no module that adapter_config.json targets or saves for "
          "this %s model; refusing an adapter that would be applied in part",
          c->file, seer_st_info_at(c->st, i)->name, m->cfg.info.architecture);
  (void)dir;
  return 0;
}

static lora_set *get_set(seer_model *m, seer_error *err) {
  if (!m->lora) {
    m->lora = calloc(1, sizeof *m->lora);
    if (!m->lora) seer_errorf(err, SEER_ENOMEM, "adapter: out of memory");
  }
  return m->lora;
}

static lora_adapter *find(const seer_model *m, const char *name, size_t *idx) {
  for (size_t i = 0; m->lora && i < m->lora->n; i++)
    if (!strcmp(m->lora->list[i]->name, name)) {
      if (idx) *idx = i;
      return m->lora->list[i];
    }
  return NULL;
}

int seer_model_load_adapter(seer_model *m, const char *dir, const char *name, seer_error *err) {
  size_t nlen = name ? strlen(name) : 0;
  if (nlen < 1 || nlen >= SEER_ADAPTER_NAME_MAX)
    return seer_errorf(err, SEER_EINVAL, "load_adapter: the adapter name must be 1..%d bytes",
                       SEER_ADAPTER_NAME_MAX - 1);
  if (find(m, name, NULL))
    return seer_errorf(err, SEER_EINVAL,
                       "load_adapter: an adapter named '%s' is already loaded; pick another name "
                       "or delete it first",
                       name);
  if (!get_set(m, err)) return SEER_ENOMEM;
  char cfg_path[4096], st_path[4096];
  snprintf(cfg_path, sizeof cfg_path, "%s/adapter_config.json", dir);
  snprintf(st_path, sizeof st_path, "%s/adapter_model.safetensors", dir);
  load_ctx c = {.m = m, .file = st_path, .err = err};
  int rc = lora_cfg_load(cfg_path, &c.cfg, err);
  if (rc) return rc;
  if ((rc = seer_st_open(st_path, &c.st, err))) {
    FILE *bin;
    char bin_path[4096];
    snprintf(bin_path, sizeof bin_path, "%s/adapter_model.bin", dir);
    if ((bin = fopen(bin_path, "rb"))) {
      fclose(bin);
      rc = seer_errorf(err, SEER_ENOTSUP,
                       "%s: only adapter_model.safetensors is read (pickled .bin files can run "
                       "code); convert it with peft's save_pretrained(safe_serialization=True)",
                       bin_path);
    }
    lora_cfg_free(&c.cfg);
    return rc;
  }
  c.layout = adapter_layout(c.st);
  c.used = calloc(seer_st_count(c.st) + 1, 1);
  c.a = calloc(1, sizeof *c.a);
  if (c.a) c.a->mats = calloc(lora_slot_count(m), sizeof *c.a->mats);
  if (c.a) c.a->base_model = strdup(c.cfg.base_model);
  if (!c.used || !c.a || !c.a->mats || !c.a->base_model) {
    rc = seer_errorf(err, SEER_ENOMEM, "load_adapter: out of memory");
  } else {
    snprintf(c.a->name, sizeof c.a->name, "%s", name);
    rc = load_into(&c, dir);
    if (!rc && m->dev) rc = seer_device_lora_load(m, c.a, err);
  }
  lora_adapter **list = rc ? NULL : realloc(m->lora->list, (m->lora->n + 1) * sizeof *list);
  if (!rc && !list) rc = seer_errorf(err, SEER_ENOMEM, "load_adapter: out of memory");
  if (!rc) {
    m->lora->list = list;
    list[m->lora->n++] = c.a;
  } else {
    adapter_free(m, c.a);
  }
  free(c.used);
  seer_st_close(c.st);
  lora_cfg_free(&c.cfg);
  return rc;
}

/* ---- switching and merging ---- */

void seer_model_unmerge_adapter(seer_model *m) {
  if (!m->lora || !m->lora->merged) return;
  if (m->dev) seer_device_lora_unmerge(m, m->lora->active);
  release_merged(m->lora->active, lora_slot_count(m));
  m->lora->merged = 0;
  m->lora->generation++;
}

uint64_t seer_lora_generation(const seer_model *m) { return m->lora ? m->lora->generation : 0; }

int seer_model_adapter_merged(const seer_model *m) { return m->lora && m->lora->merged; }

int seer_model_set_adapter(seer_model *m, const char *name, seer_error *err) {
  lora_adapter *a = NULL;
  if (name && !(a = find(m, name, NULL)))
    return seer_errorf(err, SEER_EINVAL, "set_adapter: no adapter named '%s' is loaded", name);
  if (!m->lora) return 0; /* nothing loaded and nothing asked for */
  if (a != m->lora->active) seer_model_unmerge_adapter(m);
  if (a != m->lora->active) m->lora->generation++;
  m->lora->active = a;
  return 0;
}

const char *seer_model_active_adapter(const seer_model *m) {
  return m->lora && m->lora->active ? m->lora->active->name : NULL;
}

size_t seer_model_num_adapters(const seer_model *m) { return m->lora ? m->lora->n : 0; }

int seer_model_adapter_info(const seer_model *m, size_t i, seer_adapter_info *out) {
  if (!m->lora || i >= m->lora->n) return SEER_EINVAL;
  const lora_adapter *a = m->lora->list[i];
  *out =
      (seer_adapter_info){a->name, a->base_model, a->num_targets, a->num_saved, a->r_max, a->bytes};
  return 0;
}

int seer_model_delete_adapter(seer_model *m, const char *name, seer_error *err) {
  size_t i;
  lora_adapter *a = find(m, name, &i);
  if (!a) return seer_errorf(err, SEER_EINVAL, "delete_adapter: no adapter named '%s'", name);
  if (m->lora->active == a) {
    seer_model_unmerge_adapter(m);
    m->lora->active = NULL;
  }
  adapter_free(m, a);
  m->lora->generation++;
  memmove(&m->lora->list[i], &m->lora->list[i + 1], (m->lora->n - i - 1) * sizeof a);
  m->lora->n--;
  return 0;
}

typedef struct merge_job {
  const model_w *w;
  const lora_mat *lm;
  float *out; /* [rows, cols] f32 result before conversion to the weight's dtype */
} merge_job;

/* Row o of W + scale·B·A, with the low-rank product in f64 (as the fixtures' merge is). */
static void merge_row(void *ctx, int64_t o, int thread) {
  (void)thread;
  const merge_job *j = ctx;
  int64_t cols = j->w->cols;
  size_t es = seer_dtype_size(j->w->dtype);
  float *row = j->out + o * cols;
  seer_cpu_to_f32((const char *)j->w->data + (size_t)(o * cols) * es, j->w->dtype, cols, row);
  const float *b = j->lm->B + o * j->lm->r;
  for (int64_t i = 0; i < cols; i++) {
    double acc = 0;
    for (int k = 0; k < j->lm->r; k++)
      acc += (double)b[k] * (double)j->lm->A[k * cols + i];
    row[i] = (float)((double)row[i] + j->lm->scale_d * acc);
  }
}

static int merge_one(seer_model *m, const model_w *w, lora_mat *lm, seer_error *err) {
  int64_t shape[2] = {w->rows, w->cols};
  seer_tensor *t = seer_tensor_new(w->dtype, 2, shape, err);
  if (!t) return err ? err->code : SEER_ENOMEM;
  float *f32 = w->dtype == SEER_DTYPE_F32 ? seer_tensor_data(t)
                                          : malloc(sizeof(float) * (size_t)(w->rows * w->cols));
  if (!f32) {
    seer_tensor_release(t);
    return seer_errorf(err, SEER_ENOMEM, "merge_adapter: out of memory");
  }
  merge_job j = {w, lm, f32};
  seer_cpu_parallel_for(w->rows, merge_row, &j);
  if (w->dtype != SEER_DTYPE_F32) {
    uint16_t *dst = seer_tensor_data(t);
    size_t n = (size_t)(w->rows * w->cols);
    for (size_t i = 0; i < n; i++)
      dst[i] = w->dtype == SEER_DTYPE_BF16 ? seer_f32_to_bf16(f32[i]) : seer_f32_to_f16(f32[i]);
    free(f32);
  }
  lm->merged = (model_w){t, seer_tensor_data(t), w->dtype, w->rows, w->cols};
  (void)m;
  return 0;
}

int seer_model_merge_adapter(seer_model *m, seer_error *err) {
  if (!m->lora || !m->lora->active)
    return seer_errorf(err, SEER_ESTATE, "merge_adapter: no adapter is active");
  if (m->lora->merged) return 0;
  lora_adapter *a = m->lora->active;
  for (int l = 0; l < m->cfg.info.num_layers; l++)
    for (int s = 0; s < LORA_LAYER_SLOTS; s++) {
      lora_mat *lm = &a->mats[lora_slot_index(m, l, (lora_slot)s)];
      if (!lm->A) continue;
      int rc = merge_one(m, base_weight(m, l, (lora_slot)s), lm, err);
      if (rc) {
        release_merged(a, lora_slot_count(m));
        return rc;
      }
    }
  /* A device model runs on device copies of the merged weights (in its weight dtype). */
  int rc = m->dev ? seer_device_lora_merge(m, a, err) : 0;
  if (rc) {
    seer_device_lora_unmerge(m, a);
    release_merged(a, lora_slot_count(m));
    return rc;
  }
  m->lora->merged = 1;
  m->lora->generation++;
  return 0;
}

/* ---- the forward pass's view ---- */

const model_w *seer_lora_weight(const seer_model *m, int layer, lora_slot slot,
                                const model_w *base) {
  if (!m->lora || !m->lora->active) return base;
  const lora_mat *lm = &m->lora->active->mats[lora_slot_index(m, layer, slot)];
  if (lm->saved.t) return &lm->saved;
  if (m->lora->merged && lm->merged.t) return &lm->merged;
  return base;
}

int seer_lora_apply(const seer_model *m, int layer, lora_slot slot, const float *x, int64_t rows,
                    float *y, seer_error *err) {
  if (!m->lora || !m->lora->active || m->lora->merged) return 0;
  const lora_mat *lm = &m->lora->active->mats[lora_slot_index(m, layer, slot)];
  if (!lm->A) return 0;
  const model_w *w = base_weight((seer_model *)m, layer, slot);
  int64_t in = w->cols, out = w->rows, r = lm->r;
  float *t = malloc(sizeof(float) * (size_t)(rows * (r + out)));
  if (!t) return seer_errorf(err, SEER_ENOMEM, "adapter: out of memory for the LoRA side path");
  float *u = t + rows * r;
  /* PEFT: result + lora_B(lora_A(x)) * scaling. */
  m->be->linear(x, rows, in, in, lm->A, SEER_DTYPE_F32, r, NULL, t, r);
  m->be->linear(t, rows, r, r, lm->B, SEER_DTYPE_F32, out, NULL, u, out);
  int64_t n = rows * out;
  for (int64_t i = 0; i < n; i++)
    y[i] += u[i] * lm->scale;
  free(t);
  return 0;
}
