/* lora_internal.h: the engine's private view of LoRA adapters: the parsed adapter_config.json
 * (lora_config.c), the adapters held by a model and the two calls the forward pass makes into them
 * (lora.c). Not installed. */
#ifndef SEER_LORA_INTERNAL_H
#define SEER_LORA_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

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

#endif
