/* device_lora.c: LoRA adapters on a device = "cuda" model: device copies of what the forward pass
 * reads, kept in step with lora.c (which owns the adapters and calls in here), and the forward
 * pass's view of them (device_forward.c runs the side path). An adapter's A and B go up when it is
 * loaded (the model is on the device from its load on, so there is no later upload), as f32: the
 * CPU engine holds them as f32 and multiplies in f32, so the device runs the same arithmetic on
 * the same values, and they are small (r·(in + out) floats per target). modules_to_save weights go
 * up at load too and merge_adapter's merged copies when merged (both in the device's weight dtype,
 * as the base weights they replace); unmerging, deleting or freeing the adapter frees them. */
#include "lora_internal.h"

static void free_mat(seer_model *m, lora_mat *lm) {
  seer_device_free(m, lm->dev_A);
  seer_device_free(m, lm->dev_B);
  seer_device_free(m, lm->dev_saved.p);
  seer_device_free(m, lm->dev_merged.p);
  lm->dev_A = lm->dev_B = 0;
  lm->dev_saved = lm->dev_merged = (dev_w){0, 0};
}

int seer_device_lora_load(seer_model *m, lora_adapter *a, seer_error *err) {
  size_t n = lora_slot_count(m);
  for (size_t i = 0; i < n; i++) {
    lora_mat *lm = &a->mats[i];
    int rc = 0;
    if (lm->A &&
        ((rc = seer_device_upload_f32(m, lm->A, (size_t)(lm->r * lm->in), &lm->dev_A, err)) ||
         (rc = seer_device_upload_f32(m, lm->B, (size_t)(lm->out * lm->r), &lm->dev_B, err))))
      return rc;
    if (lm->saved.t && (rc = seer_device_upload_weight(m, &lm->saved, &lm->dev_saved, err)))
      return rc;
  }
  return 0;
}

void seer_device_lora_free(seer_model *m, lora_adapter *a) {
  size_t n = lora_slot_count(m);
  for (size_t i = 0; i < n; i++)
    free_mat(m, &a->mats[i]);
}

int seer_device_lora_merge(seer_model *m, lora_adapter *a, seer_error *err) {
  size_t n = lora_slot_count(m);
  for (size_t i = 0; i < n; i++) {
    lora_mat *lm = &a->mats[i];
    int rc = lm->merged.t ? seer_device_upload_weight(m, &lm->merged, &lm->dev_merged, err) : 0;
    if (rc) return rc;
  }
  return 0;
}

void seer_device_lora_unmerge(seer_model *m, lora_adapter *a) {
  size_t n = lora_slot_count(m);
  for (size_t i = 0; i < n; i++) {
    seer_device_free(m, a->mats[i].dev_merged.p);
    a->mats[i].dev_merged = (dev_w){0, 0};
  }
}

const dev_w *seer_device_lora_weight(const seer_model *m, int layer, lora_slot slot,
                                     const dev_w *base) {
  if (!m->lora || !m->lora->active) return base;
  const lora_mat *lm = &m->lora->active->mats[lora_slot_index(m, layer, slot)];
  if (lm->dev_saved.p) return &lm->dev_saved;
  if (m->lora->merged && lm->dev_merged.p) return &lm->dev_merged;
  return base;
}

const lora_mat *seer_device_lora_side(const seer_model *m, int layer, lora_slot slot) {
  if (!m->lora || !m->lora->active || m->lora->merged) return NULL;
  const lora_mat *lm = &m->lora->active->mats[lora_slot_index(m, layer, slot)];
  return lm->dev_A ? lm : NULL;
}

int64_t seer_device_lora_scratch(const seer_model *m) {
  if (!m->lora || !m->lora->active || m->lora->merged || !m->lora->active->num_targets) return 0;
  return m->lora->active->r_max + m->lora->active->out_max;
}
