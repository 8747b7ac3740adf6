/* Model engine: load HF causal LMs (Llama/Mistral, Gemma 1-3 text, Qwen 2-3) from safetensors and
 * run forward passes, hooks, KV-cached generation and batches, exact against HF transformers.
 * Layer ids are 0-based, as in HF module names. */
#ifndef SEER_MODEL_H
#define SEER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "seer/error.h"
#include "seer/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seer_model seer_model;
typedef struct seer_kv_cache seer_kv_cache;

typedef struct seer_model_opts {
  seer_device device; /* SEER_DEVICE_CPU, or SEER_DEVICE_CUDA (runtime/model/device_forward.c) */
  int threads;        /* 0: keep the current pool size (nproc by default) */
  int device_index;   /* which GPU, for SEER_DEVICE_CUDA */
  /* Weights on the device: NULL or "auto" as stored, or "f32", "bf16", "f16" (converted while
   * uploading, rounding to nearest even). Only for SEER_DEVICE_CUDA. */
  const char *device_dtype;
} seer_model_opts;

/* Resolved configuration, after defaults and v4/v5 spellings are applied. */
typedef struct seer_model_info {
  char architecture[64]; /* e.g. "LlamaForCausalLM" */
  char model_type[32];
  int num_layers, hidden_size, vocab_size, intermediate_size;
  int num_heads, num_kv_heads, head_dim;
  int max_position_embeddings;
  int sliding_window; /* 0 when no layer slides */
  seer_dtype dtype;   /* dtype of the weights as stored (they stay in it) */
  seer_device device;
  int bos_token_id, pad_token_id; /* -1 when absent */
  int eos_token_ids[8];
  int num_eos;
} seer_model_info;

/* Loads a model directory (config.json + model.safetensors or a shard index). */
int seer_model_load(const char *dir, const seer_model_opts *opts, seer_model **out,
                    seer_error *err);
void seer_model_free(seer_model *m);
const seer_model_info *seer_model_get_info(const seer_model *m);
/* config.json as read (text), for bindings that expose it as a table. */
const char *seer_model_config_json(const seer_model *m);
/* "LlamaForCausalLM, MistralForCausalLM, ..." */
const char *seer_model_supported_architectures(void);
/* 1 when layer i uses sliding-window attention. */
int seer_model_layer_is_sliding(const seer_model *m, int layer);
/* Bytes of weight data the model reads per token (for bandwidth figures). */
size_t seer_model_weight_bytes(const seer_model *m);

/* ---- hooks ---- */
typedef enum seer_hook_kind {
  SEER_HOOK_EMBED,      /* "embed": embedding output (after Gemma's scaling) */
  SEER_HOOK_LAYER,      /* "layers.<i>": decoder layer output (the residual after it) */
  SEER_HOOK_ATTN,       /* "layers.<i>.attn": attention block output before the residual add */
  SEER_HOOK_MLP,        /* "layers.<i>.mlp": MLP block output before the residual add */
  SEER_HOOK_FINAL_NORM, /* "final_norm": final norm output */
  /* "layers.<i>.attn.heads": each head's attention output before the output projection,
   * [T, heads * head_dim] (head h in columns h*head_dim ...); may be changed like the others */
  SEER_HOOK_ATTN_HEADS,
  /* "layers.<i>.attn.weights": the softmax weights, [heads, T, keys] (keys = position of the first
   * token + T: key j is sequence position j; masked keys are 0); read-only */
  SEER_HOOK_ATTN_WEIGHTS
} seer_hook_kind;

typedef struct seer_hook_point {
  seer_hook_kind kind;
  int layer; /* -1 for embed and final_norm */
} seer_hook_point;

/* Parses "embed", "layers.3", "layers.3.attn", "layers.3.mlp", "final_norm"; checks the layer. */
int seer_model_parse_hook_point(const seer_model *m, const char *s, seer_hook_point *out,
                                seer_error *err);

typedef struct seer_hook_ctx {
  seer_hook_point point;
  const char *name;   /* canonical point name, e.g. "layers.3.attn" */
  int decode;         /* 0: prefill, 1: decode step */
  int64_t position;   /* sequence index of the first token in this chunk */
  int64_t num_tokens; /* tokens per row in this chunk */
} seer_hook_ctx;

/* h is an f32 view of the activations: [B, T, H] for batched calls, [T, H] otherwise. The hook may
 * change it in place, or set *replacement to a new tensor of the same shape (any float dtype; the
 * engine takes the reference). A non-zero return aborts the forward with err's message; the model
 * and its persistent hooks stay usable. */
typedef int (*seer_hook_fn)(void *ud, seer_tensor *h, const seer_hook_ctx *ctx,
                            seer_tensor **replacement, seer_error *err);

typedef struct seer_hook {
  seer_hook_point point;
  seer_hook_fn fn;
  void *ud;
} seer_hook;

/* Persistent hooks run before per-call hooks at the same point, in the order added. free_ud (may be
 * NULL) runs on ud when the hook is removed or the model freed. Returns a handle > 0, or < 0. */
int seer_model_add_hook(seer_model *m, seer_hook_point point, seer_hook_fn fn, void *ud,
                        void (*free_ud)(void *ud), seer_error *err);
int seer_model_remove_hook(seer_model *m, int handle);

/* ---- forward ---- */
typedef enum seer_logits_mode {
  SEER_LOGITS_ALL,
  SEER_LOGITS_LAST,
  SEER_LOGITS_NONE
} seer_logits_mode;

typedef struct seer_forward_opts {
  int hidden_states; /* return hidden states */
  seer_logits_mode logits;
  const seer_hook *hooks; /* per-call hooks */
  size_t num_hooks;
  int batched; /* 1: outputs and hook views keep the leading batch dim */
} seer_forward_opts;

typedef struct seer_forward_out {
  seer_tensor *logits; /* [B,T,V] (ALL) or [B,V] (LAST); without B when not batched */
  /* [L+1, B, T, H], or [L+1, T, H]; [L] is the final-norm output. As in HF, each entry is recorded
   * as its module produced it, before hooks at that point change it; what hooks do shows up in
   * every later entry and in the logits. */
  seer_tensor *hidden_states;
} seer_forward_out;

void seer_forward_out_free(seer_forward_out *o);

/* The model's readout of a hidden state h [..., H] (any dtype): the final norm when apply_norm,
 * then the unembedding and the final logit softcap, as at the end of a forward pass. Returns f32
 * logits [..., V]. For the logit lens: hidden_states[L] is already normed (pass 0); earlier
 * entries need the norm (pass 1). unembed.c. */
seer_tensor *seer_model_unembed(seer_model *m, const seer_tensor *h, int apply_norm,
                                seer_error *err);

/* Runs rows ids[b][0..lens[b]) (left-padded to the longest, with an attention mask, positions
 * counted from each row's first real token). With a cache, the call continues the cached
 * sequences: the first call may have ragged rows, later calls must give every row the same
 * number of new tokens. cache may be NULL for a stateless forward. */
int seer_model_forward(seer_model *m, seer_kv_cache *cache, size_t batch, const int32_t *const *ids,
                       const size_t *lens, const seer_forward_opts *opts, seer_forward_out *out,
                       seer_error *err);

/* A KV cache for `batch` rows. Sliding-window layers keep only their window. */
seer_kv_cache *seer_kv_cache_new(seer_model *m, size_t batch, seer_error *err);
void seer_kv_cache_free(seer_kv_cache *c);
/* Tokens (per row, padding included) held so far. */
int64_t seer_kv_cache_length(const seer_kv_cache *c);
/* Bytes currently allocated for keys and values. */
size_t seer_kv_cache_bytes(const seer_kv_cache *c);

/* ---- generation ---- */
typedef enum seer_finish_reason { SEER_FINISH_LENGTH = 0, SEER_FINISH_STOP = 1 } seer_finish_reason;

/* Called for each new token of each row. SEER_GENERATE_STOP_ROW finishes that row (finish reason
 * "stop", e.g. a stop string was completed); a negative return aborts generation with err's
 * message; 0 goes on. */
#define SEER_GENERATE_STOP_ROW 1
typedef int (*seer_token_fn)(void *ud, size_t row, int32_t token, seer_error *err);

typedef struct seer_generate_opts {
  int max_new_tokens;
  double temperature; /* 0: greedy */
  int top_k;          /* 0: off */
  double top_p;       /* 1 (or 0): off */
  uint64_t seed;
  const int32_t *stop; /* stop ids (the model's eos ids are not added implicitly) */
  size_t num_stop;
  const seer_hook *hooks; /* active in prefill and at every decode step */
  size_t num_hooks;
  seer_token_fn on_token;
  void *on_token_ud;
} seer_generate_opts;

typedef struct seer_generate_row {
  int32_t *ids; /* new tokens, the stop token included when one ended the row */
  size_t len;
  seer_finish_reason finish_reason;
} seer_generate_row;

/* rows_out receives `batch` rows (free with seer_generate_rows_free). */
int seer_model_generate(seer_model *m, size_t batch, const int32_t *const *ids, const size_t *lens,
                        const seer_generate_opts *opts, seer_generate_row **rows_out,
                        seer_error *err);
void seer_generate_rows_free(seer_generate_row *rows, size_t batch);

/* ---- random-weight models ---- */
/* Writes config.json (copied) and model.safetensors (or shards over 2 GB plus
 * model.safetensors.index.json) with seeded random weights for any supported config.
 * dtype: SEER_DTYPE_BF16, SEER_DTYPE_F16 or SEER_DTYPE_F32. out_dir is created if missing. */
int seer_model_create_random(const char *config_path, const char *out_dir, seer_dtype dtype,
                             uint64_t seed, seer_error *err);

#ifdef __cplusplus
}
#endif
#endif
