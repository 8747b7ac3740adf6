/* cache.c: owns the KV cache: per layer f32 keys and values laid out [row][kv head][slot][dim];
 * full-attention layers grow with the sequence, sliding layers are rings of one window. */
#include <stdlib.h>
#include <string.h>

#include "device_engine.h"
#include "model_internal.h"

seer_kv_cache *seer_kv_cache_new(seer_model *m, size_t batch, seer_error *err) {
  if (batch < 1) {
    seer_errorf(err, SEER_EINVAL, "kv cache: batch must be at least 1");
    return NULL;
  }
  seer_kv_cache *c = calloc(1, sizeof *c);
  int L = m->cfg.info.num_layers;
  if (c) {
    c->layers = calloc((size_t)L, sizeof *c->layers);
    c->pad = calloc(batch, sizeof *c->pad);
  }
  if (!c || !c->layers || !c->pad) {
    seer_kv_cache_free(c);
    seer_errorf(err, SEER_ENOMEM, "kv cache: out of memory");
    return NULL;
  }
  c->m = m;
  c->batch = batch;
  for (int i = 0; i < L; i++)
    c->layers[i].ring = m->layers[i].sliding;
  return c;
}

void seer_kv_cache_free(seer_kv_cache *c) {
  if (!c) return;
  seer_device_kv_free(c);
  if (c->layers)
    for (int i = 0; i < c->m->cfg.info.num_layers; i++) {
      free(c->layers[i].k);
      free(c->layers[i].v);
    }
  free(c->layers);
  free(c->pad);
  free(c);
}

int64_t seer_kv_cache_length(const seer_kv_cache *c) { return c->len; }

size_t seer_kv_cache_bytes(const seer_kv_cache *c) {
  const seer_model_info *in = &c->m->cfg.info;
  size_t per_slot = c->batch * (size_t)in->num_kv_heads * (size_t)in->head_dim * sizeof(float) * 2;
  size_t n = 0;
  for (int i = 0; i < in->num_layers; i++)
    n += (size_t)c->layers[i].cap * per_slot;
  return n;
}

/* Re-lays a layer out with a new slot count, keeping existing slots. */
static int grow(seer_kv_cache *c, kv_layer *kv, int64_t cap, seer_error *err) {
  const seer_model_info *in = &c->m->cfg.info;
  int64_t rows = (int64_t)c->batch * in->num_kv_heads, hd = in->head_dim;
  float *nk = calloc((size_t)(rows * cap * hd), sizeof(float));
  float *nv = calloc((size_t)(rows * cap * hd), sizeof(float));
  if (!nk || !nv) {
    free(nk);
    free(nv);
    return seer_errorf(err, SEER_ENOMEM, "kv cache: out of memory growing to %lld tokens",
                       (long long)cap);
  }
  for (int64_t r = 0; kv->k && r < rows; r++) {
    memcpy(nk + r * cap * hd, kv->k + r * kv->cap * hd, sizeof(float) * (size_t)(kv->cap * hd));
    memcpy(nv + r * cap * hd, kv->v + r * kv->cap * hd, sizeof(float) * (size_t)(kv->cap * hd));
  }
  free(kv->k);
  free(kv->v);
  kv->k = nk;
  kv->v = nv;
  kv->cap = cap;
  return 0;
}

int seer_kv_cache_reserve(seer_kv_cache *c, int64_t new_len, seer_error *err) {
  int64_t W = c->m->cfg.info.sliding_window;
  for (int i = 0; i < c->m->cfg.info.num_layers; i++) {
    kv_layer *kv = &c->layers[i];
    /* A ring of W slots holds every key a query can still see (keys above q - W). Rings grow like
     * full layers until they reach W: before the first wrap, slot = index, so growing keeps every
     * key in its slot. */
    int64_t want = kv->ring && new_len > W ? W : new_len;
    if (kv->cap >= want) continue;
    int64_t cap = kv->cap ? kv->cap : 64;
    while (cap < want)
      cap *= 2;
    if (kv->ring && cap > W) cap = W;
    int rc = grow(c, kv, cap, err);
    if (rc) return rc;
  }
  return 0;
}
