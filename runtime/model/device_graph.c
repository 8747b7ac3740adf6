/* device_graph.c: the device engine's persistent workspace and its decode graphs' bookkeeping
 * (device_graph.h). A graph holds raw device addresses, so it stays valid exactly as long as every
 * buffer it names stays where it was: the workspace only moves when it grows, and the graph
 * remembers the cache buffers it was captured over (and, split at hook points, which ones), and
 * the LoRA adapter state it applied. */
#include "device_graph.h"

#include <stdlib.h>
#include <string.h>

dev_inputs dev_inputs_layout(int64_t R, int64_t B) {
  dev_inputs in;
  in.step = 0;
  in.pos = sizeof(int64_t);
  in.pad = in.pos + sizeof(int64_t) * (size_t)R;
  in.tok = in.pad + sizeof(int64_t) * (size_t)B;
  in.bytes = in.tok + sizeof(int32_t) * (size_t)R;
  return in;
}

int dev_workspace_reserve(seer_gpu *g, dev_workspace *ws, const size_t need[DEV_NBUF],
                          seer_error *err) {
  for (int i = 0; i < DEV_NBUF; i++) {
    if (ws->bytes[i] >= need[i]) continue;
    uint64_t p = 0;
    int rc = seer_gpu_alloc(g, need[i], &p, err);
    if (rc) return rc;
    seer_gpu_free(g, ws->p[i]);
    ws->p[i] = p, ws->bytes[i] = need[i];
    ws->gen++;
  }
  return 0;
}

void dev_workspace_free(seer_gpu *g, dev_workspace *ws) {
  for (int i = 0; i < DEV_NBUF; i++)
    seer_gpu_free(g, ws->p[i]);
  memset(ws, 0, sizeof *ws);
}

int dev_hook_points(int nlayers) { return 2 + 5 * nlayers; }

int dev_hook_index(seer_hook_point p) {
  switch (p.kind) {
  case SEER_HOOK_EMBED: return 0;
  case SEER_HOOK_FINAL_NORM: return 1;
  case SEER_HOOK_ATTN_WEIGHTS: return 2 + 5 * p.layer;
  case SEER_HOOK_ATTN_HEADS: return 3 + 5 * p.layer;
  case SEER_HOOK_ATTN: return 4 + 5 * p.layer;
  case SEER_HOOK_MLP: return 5 + 5 * p.layer;
  default: return 6 + 5 * p.layer; /* SEER_HOOK_LAYER */
  }
}

uint8_t *dev_hook_flags(const seer_hook_site *site, int nlayers, seer_error *err) {
  uint8_t *on = calloc((size_t)dev_hook_points(nlayers), 1);
  if (!on) {
    seer_errorf(err, SEER_ENOMEM, "forward: out of memory");
    return NULL;
  }
  seer_hook_point ends[] = {{SEER_HOOK_EMBED, -1}, {SEER_HOOK_FINAL_NORM, -1}};
  for (int i = 0; i < 2; i++)
    on[dev_hook_index(ends[i])] = (uint8_t)seer_hooks_any(site, ends[i]);
  seer_hook_kind kinds[] = {SEER_HOOK_ATTN_WEIGHTS, SEER_HOOK_ATTN_HEADS, SEER_HOOK_ATTN,
                            SEER_HOOK_MLP, SEER_HOOK_LAYER};
  for (int l = 0; l < nlayers; l++)
    for (int k = 0; k < 5; k++) {
      seer_hook_point p = {kinds[k], l};
      on[dev_hook_index(p)] = (uint8_t)seer_hooks_any(site, p);
    }
  return on;
}

int dev_graph_matches(const dev_graph *dg, const dev_graph_key *key) {
  if (!dg->complete || dg->B != key->B || dg->mode != key->mode || dg->ws_gen != key->ws_gen ||
      dg->nlayers != key->nlayers || !dg->hooked != !key->hooked || dg->lora_gen != key->lora_gen)
    return 0;
  const uint64_t *k = dg->kv, *v = k + key->nlayers, *cap = v + key->nlayers;
  for (int l = 0; l < key->nlayers; l++)
    if (k[l] != key->k[l] || v[l] != key->v[l] || cap[l] != (uint64_t)key->cap[l]) return 0;
  return !key->hooked || !memcmp(dg->hooked, key->hooked, (size_t)dev_hook_points(key->nlayers));
}

int dev_graph_begin(seer_gpu *g, dev_graph *dg, const dev_graph_key *key, seer_error *err) {
  dev_graph_clear(g, dg);
  size_t np = key->hooked ? (size_t)dev_hook_points(key->nlayers) : 0;
  uint64_t *kv = malloc(3 * sizeof *kv * (size_t)key->nlayers);
  uint8_t *hooked = np ? malloc(np) : NULL;
  if (!kv || (np && !hooked)) {
    free(kv), free(hooked);
    return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory");
  }
  for (int l = 0; l < key->nlayers; l++) {
    kv[l] = key->k[l];
    kv[key->nlayers + l] = key->v[l];
    kv[2 * key->nlayers + l] = (uint64_t)key->cap[l];
  }
  if (np) memcpy(hooked, key->hooked, np);
  dg->B = key->B, dg->mode = key->mode, dg->ws_gen = key->ws_gen, dg->nlayers = key->nlayers;
  dg->kv = kv, dg->hooked = hooked, dg->lora_gen = key->lora_gen;
  return 0;
}

int dev_graph_add(seer_gpu *g, dev_graph *dg, seer_gpu_graph *seg, seer_error *err) {
  if (dg->nsegs == dg->capsegs) {
    int n = dg->capsegs ? 2 * dg->capsegs : 4;
    seer_gpu_graph **s = realloc(dg->segs, sizeof *s * (size_t)n);
    if (!s) {
      seer_gpu_graph_free(g, seg);
      return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory");
    }
    dg->segs = s, dg->capsegs = n;
  }
  dg->segs[dg->nsegs++] = seg;
  return 0;
}

void dev_graph_clear(seer_gpu *g, dev_graph *dg) {
  for (int i = 0; i < dg->nsegs; i++)
    seer_gpu_graph_free(g, dg->segs[i]);
  free(dg->segs);
  free(dg->kv);
  free(dg->hooked);
  memset(dg, 0, sizeof *dg);
}

int dev_graphs_enabled(void) {
  const char *s = getenv("SEER_CUDA_GRAPHS");
  return !(s && !strcmp(s, "0"));
}
