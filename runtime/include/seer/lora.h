/* LoRA adapters in PEFT's on-disk format (adapter_config.json + adapter_model.safetensors) on a
 * loaded model. An unmerged adapter is a side path in each targeted linear layer,
 * y = x·Wᵀ + scale·(x·Aᵀ)·Bᵀ, holding only A [r, in] and B [out, r] (as f32), so switching adapters
 * on and off costs nothing. Merging copies each targeted matrix once as W + scale·B·A; unmerging
 * drops the copies and returns to the mapped base weights. */
#ifndef SEER_LORA_H
#define SEER_LORA_H

#include <stddef.h>

#include "seer/error.h"
#include "seer/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEER_ADAPTER_NAME_MAX 64

typedef struct seer_adapter_info {
  const char *name;
  const char *base_model; /* adapter_config's base_model_name_or_path, "" when absent */
  int num_targets;        /* matrices with a LoRA side path */
  int num_saved;          /* modules_to_save replacements */
  int r_max;              /* largest rank over the targets */
  size_t bytes;           /* memory the adapter holds (A, B, and modules_to_save copies) */
} seer_adapter_info;

/* Loads the adapter in dir under `name` (1..63 bytes, not loaded yet). Every field of the config
 * is checked against what this engine runs and every tensor against the base model's shapes; an
 * unsupported value is an error naming the field. Does not change the active adapter. */
int seer_model_load_adapter(seer_model *m, const char *dir, const char *name, seer_error *err);
/* Makes `name` the active adapter; NULL disables adapters (base weights). Unmerges first. */
int seer_model_set_adapter(seer_model *m, const char *name, seer_error *err);
/* Name of the active adapter, or NULL. */
const char *seer_model_active_adapter(const seer_model *m);
size_t seer_model_num_adapters(const seer_model *m);
/* Info for adapter i in [0, num_adapters), in load order. Returns SEER_EINVAL when out of range. */
int seer_model_adapter_info(const seer_model *m, size_t i, seer_adapter_info *out);
/* Removes an adapter (deactivating it when active). */
int seer_model_delete_adapter(seer_model *m, const char *name, seer_error *err);
/* Merges the active adapter into copies of its target matrices (in the base weights' dtype), so
 * forward passes no longer take the side path. SEER_ESTATE when no adapter is active. */
int seer_model_merge_adapter(seer_model *m, seer_error *err);
/* Drops the merged copies (a no-op when nothing is merged). */
void seer_model_unmerge_adapter(seer_model *m);
int seer_model_adapter_merged(const seer_model *m);

#ifdef __cplusplus
}
#endif
#endif
