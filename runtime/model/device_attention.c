/* device_attention.c: the device engine's attention, host side (device_attention.h). Per layer,
 * either
 *   - one kv_store launch for the call's T keys, then one attention launch for its T queries
 *     (grid z = query, each causal over its own positions): when storing them all first
 *     overwrites nothing a query needs (no ring, or a ring the call's positions do not wrap) and
 *     the scores fit in shared memory; or
 *   - a kv_store and an attention launch per position, so that a ring (sliding) layer never
 *     overwrites a key an earlier query of the chunk still needs.
 * Both run the kernel's same per-query arithmetic, so their results are equal bit for bit. Past
 * what shared memory holds (dev_attn_shared_keys), the scores go to global memory, [B][heads][keys]
 * per launch, which the per-position path reuses launch after launch. */
#include "device_attention.h"

#include "device_model.h"

#define F32(p) ((float *)(uintptr_t)(p))

int64_t dev_attn_shared_keys(const seer_model *m) {
  int64_t n = m->dev ? m->dev->attn_shared_keys : 0;
  return n > 0 ? n : DEV_ATTN_SHARED_KEYS;
}

/* The keys layer li's query at position qi attends over (at most; left padding only removes). */
static int64_t attn_keys(const seer_model *m, int li, int64_t qi) {
  int64_t window = m->layers[li].sliding ? m->cfg.info.sliding_window : 0, keys = qi + 1;
  return window > 0 && window < keys ? window : keys;
}

/* The scores' room for the query at qi. A graph's launch serves every later step over this cache,
 * so it gets room for as many keys as the cache can hold (ring: the window; else the capacity,
 * which covers every position until the cache grows, and growing re-captures). */
static int64_t score_room(const dev_attn *a, int li, int64_t cap, int64_t qi) {
  return a->graphed ? cap : attn_keys(a->m, li, qi);
}

size_t dev_attn_scores_bytes(const seer_model *m, int64_t B, int64_t T, int64_t start,
                             const int64_t *caps, int graphed) {
  int64_t most = 0, limit = dev_attn_shared_keys(m), nh = m->cfg.info.num_heads;
  for (int l = 0; l < m->cfg.info.num_layers; l++) {
    int64_t keys = graphed ? caps[l] : attn_keys(m, l, start + T - 1);
    if (keys > limit && keys > most) most = keys;
  }
  return sizeof(float) * (size_t)(B * nh * most);
}

size_t dev_attn_weights_bytes(const seer_model *m, int64_t B, int64_t T, int64_t start,
                              int graphed) {
  int64_t keys = start + T, room = keys;
  if (graphed) /* doubling: a graph over the buffer is re-captured O(log steps) times */
    for (room = 1; room < keys; room *= 2) {
    }
  return sizeof(float) * (size_t)(B * m->cfg.info.num_heads * T * room);
}

int dev_attend(const dev_attn *a, int li, dev_attn_cache kv, uint64_t weights) {
  const seer_model *m = a->m;
  const model_cfg *c = &m->cfg;
  int nh = c->info.num_heads, nkv = c->info.num_kv_heads, hd = c->info.head_dim;
  int64_t qd = (int64_t)nh * hd, kvd = (int64_t)nkv * hd, T = a->T, start = a->start;
  int64_t W = c->info.sliding_window, limit = dev_attn_shared_keys(m);
  int ring = m->layers[li].sliding && W > 0;
  const int64_t *step = (const int64_t *)(uintptr_t)a->step; /* qi = *step + t on the device */
  struct seer_k_kv_store_args st = {F32(a->k), F32(a->v), T * kvd, F32(kv.k), F32(kv.v), step,
                                    0,         kv.cap,    ring,    nkv,       hd};
  struct seer_k_attn_decode_args at = {F32(a->q),
                                       F32(kv.k),
                                       F32(kv.v),
                                       F32(a->out),
                                       T * qd,
                                       (const int64_t *)(uintptr_t)a->pad,
                                       step,
                                       0,
                                       kv.cap,
                                       ring,
                                       m->layers[li].sliding ? W : 0,
                                       nh,
                                       nkv,
                                       hd,
                                       (float)c->attn_scale,
                                       (float)c->attn_softcap,
                                       NULL,
                                       0,
                                       F32(weights),
                                       T};
  int64_t room = score_room(a, li, kv.cap, start + T - 1);
  int rc;
  if (T > 1 && room <= limit && (!ring || start + T <= kv.cap) && !m->dev->attn_per_position) {
    if ((rc = a->launch(a->ctx, SEER_GPU_seer_k_kv_store, (unsigned)a->B, (unsigned)T, 1,
                        SEER_ATTN_THREADS, 0, &st)))
      return rc;
    return a->launch(a->ctx, SEER_GPU_seer_k_attn_decode, (unsigned)nh, (unsigned)a->B, (unsigned)T,
                     SEER_ATTN_THREADS, sizeof(float) * (size_t)room, &at);
  }
  for (int64_t t = 0; t < T; t++) {
    st.t = at.t = t;
    st.k = F32(a->k + (uint64_t)(t * kvd) * 4), st.v = F32(a->v + (uint64_t)(t * kvd) * 4);
    at.q = F32(a->q + (uint64_t)(t * qd) * 4), at.out = F32(a->out + (uint64_t)(t * qd) * 4);
    room = score_room(a, li, kv.cap, start + t);
    at.scores = room > limit ? F32(a->scores) : NULL;
    at.scores_stride = room;
    if ((rc = a->launch(a->ctx, SEER_GPU_seer_k_kv_store, (unsigned)a->B, 1, 1, SEER_ATTN_THREADS,
                        0, &st)) ||
        (rc = a->launch(a->ctx, SEER_GPU_seer_k_attn_decode, (unsigned)nh, (unsigned)a->B, 1,
                        SEER_ATTN_THREADS, at.scores ? 0 : sizeof(float) * (size_t)room, &at)))
      return rc;
  }
  return 0;
}

void seer_device_set_attn_test_knobs(seer_model *m, int64_t shared_keys, int per_position) {
  if (!m->dev) return;
  m->dev->attn_shared_keys = shared_keys;
  m->dev->attn_per_position = per_position;
  dev_graph_clear(m->dev->g, &m->dev->decode);
  dev_graph_clear(m->dev->g, &m->dev->hooked);
}
