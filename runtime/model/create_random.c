/* create_random.c: owns seer_model_create_random: a seeded random-weight model directory for any
 * supported config (config.json copied, weights named and shaped as HF saves them, sharded with
 * an index above 2 GB), for benchmarks and demos. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../tensor/rng.h"
#include "model_internal.h"

#define SHARD_BYTES (2000ull * 1000 * 1000) /* the hub's 2 GB shards */

typedef struct rand_entry {
  seer_st_entry e;
  char name[128];
  double base, scale; /* value = base + scale * normal */
} rand_entry;

typedef struct rand_ctx {
  rand_entry *ents;
  size_t first; /* index of the shard's first entry */
  uint64_t seed;
  seer_rng rng;
} rand_ctx;

static int add(rand_entry **v, size_t *n, size_t *cap, const char *name, seer_dtype dt, int ndim,
               int64_t d0, int64_t d1, double base, double scale) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 256;
    rand_entry *nv = realloc(*v, nc * sizeof *nv);
    if (!nv) return SEER_ENOMEM;
    *v = nv;
    *cap = nc;
  }
  rand_entry *r = &(*v)[(*n)++];
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", name);
  r->e.dtype = dt;
  r->e.ndim = ndim;
  r->e.shape[0] = d0;
  r->e.shape[1] = d1;
  r->base = base;
  r->scale = scale;
  return 0;
}

static size_t entry_bytes(const seer_st_entry *e) {
  size_t n = seer_dtype_size(e->dtype);
  for (int i = 0; i < e->ndim; i++)
    n *= (size_t)e->shape[i];
  return n;
}

/* An approximately normal value from one 64-bit draw: the centred sum of four 16-bit uniforms
 * (Irwin-Hall, variance 1/3 before scaling). Cheap enough for billions of weights. */
static inline double fast_normal(seer_rng *r) {
  uint64_t x = seer_rng_next(r);
  double s = (double)(x & 0xffff) + (double)((x >> 16) & 0xffff) + (double)((x >> 32) & 0xffff) +
             (double)(x >> 48);
  return (s / 65536.0 - 2.0) * 1.7320508075688772;
}

static int fill(void *ud, size_t i, size_t offset, void *dst, size_t nbytes, seer_error *err) {
  rand_ctx *c = ud;
  const rand_entry *r = &c->ents[c->first + i];
  /* Each tensor has its own stream, so shard boundaries do not change any value. */
  if (offset == 0) seer_rng_seed(&c->rng, c->seed ^ (0x9e3779b97f4a7c15ull * (c->first + i + 1)));
  size_t es = seer_dtype_size(r->e.dtype), n = nbytes / es;
  for (size_t k = 0; k < n; k++) {
    float v = (float)(r->base + (r->scale != 0 ? r->scale * fast_normal(&c->rng) : 0));
    switch (r->e.dtype) {
    case SEER_DTYPE_BF16: ((uint16_t *)dst)[k] = seer_f32_to_bf16(v); break;
    case SEER_DTYPE_F16: ((uint16_t *)dst)[k] = seer_f32_to_f16(v); break;
    default: ((float *)dst)[k] = v; break;
    }
  }
  return 0;
}

static int build_entries(const json_t *cfg, const model_cfg *c, const model_prefix *px,
                         seer_dtype dt, rand_entry **out, size_t *count) {
  const seer_model_info *in = &c->info;
  int64_t H = in->hidden_size, I = in->intermediate_size, hd = in->head_dim;
  int64_t qd = (int64_t)in->num_heads * hd, kvd = (int64_t)in->num_kv_heads * hd;
  double std = seer_cfg_num(cfg, "initializer_range", 0.02);
  double nb = c->norm_plus_one ? 0.0 : 1.0; /* Gemma stores w for (1 + w) */
  int qkv_bias = !strcmp(in->architecture, "Qwen2ForCausalLM") ||
                 json_is_true(json_object_get(cfg, "attention_bias"));
  int o_bias = json_is_true(json_object_get(cfg, "attention_bias"));
  rand_entry *v = NULL;
  size_t n = 0, cap = 0;
  char nm[128];
  snprintf(nm, sizeof nm, "%sembed_tokens.weight", px->body);
  int rc = add(&v, &n, &cap, nm, dt, 2, in->vocab_size, H, 0, std);
  for (int l = 0; !rc && l < in->num_layers; l++) {
#define A(suffix, nd, d0, d1, base, sc)                                                            \
  if (!rc) {                                                                                       \
    snprintf(nm, sizeof nm, "%slayers.%d.%s", px->body, l, suffix);                                \
    rc = add(&v, &n, &cap, nm, dt, nd, d0, d1, base, sc);                                          \
  }
    A("input_layernorm.weight", 1, H, 0, nb, 0);
    A("self_attn.q_proj.weight", 2, qd, H, 0, std);
    A("self_attn.k_proj.weight", 2, kvd, H, 0, std);
    A("self_attn.v_proj.weight", 2, kvd, H, 0, std);
    A("self_attn.o_proj.weight", 2, H, qd, 0, std);
    if (qkv_bias) {
      A("self_attn.q_proj.bias", 1, qd, 0, 0, std);
      A("self_attn.k_proj.bias", 1, kvd, 0, 0, std);
      A("self_attn.v_proj.bias", 1, kvd, 0, 0, std);
    }
    if (o_bias) A("self_attn.o_proj.bias", 1, H, 0, 0, std);
    if (c->qk_norm) {
      A("self_attn.q_norm.weight", 1, hd, 0, nb, 0);
      A("self_attn.k_norm.weight", 1, hd, 0, nb, 0);
    }
    A("post_attention_layernorm.weight", 1, H, 0, nb, 0);
    if (c->sandwich_norms) {
      A("pre_feedforward_layernorm.weight", 1, H, 0, nb, 0);
      A("post_feedforward_layernorm.weight", 1, H, 0, nb, 0);
    }
    A("mlp.gate_proj.weight", 2, I, H, 0, std);
    A("mlp.up_proj.weight", 2, I, H, 0, std);
    A("mlp.down_proj.weight", 2, H, I, 0, std);
#undef A
  }
  snprintf(nm, sizeof nm, "%snorm.weight", px->body);
  if (!rc) rc = add(&v, &n, &cap, nm, dt, 1, H, 0, nb, 0);
  if (!rc && !c->tie_embeddings)
    rc = add(&v, &n, &cap, px->lm_head, dt, 2, in->vocab_size, H, 0, std);
  for (size_t i = 0; i < n; i++)
    v[i].e.name = v[i].name;
  *out = v;
  *count = n;
  return rc;
}

static int copy_file(const char *from, const char *to, seer_error *err) {
  FILE *in = fopen(from, "rb");
  if (!in) return seer_error_errno(err, SEER_EIO, errno, "%s: cannot open", from);
  FILE *out = fopen(to, "wb");
  if (!out) {
    fclose(in);
    return seer_error_errno(err, SEER_EIO, errno, "%s: cannot create", to);
  }
  char buf[65536];
  size_t k;
  int rc = 0;
  while ((k = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, k, out) != k) rc = seer_error_errno(err, SEER_EIO, errno, "%s: write", to);
  fclose(in);
  if (fclose(out) != 0 && !rc) rc = seer_error_errno(err, SEER_EIO, errno, "%s: write", to);
  return rc;
}

int seer_model_create_random(const char *config_path, const char *out_dir, seer_dtype dtype,
                             uint64_t seed, seer_error *err) {
  if (!seer_dtype_is_float(dtype))
    return seer_errorf(err, SEER_EINVAL, "create-random: dtype must be bf16, f16 or f32");
  json_error_t jerr;
  json_t *cfg = json_load_file(config_path, 0, &jerr);
  if (!cfg)
    return seer_errorf(err, SEER_EFORMAT, "%s: invalid JSON (line %d column %d: %s)", config_path,
                       jerr.line, jerr.column, jerr.text);
  model_cfg c;
  memset(&c, 0, sizeof c);
  const seer_arch *arch;
  rand_entry *ents = NULL;
  size_t n = 0;
  char path[4096];
  json_t *index = NULL;
  /* A wrapped (multimodal) config gets its language model only, under the language model's
   * prefix as transformers v4 saves it; the vision tower is left out. */
  json_t *text = NULL;
  int wrapped = 0;
  int rc = seer_model_unwrap_config(cfg, config_path, &text, &wrapped, err);
  if (rc) goto done;
  json_decref(cfg);
  cfg = text;
  model_prefix px = {"model.", "lm_head.weight"};
  if (wrapped) px = (model_prefix){"language_model.model.", "language_model.lm_head.weight"};
  rc = seer_model_config_parse(cfg, config_path, &c, &arch, err);
  if (rc) goto done;
  if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
    rc = seer_error_errno(err, SEER_EIO, errno, "%s: cannot create", out_dir);
    goto done;
  }
  snprintf(path, sizeof path, "%s/config.json", out_dir);
  if ((rc = copy_file(config_path, path, err))) goto done;
  if (build_entries(cfg, &c, &px, dtype, &ents, &n)) {
    rc = seer_errorf(err, SEER_ENOMEM, "create-random: out of memory");
    goto done;
  }
  /* Greedy shards of at most SHARD_BYTES (a lone larger tensor gets its own shard). */
  size_t total = 0, nshards = 0, acc = 0;
  for (size_t i = 0; i < n; i++) {
    size_t b = entry_bytes(&ents[i].e);
    if (i == 0 || (acc + b > SHARD_BYTES && acc > 0)) nshards++, acc = 0;
    acc += b;
    total += b;
  }
  rand_ctx ctx = {ents, 0, seed, {{0}}};
  if (nshards == 1) {
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    seer_st_entry *es = malloc(n * sizeof *es);
    if (!es) {
      rc = seer_errorf(err, SEER_ENOMEM, "create-random: out of memory");
      goto done;
    }
    for (size_t i = 0; i < n; i++)
      es[i] = ents[i].e;
    rc = seer_st_write(path, n, es, fill, &ctx, err);
    free(es);
    goto done;
  }
  index = json_pack("{s:{s:I},s:{}}", "metadata", "total_size", (json_int_t)total, "weight_map");
  json_t *wm = json_object_get(index, "weight_map");
  size_t i = 0;
  for (size_t s = 1; !rc && s <= nshards; s++) {
    size_t first = i;
    acc = 0;
    while (i < n && (i == first || acc + entry_bytes(&ents[i].e) <= SHARD_BYTES))
      acc += entry_bytes(&ents[i++].e);
    char fname[64];
    snprintf(fname, sizeof fname, "model-%05zu-of-%05zu.safetensors", s, nshards);
    snprintf(path, sizeof path, "%s/%s", out_dir, fname);
    seer_st_entry *es = malloc((i - first) * sizeof *es);
    if (!es) {
      rc = seer_errorf(err, SEER_ENOMEM, "create-random: out of memory");
      break;
    }
    for (size_t k = first; k < i; k++) {
      es[k - first] = ents[k].e;
      json_object_set_new(wm, ents[k].name, json_string(fname));
    }
    ctx.first = first;
    rc = seer_st_write(path, i - first, es, fill, &ctx, err);
    free(es);
  }
  if (!rc) {
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", out_dir);
    if (json_dump_file(index, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
      rc = seer_errorf(err, SEER_EIO, "%s: cannot write", path);
  }
done:
  json_decref(index);
  free(ents);
  seer_model_config_free(&c);
  json_decref(cfg);
  return rc;
}
