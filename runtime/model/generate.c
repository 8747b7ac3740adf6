/* generate.c: owns generation: KV-cached prefill and decode over a (left-padded) batch, sampling
 * (greedy, temperature, top_k, top_p with a seeded generator), stop ids and the on_token stream. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../tensor/rng.h"
#include "model_internal.h"

typedef struct cand {
  float logit;
  int32_t id;
} cand;

static int cmp_cand(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
  return x->id - y->id;
}

static int32_t argmax(const float *l, int64_t V) {
  int64_t best = 0;
  for (int64_t i = 1; i < V; i++)
    if (l[i] > l[best]) best = i;
  return (int32_t)best;
}

/* HF's order: temperature, then top-k, then top-p, then a draw from the softmax. */
static int32_t sample(const float *logits, int64_t V, const seer_generate_opts *o, seer_rng *rng,
                      cand *cs) {
  if (o->temperature <= 0) return argmax(logits, V);
  for (int64_t i = 0; i < V; i++)
    cs[i] = (cand){(float)(logits[i] / o->temperature), (int32_t)i};
  qsort(cs, (size_t)V, sizeof *cs, cmp_cand);
  int64_t n = V;
  if (o->top_k > 0 && o->top_k < n) {
    float kth = cs[o->top_k - 1].logit;
    n = o->top_k;
    while (n < V && cs[n].logit == kth)
      n++; /* ties with the k-th survive, as in HF */
  }
  double mx = cs[0].logit, sum = 0;
  for (int64_t i = 0; i < n; i++)
    sum += exp(cs[i].logit - mx);
  if (o->top_p > 0 && o->top_p < 1) {
    double cum = 0;
    int64_t keep = 0;
    while (keep < n) {
      cum += exp(cs[keep].logit - mx) / sum;
      keep++;
      if (cum >= o->top_p) break;
    }
    n = keep;
    sum = 0;
    for (int64_t i = 0; i < n; i++)
      sum += exp(cs[i].logit - mx);
  }
  double u = seer_rng_uniform(rng) * sum, acc = 0;
  for (int64_t i = 0; i < n; i++) {
    acc += exp(cs[i].logit - mx);
    if (u < acc) return cs[i].id;
  }
  return cs[n - 1].id;
}

void seer_generate_rows_free(seer_generate_row *rows, size_t batch) {
  if (!rows) return;
  for (size_t i = 0; i < batch; i++)
    free(rows[i].ids);
  free(rows);
}

int seer_model_generate(seer_model *m, size_t batch, const int32_t *const *ids, const size_t *lens,
                        const seer_generate_opts *opts, seer_generate_row **rows_out,
                        seer_error *err) {
  *rows_out = NULL;
  if (opts->max_new_tokens < 0)
    return seer_errorf(err, SEER_EINVAL, "generate: max_new_tokens must be >= 0");
  int64_t V = m->cfg.info.vocab_size;
  size_t maxn = (size_t)opts->max_new_tokens;
  seer_generate_row *rows = calloc(batch ? batch : 1, sizeof *rows);
  int32_t *next = calloc(batch ? batch : 1, sizeof *next);
  int32_t **next_ptr = calloc(batch ? batch : 1, sizeof *next_ptr);
  size_t *ones = calloc(batch ? batch : 1, sizeof *ones);
  char *done = calloc(batch ? batch : 1, 1);
  cand *cs = malloc(sizeof(cand) * (size_t)V);
  seer_kv_cache *cache = seer_kv_cache_new(m, batch, err);
  int rc = 0;
  if (!cache) {
    rc = err ? err->code : SEER_ENOMEM;
    goto out;
  }
  if (!rows || !next || !next_ptr || !ones || !done || !cs) {
    rc = seer_errorf(err, SEER_ENOMEM, "generate: out of memory");
    goto out;
  }
  for (size_t b = 0; b < batch; b++) {
    rows[b].ids = malloc(sizeof(int32_t) * (maxn ? maxn : 1));
    if (!rows[b].ids) {
      rc = seer_errorf(err, SEER_ENOMEM, "generate: out of memory");
      goto out;
    }
    next_ptr[b] = &next[b];
    ones[b] = 1;
  }
  seer_rng rng;
  seer_rng_seed(&rng, opts->seed);
  seer_forward_opts fo = {0, SEER_LOGITS_LAST, opts->hooks, opts->num_hooks, 1};
  seer_forward_out fout = {0};
  if (maxn == 0) goto out;
  if ((rc = seer_model_forward(m, cache, batch, ids, lens, &fo, &fout, err))) goto out;
  for (size_t step = 0; step < maxn; step++) {
    const float *ld = seer_tensor_data(fout.logits);
    size_t live = 0;
    for (size_t b = 0; b < batch; b++) {
      if (done[b]) continue; /* a finished row keeps decoding its last token; nobody reads it */
      int32_t tok = sample(ld + (int64_t)b * V, V, opts, &rng, cs);
      next[b] = tok;
      rows[b].ids[rows[b].len++] = tok;
      if (opts->on_token && (rc = opts->on_token(opts->on_token_ud, b, tok, err)) != 0) {
        if (rc == SEER_GENERATE_STOP_ROW) {
          rc = 0;
          done[b] = 1;
          rows[b].finish_reason = SEER_FINISH_STOP;
        } else {
          if (rc > 0) rc = SEER_ECANCELED;
          seer_forward_out_free(&fout);
          goto out;
        }
      }
      for (size_t s = 0; s < opts->num_stop; s++)
        if (opts->stop[s] == tok) {
          done[b] = 1;
          rows[b].finish_reason = SEER_FINISH_STOP;
        }
      live += !done[b];
    }
    seer_forward_out_free(&fout);
    if (!live || step + 1 == maxn) break;
    if ((rc = seer_model_forward(m, cache, batch, (const int32_t *const *)next_ptr, ones, &fo,
                                 &fout, err)))
      goto out;
  }
out:
  seer_kv_cache_free(cache);
  free(next);
  free(next_ptr);
  free(ones);
  free(done);
  free(cs);
  if (rc) {
    seer_generate_rows_free(rows, batch);
    return rc;
  }
  *rows_out = rows;
  return 0;
}
