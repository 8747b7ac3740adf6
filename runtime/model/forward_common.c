/* forward_common.c: owns what both engines do around the layers: checking a call and laying out its
 * rows (left padding, positions), and running hooks on views of an activation storage. */
#include "forward_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int seer_fwd_rows_init(seer_model *m, seer_kv_cache *cache, size_t batch, const int32_t *const *ids,
                       const size_t *lens, const seer_forward_opts *opts, seer_fwd_rows *r,
                       seer_error *err) {
  memset(r, 0, sizeof *r);
  int64_t B = (int64_t)batch, T = 0, V = m->cfg.info.vocab_size;
  int batched = opts && opts->batched;
  if (B < 1) return seer_errorf(err, SEER_EINVAL, "forward: empty batch");
  if (!batched && B != 1)
    return seer_errorf(err, SEER_EINVAL, "forward: %lld rows given to an unbatched call",
                       (long long)B);
  if (cache && (cache->m != m || (int64_t)cache->batch != B))
    return seer_errorf(err, SEER_EINVAL,
                       "forward: the cache belongs to another model or batch size");
  for (int64_t b = 0; b < B; b++)
    T = (int64_t)lens[b] > T ? (int64_t)lens[b] : T;
  if (T < 1) return seer_errorf(err, SEER_EINVAL, "forward: no input tokens");
  int64_t start = cache ? cache->len : 0;
  for (int64_t b = 0; b < B; b++) {
    if (start > 0 && (int64_t)lens[b] != T)
      return seer_errorf(err, SEER_EINVAL,
                         "forward: continuing a cached batch needs the same number of new tokens "
                         "in every row");
    for (size_t t = 0; t < lens[b]; t++)
      if (ids[b][t] < 0 || ids[b][t] >= V)
        return seer_errorf(err, SEER_EINVAL, "forward: token id %d out of range (vocab %lld)",
                           ids[b][t], (long long)V);
  }
  r->B = B, r->T = T, r->start = start;
  r->pos = malloc(sizeof(int64_t) * (size_t)(B * T));
  if (cache) {
    if (start == 0)
      for (int64_t b = 0; b < B; b++)
        cache->pad[b] = T - (int64_t)lens[b];
    r->pad = cache->pad;
  } else {
    r->pad_local = malloc(sizeof(int64_t) * (size_t)B);
    if (r->pad_local)
      for (int64_t b = 0; b < B; b++)
        r->pad_local[b] = T - (int64_t)lens[b];
    r->pad = r->pad_local;
  }
  if (!r->pos || !r->pad) {
    seer_fwd_rows_free(r);
    return seer_errorf(err, SEER_ENOMEM, "forward: out of memory");
  }
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      int64_t p = start + t - r->pad[b];
      r->pos[b * T + t] = p >= 0 ? p : 1;
    }
  return 0;
}

void seer_fwd_rows_free(seer_fwd_rows *r) {
  free(r->pos);
  free(r->pad_local);
  r->pos = r->pad_local = NULL;
  r->pad = NULL;
}

/* ---- hooks ---- */

static void point_name(seer_hook_point p, char *buf, size_t n) {
  switch (p.kind) {
  case SEER_HOOK_EMBED: snprintf(buf, n, "embed"); break;
  case SEER_HOOK_FINAL_NORM: snprintf(buf, n, "final_norm"); break;
  case SEER_HOOK_LAYER: snprintf(buf, n, "layers.%d", p.layer); break;
  case SEER_HOOK_ATTN: snprintf(buf, n, "layers.%d.attn", p.layer); break;
  case SEER_HOOK_MLP: snprintf(buf, n, "layers.%d.mlp", p.layer); break;
  case SEER_HOOK_ATTN_HEADS: snprintf(buf, n, "layers.%d.attn.heads", p.layer); break;
  case SEER_HOOK_ATTN_WEIGHTS: snprintf(buf, n, "layers.%d.attn.weights", p.layer); break;
  }
}

/* shape is the batched shape (rows first); unbatched calls see it without the rows dim. */
static int call_hook(const seer_hook_site *f, const seer_hook *h, seer_storage *st,
                     seer_hook_point p, int nd, const int64_t *shape, int writable) {
  int batched = f->opts && f->opts->batched;
  seer_tensor *view =
      batched ? seer_tensor_from_storage(st, 0, SEER_DTYPE_F32, nd, shape, NULL, f->err)
              : seer_tensor_from_storage(st, 0, SEER_DTYPE_F32, nd - 1, shape + 1, NULL, f->err);
  if (!view) return f->err ? f->err->code : SEER_ENOMEM;
  char name[48];
  point_name(p, name, sizeof name);
  seer_hook_ctx ctx = {p, name, f->decode, f->start, f->T};
  seer_tensor *rep = NULL;
  seer_error herr = {0, ""};
  int rc = h->fn(h->ud, view, &ctx, &rep, &herr);
  seer_tensor_release(view);
  if (rc) {
    if (!herr.msg[0]) seer_errorf(&herr, rc, "hook failed with code %d", rc);
    seer_errorf(f->err, rc < 0 ? rc : SEER_ECANCELED, "hook at %s: %s", name, herr.msg);
    seer_tensor_release(rep);
    return rc < 0 ? rc : SEER_ECANCELED;
  }
  if (rep) {
    int64_t n = 1, W = shape[nd - 1];
    for (int i = 0; i < nd; i++)
      n *= shape[i];
    int ok = writable && seer_tensor_numel(rep) == n && seer_dtype_is_float(rep->dtype) &&
             rep->shape[rep->ndim - 1] == W; /* host or device: both are readable here */
    if (ok) seer_tensor_read_f32(rep, seer_storage_data(st));
    seer_tensor_release(rep);
    if (!ok)
      return seer_errorf(f->err, SEER_EINVAL,
                         writable
                             ? "hook at %s returned a tensor whose shape differs from its input"
                             : "hook at %s returned a tensor, but this point is read-only",
                         name);
  }
  return 0;
}

static int matches(seer_hook_point a, seer_hook_point b) {
  return a.kind == b.kind &&
         (a.layer == b.layer || a.kind == SEER_HOOK_EMBED || a.kind == SEER_HOOK_FINAL_NORM);
}

int seer_hooks_any(const seer_hook_site *f, seer_hook_point p) {
  for (size_t i = 0; i < f->m->num_hooks; i++)
    if (matches(f->m->hooks[i].hook.point, p)) return 1;
  if (f->opts)
    for (size_t i = 0; i < f->opts->num_hooks; i++)
      if (matches(f->opts->hooks[i].point, p)) return 1;
  return 0;
}

int seer_hooks_run(const seer_hook_site *f, seer_hook_point p, seer_storage *st, int nd,
                   const int64_t *shape, int writable) {
  seer_model *m = f->m;
  for (size_t i = 0; i < m->num_hooks; i++) {
    if (!matches(m->hooks[i].hook.point, p)) continue;
    int rc = call_hook(f, &m->hooks[i].hook, st, p, nd, shape, writable);
    if (rc) return rc;
  }
  if (f->opts)
    for (size_t i = 0; i < f->opts->num_hooks; i++) {
      if (!matches(f->opts->hooks[i].point, p)) continue;
      int rc = call_hook(f, &f->opts->hooks[i], st, p, nd, shape, writable);
      if (rc) return rc;
    }
  return 0;
}
