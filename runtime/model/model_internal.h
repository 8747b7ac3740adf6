/* model_internal.h: the engine's private types (resolved config, weights, cache) shared by the
 * config parser, the architecture families, the forward pass and generation. Not installed. */
#ifndef SEER_MODEL_INTERNAL_H
#define SEER_MODEL_INTERNAL_H

#include <jansson.h>

#include "../tensor/cpu.h"
#include "seer/model.h"
#include "seer/safetensors.h"

typedef enum { ACT_SILU, ACT_GELU_TANH, ACT_GELU } model_act;
typedef enum { ROPE_DEFAULT, ROPE_LINEAR, ROPE_LLAMA3 } rope_type;

typedef struct rope_cfg {
  rope_type type;
  double theta;
  double factor, low_freq_factor, high_freq_factor, original_max;
} rope_cfg;

typedef struct model_cfg {
  seer_model_info info;
  double eps;
  int norm_plus_one;  /* Gemma: x * (1 + w) */
  int sandwich_norms; /* Gemma 2/3: post-attention and pre/post-feedforward norms */
  int qk_norm;        /* Qwen3, Gemma 3: RMSNorm on each head of q and k before rope */
  double embed_scale; /* 1, or √H for Gemma */
  model_act act;
  double attn_softcap, final_softcap; /* 0: off */
  double attn_scale;                  /* multiplies q·k */
  int tie_embeddings;
  unsigned char *layer_sliding; /* num_layers entries */
  rope_cfg rope_full, rope_sliding;
} model_cfg;

/* One family: the architectures it serves and its config rules. */
typedef struct seer_arch {
  const char *const *names; /* NULL-terminated architecture names */
  /* Fills the family's flags in c after the common fields are parsed. */
  int (*configure)(const json_t *cfg, model_cfg *c, seer_error *err);
} seer_arch;

extern const seer_arch seer_arch_llama;
extern const seer_arch seer_arch_gemma;
extern const seer_arch seer_arch_qwen;

/* config.c */
int seer_model_config_parse(const json_t *cfg, const char *path, model_cfg *c,
                            const seer_arch **arch, seer_error *err);
void seer_model_config_free(model_cfg *c);
/* Reads an integer/number field with a default; -1 if present but wrong type. */
int seer_cfg_int(const json_t *cfg, const char *key, int def);
double seer_cfg_num(const json_t *cfg, const char *key, double def);
/* Applies "layer_types" when present; returns 1 if it was. */
int seer_cfg_layer_types(const json_t *cfg, model_cfg *c, seer_error *err);
model_act seer_cfg_parse_act(const char *s, int *ok);
/* g[i] = act(g[i]) * u[i] for i < n (activation.c). */
void seer_act_gated(model_act a, float *g, const float *u, int64_t n);

/* A weight: data pointer (mapped) and dtype; tensor keeps the mapping alive. */
typedef struct model_w {
  seer_tensor *t;
  const void *data;
  seer_dtype dtype;
  int64_t rows, cols;
} model_w;

typedef struct layer_w {
  model_w q, k, v, o, gate, up, down;
  float *q_b, *k_b, *v_b, *o_b;    /* biases as f32, NULL when absent */
  float *in_norm, *attn_post_norm; /* norm weights as f32, (1+w) folded in for Gemma */
  float *ff_pre_norm, *ff_post_norm;
  float *q_norm, *k_norm;
  float *inv_freq; /* head_dim/2 rope frequencies for this layer's attention type */
  int sliding;
} layer_w;

typedef struct model_hook_entry {
  int handle;
  seer_hook hook;
  void (*free_ud)(void *);
} model_hook_entry;

/* Weight names: body + "layers.<i>...", body + "embed_tokens.weight", the head's full name. */
typedef struct model_prefix {
  const char *body;
  const char *lm_head;
} model_prefix;

/* A wrapped (multimodal) checkpoint's language-model config as a new reference, or cfg itself
 * (incref'd) when it is not wrapped; *wrapped says which. */
int seer_model_unwrap_config(json_t *cfg, const char *path, json_t **text_out, int *wrapped,
                             seer_error *err);
void seer_model_weight_prefix(const seer_safetensors *st, model_prefix *p);

struct seer_model {
  model_cfg cfg;
  model_prefix prefix;
  char *config_text;
  seer_safetensors *st;
  const seer_backend *be;
  model_w embed, lm_head;
  float *final_norm;
  layer_w *layers;
  model_hook_entry *hooks;
  size_t num_hooks;
  int next_handle;
  size_t weight_bytes;
  struct lora_set *lora;      /* LoRA adapters (lora.c), NULL until one is loaded */
  struct seer_model_dev *dev; /* weights on a GPU when loaded with device = "cuda", else NULL */
};

typedef struct kv_layer {
  float *k, *v; /* [B][nkv][cap][hd] */
  int64_t cap;  /* slots per row and head */
  int ring;     /* sliding: slot = index % cap */
} kv_layer;

struct seer_kv_cache {
  seer_model *m;
  size_t batch;
  int64_t len;  /* sequence indices written so far */
  int64_t *pad; /* left padding per row: indices < pad[b] are masked */
  kv_layer *layers;
  struct seer_kv_dev *dev; /* the cache on the GPU, for a device model */
};

/* cache.c */
int seer_kv_cache_reserve(seer_kv_cache *c, int64_t new_len, seer_error *err);

#endif
