/* lora_internal.h: the engine's private view of LoRA adapters: the parsed adapter_config.json
 * (lora_config.c), the adapters held by a model and the two calls the forward pass makes into them
 * (lora.c), and their copies on a device = "cuda" model (device_lora.c). Not installed. */
#ifndef SEER_LORA_INTERNAL_H
#define SEER_LORA_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "device_engine.h"
#include "model_internal.h"
#include "seer/lora.h"

/* The modules an adapter can touch: the seven projections of each decoder layer, then the two
 * whole-model matrices (layer -1). */
typedef enum lora_slot {
  LORA_Q,
  LORA_K,
  LORA_V,
  LORA_O,
  LORA_GATE,
  LORA_UP,
  LORA_DOWN,
  LORA_LAYER_SLOTS,
  LORA_EMBED = LORA_LAYER_SLOTS,
  LORA_LM_HEAD,
  LORA_ALL_SLOTS
} lora_slot;

/* ---- lora_config.c ---- */
typedef struct lora_pattern {
  pcre2_code *re; /* (.*\.)?(key)$ */
  double value;
} lora_pattern;

typedef struct lora_cfg {
  json_t *root;
  const char *path;
  const char *base_model; /* "" when absent */
  int r;
  double alpha;
  int rslora;
  const char *target_list_all_linear; /* non-NULL for target_modules "all-linear" */
  json_t *target_list;                /* array of names, or NULL */
  pcre2_code *target_re;              /* target_modules as a regex (full match), or NULL */
  json_t *exclude_list;
  pcre2_code *exclude_re;
  int *layers; /* layers_to_transform, or NULL */
  size_t num_layers;
  pcre2_code **layer_res; /* layers_pattern regexes, or NULL */
  size_t num_layer_res;
  pcre2_code *any_layer_re; /* PEFT's default layer index pattern */
  lora_pattern *rank_pats, *alpha_pats;
  size_t num_rank_pats, num_alpha_pats;
  json_t *modules_to_save;   /* array, or NULL */
  pcre2_match_context *mctx; /* bounds the work of one match (the regexes come from the file) */
  int regex_failed;          /* a match hit that bound: the adapter is refused */
} lora_cfg;

/* Reads and validates an adapter_config.json (path names it in errors and must outlive c). */
int lora_cfg_load(const char *path, lora_cfg *c, seer_error *err);
int lora_cfg_parse(const char *text, size_t n, const char *path, lora_cfg *c, seer_error *err);
void lora_cfg_free(lora_cfg *c);
/* Whether PEFT would put a LoRA layer on module `name` (e.g. "model.layers.3.self_attn.q_proj");
 * `linear` is 1 for the projections (which "all-linear" covers). */
int lora_cfg_is_target(lora_cfg *c, const char *name, int linear);
/* The rank and alpha for a target, after rank_pattern and alpha_pattern. */
void lora_cfg_rank_alpha(lora_cfg *c, const char *name, int *r, double *alpha);
/* Whether module `name` is in modules_to_save (its name ends with an entry). */
int lora_cfg_saves(const lora_cfg *c, const char *name);

/* ---- lora.c ---- */

/* One slot of an adapter. */
typedef struct lora_mat {
  float *A, *B; /* [r, in] and [out, r]; NULL when the slot has no LoRA */
  int r;
  int64_t in, out;
  float scale;    /* the side path multiplies in f32, as PEFT's f32 tensor * Python float does */
  double scale_d; /* the merge works in f64 */
  model_w saved;  /* modules_to_save replacement (saved.t != NULL) */
  model_w merged; /* W + scale·B·A while merged */
  /* On a device model (device_lora.c; 0 elsewhere): A and B, and the saved and merged weights in
   * the device's weight dtype. */
  uint64_t dev_A, dev_B;
  dev_w dev_saved, dev_merged;
} lora_mat;

typedef struct lora_adapter {
  char name[SEER_ADAPTER_NAME_MAX];
  char *base_model;
  lora_mat *mats; /* lora_slot_count: num_layers * LORA_LAYER_SLOTS, then embed and lm_head */
  int num_targets, num_saved, r_max;
  int64_t out_max; /* largest output size over the targets */
  size_t bytes;
} lora_adapter;

typedef struct lora_set lora_set;
struct lora_set {
  lora_adapter **list;
  size_t n;
  lora_adapter *active;
  int merged;
  /* Bumped by every change of what a forward pass applies (switching, merging, unmerging,
   * deleting): the device's decode graphs are keyed by it. */
  uint64_t generation;
};

static inline size_t lora_slot_count(const seer_model *m) {
  return (size_t)m->cfg.info.num_layers * LORA_LAYER_SLOTS + 2;
}

static inline size_t lora_slot_index(const seer_model *m, int layer, lora_slot s) {
  if (layer < 0) return (size_t)m->cfg.info.num_layers * LORA_LAYER_SLOTS + (s - LORA_EMBED);
  return (size_t)layer * LORA_LAYER_SLOTS + s;
}

/* Frees every adapter of the model (seer_model_free calls it). */
void seer_lora_free_model(seer_model *m);
/* The weight the forward pass uses for a slot: the active adapter's merged copy or
 * modules_to_save replacement, else `base`. */
const model_w *seer_lora_weight(const seer_model *m, int layer, lora_slot slot,
                                const model_w *base);
/* Adds the active, unmerged adapter's side path for this slot to y [rows, out] (x is [rows, in]).
 * Returns SEER_ENOMEM (with err) when its scratch cannot be allocated. */
int seer_lora_apply(const seer_model *m, int layer, lora_slot slot, const float *x, int64_t rows,
                    float *y, seer_error *err);
/* The adapter state's generation (struct lora_set); 0 while no adapter was ever loaded. */
uint64_t seer_lora_generation(const seer_model *m);

/* ---- device_lora.c: adapters on a device = "cuda" model ---- */
/* Uploads a freshly loaded adapter's A, B and modules_to_save weights; on error the caller frees
 * the adapter (seer_device_lora_free releases what went up). */
int seer_device_lora_load(seer_model *m, lora_adapter *a, seer_error *err);
void seer_device_lora_free(seer_model *m, lora_adapter *a);
/* Uploads the merged copies merge_adapter made on the host; unmerge frees them. */
int seer_device_lora_merge(seer_model *m, lora_adapter *a, seer_error *err);
void seer_device_lora_unmerge(seer_model *m, lora_adapter *a);
/* The device forward pass's view, as seer_lora_weight and seer_lora_apply give the CPU's: the
 * weight a slot uses (the active adapter's saved or merged copy, else base), and the slot's
 * unmerged side path (NULL when none). */
const dev_w *seer_device_lora_weight(const seer_model *m, int layer, lora_slot slot,
                                     const dev_w *base);
const lora_mat *seer_device_lora_side(const seer_model *m, int layer, lora_slot slot);
/* Floats per row of scratch the side paths need (x·Aᵀ, then its product with Bᵀ); 0 when no
 * unmerged adapter is active. */
int64_t seer_device_lora_scratch(const seer_model *m);

#endif
