/* device_graph.h: what lets a device model's decode step run as CUDA graphs
 * (runtime/model/device_graph.c): a workspace of activation buffers kept across calls, so that a
 * captured graph's pointers stay valid, the packing of a call's inputs into it, and a decode graph
 * (one segment, or one per stretch between hook points with hooks) with what it was captured for.
 * device_forward.c decides when to capture and replay. */
#ifndef SEER_MODEL_DEVICE_GRAPH_H
#define SEER_MODEL_DEVICE_GRAPH_H

#include <stdint.h>

#include "../cuda/gpu.h"
#include "forward_common.h"
#include "seer/model.h"

/* The buffers of one forward call: activations rows-major [B][T] as in forward.c, the LoRA side
 * paths' scratch (empty without an unmerged adapter), the bf16 hi and lo parts of a GEMM's
 * activations (gpu.h's split GEMM; empty below its rows), attention's scores past what shared
 * memory holds and its softmax weights for attn.weights hooks (device_attention.h; each empty when
 * not needed), and the inputs uploaded per call in one copy (dev_inputs_layout): the step counter
 * (the cache length before the
 * call, read by the attention kernels), positions, left padding and token ids. */
enum {
  DEV_X,
  DEV_XN,
  DEV_Q,
  DEV_K,
  DEV_V,
  DEV_ATT,
  DEV_O,
  DEV_GT,
  DEV_UP,
  DEV_LG,
  DEV_LORA,
  DEV_SPLIT,
  DEV_SCORES,
  DEV_ATTW,
  DEV_IN,
  DEV_NBUF
};

/* Where the inputs sit in DEV_IN, in bytes, for R rows of a batch of B: the step counter (int64)
 * first, so a test can upload everything after it; then positions (int64 [R]), padding (int64 [B])
 * and token ids (int32 [R]), the 8-byte values first to keep each aligned. The offsets depend on R
 * and B only, so a graph captured for a batch finds them where they were. */
typedef struct dev_inputs {
  size_t step, pos, pad, tok, bytes;
} dev_inputs;
dev_inputs dev_inputs_layout(int64_t R, int64_t B);

/* Buffers kept across unhooked calls, grown (never shrunk) when a call needs more; gen changes
 * whenever one moves, which invalidates a graph captured over the old ones. */
typedef struct dev_workspace {
  uint64_t p[DEV_NBUF];
  size_t bytes[DEV_NBUF];
  uint64_t gen;
} dev_workspace;

int dev_workspace_reserve(seer_gpu *g, dev_workspace *ws, const size_t need[DEV_NBUF],
                          seer_error *err);
void dev_workspace_free(seer_gpu *g, dev_workspace *ws);

/* A decode step's hook points as indices into a flag array of dev_hook_points(nlayers) entries:
 * embed, final_norm, then each layer's attn.weights, attn.heads, attn, mlp and output. */
int dev_hook_points(int nlayers);
int dev_hook_index(seer_hook_point p);
/* The flags for the hook points where site has hooks (malloc'd; NULL and err set when out of
 * memory). */
uint8_t *dev_hook_flags(const seer_hook_site *site, int nlayers, seer_error *err);

/* What a decode graph was captured for: the batch, the logits mode, the workspace generation,
 * every layer's cache buffers and capacity, the hook points with hooks (hooked[i] for
 * dev_hook_index i; NULL: none) and the LoRA adapters' generation (seer_lora_generation: the
 * graph holds the active adapter's side-path launches, or their absence, and the weights it
 * reads, so switching, disabling, merging, unmerging or deleting an adapter re-captures). Anything
 * else a step changes (token ids, positions, padding, the step counter) is uploaded into the
 * workspace before the replay. */
typedef struct dev_graph_key {
  int64_t B;
  int mode; /* seer_logits_mode */
  uint64_t ws_gen;
  int nlayers;
  const uint64_t *k, *v;
  const int64_t *cap;
  const uint8_t *hooked;
  uint64_t lora_gen;
} dev_graph_key;

/* A decode step's launches as graph segments: one without hooks, else one more than the hook
 * points with hooks, which run on the host between two segments. */
typedef struct dev_graph {
  seer_gpu_graph **segs;
  int nsegs, capsegs;
  int complete; /* every segment captured: replays may use it */
  int64_t B;
  int mode;
  uint64_t ws_gen;
  int nlayers;
  uint64_t *kv;    /* [3][nlayers]: k, v, cap */
  uint8_t *hooked; /* NULL: no hooks */
  uint64_t lora_gen;
} dev_graph;

/* Whether dg holds a complete graph captured for key. */
int dev_graph_matches(const dev_graph *dg, const dev_graph_key *key);
/* Starts dg over for a capture for key: its old segments go, the new ones are added one by one
 * (dev_graph_add owns seg after, even on error) and dev_graph_matches holds once complete is set.
 */
int dev_graph_begin(seer_gpu *g, dev_graph *dg, const dev_graph_key *key, seer_error *err);
int dev_graph_add(seer_gpu *g, dev_graph *dg, seer_gpu_graph *seg, seer_error *err);
void dev_graph_clear(seer_gpu *g, dev_graph *dg);

/* $SEER_CUDA_GRAPHS: "0" runs every launch directly (decode without graphs); read per call. */
int dev_graphs_enabled(void);

#endif
