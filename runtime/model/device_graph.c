/* device_graph.c: the device engine's persistent workspace and its decode graph's bookkeeping
 * (device_graph.h). A graph holds raw device addresses, so it stays valid exactly as long as every
 * buffer it names stays where it was: the workspace only moves when it grows, and the graph
 * remembers the cache buffers it was captured over. */
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

int dev_graph_matches(const dev_graph *dg, const dev_graph_key *key) {
  if (!dg->graph || dg->B != key->B || dg->mode != key->mode || dg->ws_gen != key->ws_gen ||
      dg->nlayers != key->nlayers)
    return 0;
  const uint64_t *k = dg->kv, *v = k + key->nlayers, *cap = v + key->nlayers;
  for (int l = 0; l < key->nlayers; l++)
    if (k[l] != key->k[l] || v[l] != key->v[l] || cap[l] != (uint64_t)key->cap[l]) return 0;
  return 1;
}

int dev_graph_keep(seer_gpu *g, dev_graph *dg, seer_gpu_graph *graph, const dev_graph_key *key,
                   seer_error *err) {
  dev_graph_clear(g, dg);
  uint64_t *kv = malloc(3 * sizeof *kv * (size_t)key->nlayers);
  if (!kv) {
    seer_gpu_graph_free(g, graph);
    return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory");
  }
  for (int l = 0; l < key->nlayers; l++) {
    kv[l] = key->k[l];
    kv[key->nlayers + l] = key->v[l];
    kv[2 * key->nlayers + l] = (uint64_t)key->cap[l];
  }
  *dg = (dev_graph){graph, key->B, key->mode, key->ws_gen, key->nlayers, kv};
  return 0;
}

void dev_graph_clear(seer_gpu *g, dev_graph *dg) {
  seer_gpu_graph_free(g, dg->graph);
  free(dg->kv);
  memset(dg, 0, sizeof *dg);
}

int dev_graphs_enabled(void) {
  const char *s = getenv("SEER_CUDA_GRAPHS");
  return !(s && !strcmp(s, "0"));
}
