/* device_model.h: a model's state on a CUDA device, shared by the files of the device engine:
 * device_weights.c uploads the weights into it (attach, detach, and the uploads LoRA adapters
 * reuse), device_forward.c runs the forward pass over it. Not installed. */
#ifndef SEER_MODEL_DEVICE_MODEL_H
#define SEER_MODEL_DEVICE_MODEL_H

#include "../cuda/gpu.h"
#include "device_engine.h"
#include "device_graph.h"

typedef struct dev_layer {
  dev_w q, k, v, o, gate, up, down;
  uint64_t q_b, k_b, v_b, o_b, in_norm, attn_post_norm, ff_pre_norm, ff_post_norm, q_norm, k_norm,
      inv_freq;
} dev_layer;

struct seer_model_dev {
  seer_gpu *g;
  int wdtype; /* the weights' dtype on the device; -1: each as stored */
  dev_w embed, lm_head;
  uint64_t final_norm;
  dev_layer *layers;
  uint64_t *owned; /* every allocation, freed at detach */
  size_t nowned, capowned;
  dev_workspace ws; /* the unhooked calls' buffers */
  dev_graph decode; /* the decode step's graph, over ws and one cache's buffers */
  dev_graph hooked; /* the hooked decode step's segments, kept apart so both replay */
  int depth;        /* forward calls under way (a hook may call forward again) */
  uint64_t captures;
  int test_skip_step; /* seer_device_test_skip_step_upload */
  /* Tests only (seer_device_set_attn_test_knobs): the keys past which attention's scores go to
   * global memory (0: DEV_ATTN_SHARED_KEYS), and prefills one position at a time as a ring
   * wrapping needs, so both paths can be compared with the usual ones. */
  int64_t attn_shared_keys;
  int attn_per_position;
};

#endif
