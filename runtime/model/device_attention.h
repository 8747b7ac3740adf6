/* device_attention.h: the host side of the device engine's attention (runtime/model/
 * device_attention.c): how one layer's keys go into the device KV cache and its queries attend
 * over it (attention.cu's kernels), which launches that takes, and the workspace it needs (global
 * scores past what shared memory holds, the softmax weights attn.weights hooks read).
 * device_forward.c calls it once per layer. Not installed. */
#ifndef SEER_MODEL_DEVICE_ATTENTION_H
#define SEER_MODEL_DEVICE_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "../cuda/gpu.h"
#include "model_internal.h"

/* The keys whose scores fit in dynamic shared memory: 48 KiB, what every sm_80+ launch gets
 * without opting in. Longer attention keeps its scores in global memory (DEV_SCORES). */
#define DEV_ATTN_SHARED_KEYS (48 * 1024 / 4)

/* How device_forward.c launches a kernel (its graph capture and replay decide what that means). */
typedef int (*dev_launch_fn)(void *ctx, seer_gpu_kernel k, unsigned gx, unsigned gy, unsigned gz,
                             unsigned threads, size_t smem, const void *args);

/* One forward call's attention, for every layer: rows [B][T] as in forward.c, the cache holding
 * positions [0, start) before the call. */
typedef struct dev_attn {
  const seer_model *m;
  int64_t B, T, start;
  int graphed;        /* the launches serve every decode step over this cache (a graph's) */
  uint64_t q, k, v;   /* the call's rotated queries, keys and values */
  uint64_t out;       /* each head's output, [B][T][heads][head_dim] */
  uint64_t pad, step; /* the call's inputs on the device: left padding, the start position */
  uint64_t scores;    /* global scores, dev_attn_scores_bytes of them */
  dev_launch_fn launch;
  void *ctx;
  seer_error *err;
} dev_attn;

/* The layer's cache buffers and slots on the device. */
typedef struct dev_attn_cache {
  uint64_t k, v;
  int64_t cap;
} dev_attn_cache;

/* Stores layer li's keys and values in the cache and attends from them. weights, when set, gets
 * the softmax weights as forward.c gives attn.weights hooks ([B][heads][T][start + T]). */
int dev_attend(const dev_attn *a, int li, dev_attn_cache kv, uint64_t weights);

/* The workspace the call's attention needs: global scores (0 while every layer's fit in shared
 * memory; caps: each layer's cache capacity), and room for the softmax weights of one layer. A
 * graphed call's weights get room for the next steps too, so a graph is not re-captured each step.
 */
size_t dev_attn_scores_bytes(const seer_model *m, int64_t B, int64_t T, int64_t start,
                             const int64_t *caps, int graphed);
size_t dev_attn_weights_bytes(const seer_model *m, int64_t B, int64_t T, int64_t start,
                              int graphed);

/* The keys past which attention keeps its scores in global memory: DEV_ATTN_SHARED_KEYS unless a
 * test lowered it (seer_device_set_attn_shared_keys). */
int64_t dev_attn_shared_keys(const seer_model *m);

#endif
