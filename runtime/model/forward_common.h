/* forward_common.h: what the CPU engine (forward.c) and the device engine (device_forward.c) share:
 * checking a call and laying out its rows (padding, positions), and running hooks on a storage. */
#ifndef SEER_MODEL_FORWARD_COMMON_H
#define SEER_MODEL_FORWARD_COMMON_H

#include "model_internal.h"

/* One call's rows: B rows of T tokens (left-padded), row-major [B][T]. */
typedef struct seer_fwd_rows {
  int64_t B, T, start; /* rows, tokens per row in this chunk, sequence index of the first */
  const int64_t *pad;  /* per row: indices below are padding (the cache's, or pad_local) */
  int64_t *pad_local;
  int64_t *pos; /* [B*T]: positions count real tokens only, as HF's cumsum(mask) - 1 */
} seer_fwd_rows;

/* Checks the call (batch, cache, token ids) and fills rows; on a cache's first chunk it records
 * the padding in the cache. Free with seer_fwd_rows_free. */
int seer_fwd_rows_init(seer_model *m, seer_kv_cache *cache, size_t batch, const int32_t *const *ids,
                       const size_t *lens, const seer_forward_opts *opts, seer_fwd_rows *r,
                       seer_error *err);
void seer_fwd_rows_free(seer_fwd_rows *r);

/* Where hooks run: the call's model, options and chunk. */
typedef struct seer_hook_site {
  seer_model *m;
  const seer_forward_opts *opts;
  int decode;
  int64_t B, T, start;
  seer_error *err;
} seer_hook_site;

/* Whether any persistent or per-call hook is registered at p. */
int seer_hooks_any(const seer_hook_site *s, seer_hook_point p);
/* Runs the hooks at p on views of st ([shape], batched; without the rows dim otherwise), the
 * persistent ones first; a replacement tensor is copied into st when writable. */
int seer_hooks_run(const seer_hook_site *s, seer_hook_point p, seer_storage *st, int nd,
                   const int64_t *shape, int writable);

#endif
