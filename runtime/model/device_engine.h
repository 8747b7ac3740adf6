/* device_engine.h: the model engine on a CUDA device (runtime/model/device_weights.c uploads the
 * weights, device_forward.c runs the forward pass). The CPU
 * engine calls in here only where a model was loaded with device = "cuda": after loading, to
 * upload the weights; at the top of seer_model_forward; when freeing models and caches; and, for
 * LoRA adapters, through device_lora.c (lora_internal.h). */
#ifndef SEER_MODEL_DEVICE_ENGINE_H
#define SEER_MODEL_DEVICE_ENGINE_H

#include "model_internal.h"

/* A weight matrix on the device: its address and kernels.h's SEER_W_* storage type. */
typedef struct dev_w {
  uint64_t p;
  int wtype;
} dev_w;

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
/* Kernel launches on m's GPU so far, those replayed in graphs included (tests: LoRA side paths);
 * and of one kernel, by its id in runtime/cuda/gpu.h's seer_gpu_kernel (tests: which path a
 * projection took). */
uint64_t seer_device_launches(const seer_model *m);
uint64_t seer_device_kernel_launches(const seer_model *m, int kernel);
/* Tests only (the negative control of tests/c/test_cuda_graphs.c): while on, a graph replay leaves
 * the step counter out of its upload, which must break parity. */
void seer_device_test_skip_step_upload(seer_model *m, int on);

/* Tests only: attention keeps its scores in global memory past shared_keys keys (0: the shared
 * memory's DEV_ATTN_SHARED_KEYS), and with per_position prefills run one launch pair per position
 * (the path a wrapping ring takes) instead of one for all; drops the decode graphs, whose launches
 * were planned with the old settings. */
void seer_device_set_attn_test_knobs(seer_model *m, int64_t shared_keys, int per_position);

/* Device memory for what can come and go after loading (LoRA adapters, device_lora.c), owned by
 * the caller, who frees it with seer_device_free before the model is freed: a weight matrix
 * converted to the device's weight dtype as the model's own were, or n floats. */
int seer_device_upload_weight(seer_model *m, const model_w *w, dev_w *out, seer_error *err);
int seer_device_upload_f32(seer_model *m, const float *v, size_t n, uint64_t *out, seer_error *err);
void seer_device_free(seer_model *m, uint64_t p);

#endif
