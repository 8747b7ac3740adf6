/* device_engine.h: the model engine on a CUDA device (runtime/model/device_forward.c). The CPU
 * engine calls in here only where a model was loaded with device = "cuda": after loading, to
 * upload the weights; at the top of seer_model_forward; and when freeing models and caches. */
#ifndef SEER_MODEL_DEVICE_ENGINE_H
#define SEER_MODEL_DEVICE_ENGINE_H

#include "model_internal.h"

/* Uploads m's weights to GPU `index` (or to the grid emulator when $SEER_CUDA_EMULATE is 1),
 * converted to wdtype (a float seer_dtype), or as stored when wdtype is -1. */
int seer_device_attach(seer_model *m, int index, int wdtype, seer_error *err);
void seer_device_detach(seer_model *m);
void seer_device_kv_free(seer_kv_cache *c);
int seer_device_forward(seer_model *m, seer_kv_cache *cache, size_t batch,
                        const int32_t *const *ids, const size_t *lens,
                        const seer_forward_opts *opts, seer_forward_out *out, seer_error *err);
/* The decode graph's counters (tests, tools): graphs captured for m's decode step so far (a hooked
 * step's segments count as one), and graph launches on its GPU (each decode step through a graph,
 * or each of its segments with hooks, the launches right after a capture included). */
void seer_device_graph_counts(const seer_model *m, uint64_t *captures, uint64_t *launches);
/* Host-to-device copies on m's GPU so far (tests: one per decode step, its inputs). */
uint64_t seer_device_uploads(const seer_model *m);

#endif
