/* forward.c: owns the decoder forward pass shared by every family: embeddings, RMSNorm, rope,
 * masked (sliding, softcapped) attention over the KV cache, MLP, hooks, hidden states, logits.
 * All activations are f32, ordered as HF's eager implementation computes them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "device_engine.h"
#include "forward_common.h"
#include "lora_internal.h"
#include "seer/interrupt.h"

typedef struct fwd {
  seer_model *m;
  seer_kv_cache *cache; /* NULL: stateless */
  const int64_t *pad;   /* per row: indices below are padding */
  int64_t B, T, start;  /* rows, tokens per row in this chunk, sequence index of the first */
  const seer_forward_opts *opts;
  int decode;
  seer_storage *sx,
      *so;            /* residual stream and block output, as storages so hook views stay valid */
  seer_storage *satt; /* per-head attention outputs, a storage so "attn.heads" hooks can view it */
  float *attw; /* softmax weights [B, heads, T, start + T] while a hook wants them, or NULL */
  float *x, *xn, *q, *k, *v, *att, *o, *g, *u;
  float *cos_full, *sin_full, *cos_sl, *sin_sl; /* [B*T][hd/2] */
  float *hs;                                    /* hidden states out, or NULL */
  seer_error *err;
  int lora_rc;         /* first failure of a LoRA side path (out of memory) */
  seer_hook_site site; /* where this call's hooks run */
} fwd;

/* ---- small kernels ---- */

static void rmsnorm(const float *x, const float *w, int64_t n, double eps, float *out) {
  double ss = 0;
  for (int64_t i = 0; i < n; i++)
    ss += (double)x[i] * x[i];
  float r = 1.0f / sqrtf((float)(ss / (double)n) + (float)eps);
  for (int64_t i = 0; i < n; i++)
    out[i] = w[i] * (x[i] * r);
}

static void rmsnorm_rows(const float *x, const float *w, int64_t rows, int64_t n, double eps,
                         float *out) {
  for (int64_t r = 0; r < rows; r++)
    rmsnorm(x + r * n, w, n, eps, out + r * n);
}

/* g = act(g) * u, the gated MLP's activation (activation.c). A prefill's rows are split across the
 * pool: Gemma's tanh GELU over 512 tokens is 4.7 M elements per layer, which one thread took while
 * the others waited. A decode step's single row stays on the caller (no pool round trip). */
typedef struct {
  float *g;
  const float *u;
  model_act a;
  int64_t n, chunk;
} gated_act_job;

static void gated_act_task(void *ctx, int64_t t, int thread) {
  const gated_act_job *j = ctx;
  (void)thread;
  int64_t i0 = t * j->chunk, i1 = i0 + j->chunk < j->n ? i0 + j->chunk : j->n;
  seer_act_gated(j->a, j->g + i0, j->u + i0, i1 - i0);
}

static void gated_act(model_act a, float *g, const float *u, int64_t n) {
  gated_act_job j = {g, u, a, n, 16384};
  if (n <= j.chunk)
    gated_act_task(&j, 0, 0);
  else
    seer_cpu_parallel_for((n + j.chunk - 1) / j.chunk, gated_act_task, &j);
}

static void rope_tables(const float *inv_freq, const int64_t *pos, int64_t rows, int half, float *c,
                        float *s) {
  for (int64_t r = 0; r < rows; r++)
    for (int i = 0; i < half; i++) {
      float ang = (float)pos[r] * inv_freq[i];
      c[r * half + i] = cosf(ang);
      s[r * half + i] = sinf(ang);
    }
}

/* HF's rotate_half layout: pairs (i, i + hd/2). */
static void rope_apply(float *x, int64_t rows, int heads, int hd, const float *c, const float *s) {
  int half = hd / 2;
  for (int64_t r = 0; r < rows; r++)
    for (int h = 0; h < heads; h++) {
      float *v = x + (r * heads + h) * hd;
      const float *cr = c + r * half, *sr = s + r * half;
      for (int i = 0; i < half; i++) {
        float a = v[i], b = v[i + half];
        v[i] = a * cr[i] - b * sr[i];
        v[i + half] = b * cr[i] + a * sr[i];
      }
    }
}

/* Hooks on the residual-width points: views [B, T, H]. */
static int run_hooks(fwd *f, seer_hook_point p, seer_storage *st) {
  int64_t shape[3] = {f->B, f->T, f->m->cfg.info.hidden_size};
  return seer_hooks_run(&f->site, p, st, 3, shape, 1);
}

/* ---- attention ---- */

typedef struct attn_job {
  fwd *f;
  const layer_w *L;
  const kv_layer *kv; /* NULL when stateless */
} attn_job;

static void attn_task(void *ctx, int64_t task, int thread) {
  const attn_job *j = ctx;
  const fwd *f = j->f;
  const model_cfg *c = &f->m->cfg;
  int nh = c->info.num_heads, nkv = c->info.num_kv_heads, hd = c->info.head_dim;
  int64_t b = task / nh, h = task % nh, kvh = h / (nh / nkv);
  int64_t T = f->T, start = f->start, W = c->info.sliding_window;
  const kv_layer *kv = j->kv;
  const seer_cpu_kernels *K = seer_cpu();
  int64_t cache_lo = 0;
  if (kv && kv->ring) cache_lo = start - kv->cap > 0 ? start - kv->cap : 0;
  int64_t nmax = (start - cache_lo) + T;
  float *p = malloc(sizeof(float) * (size_t)(nmax > 0 ? nmax : 1));
  if (!p) return; /* only under memory exhaustion; output stays as zeros */
  for (int64_t t = 0; t < T; t++) {
    int64_t qi = start + t;
    const float *qv = f->q + ((b * T + t) * nh + h) * hd;
    float *out = f->att + ((b * T + t) * nh + h) * hd;
    memset(out, 0, sizeof(float) * (size_t)hd);
    int64_t lo = f->pad[b];
    if (qi < lo) continue; /* a padding query attends to nothing; its output is never used */
    if (j->L->sliding && qi - W + 1 > lo) lo = qi - W + 1;
    int64_t n = 0;
    float mx = -INFINITY;
    /* Keys in order of sequence index: cached ones, then this chunk's. */
    int64_t c0 = lo > cache_lo ? lo : cache_lo;
    for (int64_t jx = c0; jx < start; jx++) {
      int64_t slot = kv->ring ? jx % kv->cap : jx;
      const float *kk = kv->k + ((b * nkv + kvh) * kv->cap + slot) * hd;
      float s = K->dot(qv, kk, hd) * (float)c->attn_scale;
      if (c->attn_softcap > 0) s = tanhf(s / (float)c->attn_softcap) * (float)c->attn_softcap;
      p[n++] = s;
      mx = s > mx ? s : mx;
    }
    int64_t n_cached = n;
    int64_t s0 = lo > start ? lo : start;
    for (int64_t jx = s0; jx <= qi; jx++) {
      const float *kk = f->k + ((b * T + (jx - start)) * nkv + kvh) * hd;
      float s = K->dot(qv, kk, hd) * (float)c->attn_scale;
      if (c->attn_softcap > 0) s = tanhf(s / (float)c->attn_softcap) * (float)c->attn_softcap;
      p[n++] = s;
      mx = s > mx ? s : mx;
    }
    float sum = 0;
    for (int64_t i = 0; i < n; i++) {
      p[i] = expf(p[i] - mx);
      sum += p[i];
    }
    float inv = 1.0f / sum;
    if (f->attw) {
      float *w = f->attw + ((b * nh + h) * T + t) * (start + T);
      for (int64_t i = 0; i < n; i++)
        w[i < n_cached ? c0 + i : s0 + (i - n_cached)] = p[i] * inv;
    }
    for (int64_t i = 0; i < n; i++) {
      const float *vv;
      if (i < n_cached) {
        int64_t jx = c0 + i, slot = kv->ring ? jx % kv->cap : jx;
        vv = kv->v + ((b * nkv + kvh) * kv->cap + slot) * hd;
      } else {
        vv = f->v + ((b * T + (s0 + i - n_cached - start)) * nkv + kvh) * hd;
      }
      K->axpy(p[i] * inv, vv, out, hd);
    }
  }
  free(p);
}

static void cache_store(fwd *f, kv_layer *kv) {
  const model_cfg *c = &f->m->cfg;
  int nkv = c->info.num_kv_heads, hd = c->info.head_dim;
  for (int64_t b = 0; b < f->B; b++)
    for (int64_t t = 0; t < f->T; t++) {
      int64_t jx = f->start + t;
      if (kv->ring && jx < f->start + f->T - kv->cap) continue;
      int64_t slot = kv->ring ? jx % kv->cap : jx;
      for (int h = 0; h < nkv; h++) {
        size_t src = (size_t)(((b * f->T + t) * nkv + h) * hd);
        size_t dst = (size_t)(((b * nkv + h) * kv->cap + slot) * hd);
        memcpy(kv->k + dst, f->k + src, sizeof(float) * (size_t)hd);
        memcpy(kv->v + dst, f->v + src, sizeof(float) * (size_t)hd);
      }
    }
}

/* ---- the layer ---- */

/* A projection of layer li, with the active LoRA adapter's weights or side path when it has one. */
static void linear(fwd *f, int li, lora_slot s, const float *x, int64_t rows, const model_w *w,
                   const float *bias, float *y) {
  w = seer_lora_weight(f->m, li, s, w);
  f->m->be->linear(x, rows, w->cols, w->cols, w->data, w->dtype, w->rows, bias, y, w->rows);
  int rc = seer_lora_apply(f->m, li, s, x, rows, y, f->err);
  if (rc && !f->lora_rc) f->lora_rc = rc;
}

static int run_layer(fwd *f, int li) {
  /* Interrupt (Ctrl-C, a notebook's interrupt): stop between layers rather than finish the pass. */
  if (seer_interrupt_take())
    return seer_errorf(f->err, SEER_ECANCELED, "forward interrupted before layer %d", li);
  seer_model *m = f->m;
  const model_cfg *c = &m->cfg;
  const layer_w *L = &m->layers[li];
  int64_t R = f->B * f->T, H = c->info.hidden_size, I = c->info.intermediate_size;
  int nh = c->info.num_heads, nkv = c->info.num_kv_heads, hd = c->info.head_dim;
  int rc;
  rmsnorm_rows(f->x, L->in_norm, R, H, c->eps, f->xn);
  linear(f, li, LORA_Q, f->xn, R, &L->q, L->q_b, f->q);
  linear(f, li, LORA_K, f->xn, R, &L->k, L->k_b, f->k);
  linear(f, li, LORA_V, f->xn, R, &L->v, L->v_b, f->v);
  if (c->qk_norm) {
    rmsnorm_rows(f->q, L->q_norm, R * nh, hd, c->eps, f->q);
    rmsnorm_rows(f->k, L->k_norm, R * nkv, hd, c->eps, f->k);
  }
  const float *cs = L->sliding ? f->cos_sl : f->cos_full,
              *sn = L->sliding ? f->sin_sl : f->sin_full;
  rope_apply(f->q, R, nh, hd, cs, sn);
  rope_apply(f->k, R, nkv, hd, cs, sn);
  kv_layer *kv = f->cache ? &f->cache->layers[li] : NULL;
  attn_job aj = {f, L, kv};
  seer_hook_point wp = {SEER_HOOK_ATTN_WEIGHTS, li};
  seer_storage *sw = NULL;
  int64_t S = f->start + f->T, wshape[4] = {f->B, nh, f->T, S};
  if (seer_hooks_any(&f->site, wp)) {
    sw = seer_storage_new(sizeof(float) * (size_t)(f->B * nh * f->T * S), f->err);
    if (!sw) return f->err ? f->err->code : SEER_ENOMEM;
    f->attw = seer_storage_data(sw);
    memset(f->attw, 0, sizeof(float) * (size_t)(f->B * nh * f->T * S));
  }
  seer_cpu_parallel_for(f->B * nh, attn_task, &aj);
  f->attw = NULL;
  if (kv) cache_store(f, kv);
  if (sw) {
    rc = seer_hooks_run(&f->site, wp, sw, 4, wshape, 0);
    seer_storage_release(sw);
    if (rc) return rc;
  }
  int64_t zshape[3] = {f->B, f->T, (int64_t)nh * hd};
  if ((rc = seer_hooks_run(&f->site, (seer_hook_point){SEER_HOOK_ATTN_HEADS, li}, f->satt, 3,
                           zshape, 1)))
    return rc;
  linear(f, li, LORA_O, f->att, R, &L->o, L->o_b, f->o);
  if (c->sandwich_norms) rmsnorm_rows(f->o, L->attn_post_norm, R, H, c->eps, f->o);
  if ((rc = run_hooks(f, (seer_hook_point){SEER_HOOK_ATTN, li}, f->so))) return rc;
  for (int64_t i = 0; i < R * H; i++)
    f->x[i] += f->o[i];
  rmsnorm_rows(f->x, L->ff_pre_norm, R, H, c->eps, f->xn);
  linear(f, li, LORA_GATE, f->xn, R, &L->gate, NULL, f->g);
  linear(f, li, LORA_UP, f->xn, R, &L->up, NULL, f->u);
  gated_act(c->act, f->g, f->u, R * I);
  linear(f, li, LORA_DOWN, f->g, R, &L->down, NULL, f->o);
  if (c->sandwich_norms) rmsnorm_rows(f->o, L->ff_post_norm, R, H, c->eps, f->o);
  if (f->lora_rc) return f->lora_rc;
  if ((rc = run_hooks(f, (seer_hook_point){SEER_HOOK_MLP, li}, f->so))) return rc;
  for (int64_t i = 0; i < R * H; i++)
    f->x[i] += f->o[i];
  /* HF records a layer's hidden state as the layer produced it, before hooks on its output. */
  if (f->hs && li < c->info.num_layers - 1)
    memcpy(f->hs + (li + 1) * R * H, f->x, sizeof(float) * (size_t)(R * H));
  return run_hooks(f, (seer_hook_point){SEER_HOOK_LAYER, li}, f->sx);
}

/* ---- entry ---- */

void seer_forward_out_free(seer_forward_out *o) {
  if (!o) return;
  seer_tensor_release(o->logits);
  seer_tensor_release(o->hidden_states);
  o->logits = o->hidden_states = NULL;
}

static float *take(float **cursor, int64_t n) {
  float *p = *cursor;
  *cursor += (n + 15) & ~(int64_t)15;
  return p;
}

int seer_model_forward(seer_model *m, seer_kv_cache *cache, size_t batch, const int32_t *const *ids,
                       const size_t *lens, const seer_forward_opts *opts, seer_forward_out *out,
                       seer_error *err) {
  if (m->dev) return seer_device_forward(m, cache, batch, ids, lens, opts, out, err);
  memset(out, 0, sizeof *out);
  const model_cfg *c = &m->cfg;
  int64_t V = c->info.vocab_size, H = c->info.hidden_size;
  int64_t I = c->info.intermediate_size, L = c->info.num_layers, hd = c->info.head_dim;
  int64_t qd = (int64_t)c->info.num_heads * hd, kvd = (int64_t)c->info.num_kv_heads * hd;
  int batched = opts && opts->batched;
  seer_fwd_rows rows;
  int rc = seer_fwd_rows_init(m, cache, batch, ids, lens, opts, &rows, err);
  if (rc) return rc;
  int64_t B = rows.B, T = rows.T, start = rows.start, R = B * T;
  const int64_t *pad = rows.pad, *pos = rows.pos;
  fwd f = {.m = m,
           .cache = cache,
           .pad = pad,
           .B = B,
           .T = T,
           .start = start,
           .opts = opts,
           .decode = start > 0,
           .err = err};
  f.site = (seer_hook_site){m, opts, start > 0, B, T, start, err};
  int half = (int)hd / 2;
  int64_t scratch = 0;
  const int64_t parts[] = {R * H, R * qd,   R * kvd,  R * kvd,  R * I,
                           R * I, R * half, R * half, R * half, R * half};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    scratch += (parts[i] + 15) & ~15;
  float *work = malloc(sizeof(float) * (size_t)scratch);
  f.sx = seer_storage_new(sizeof(float) * (size_t)(R * H), err);
  f.so = seer_storage_new(sizeof(float) * (size_t)(R * H), err);
  f.satt = seer_storage_new(sizeof(float) * (size_t)(R * qd), err);
  seer_tensor *hs = NULL, *logits = NULL;
  if (!work || !f.sx || !f.so || !f.satt) {
    rc = seer_errorf(err, SEER_ENOMEM, "forward: out of memory");
    goto done;
  }
  if (cache && (rc = seer_kv_cache_reserve(cache, start + T, err))) goto done;
  f.x = seer_storage_data(f.sx);
  f.o = seer_storage_data(f.so);
  float *cur = work;
  f.xn = take(&cur, R * H), f.q = take(&cur, R * qd), f.k = take(&cur, R * kvd);
  f.v = take(&cur, R * kvd), f.att = seer_storage_data(f.satt), f.g = take(&cur, R * I);
  f.u = take(&cur, R * I);
  f.cos_full = take(&cur, R * half), f.sin_full = take(&cur, R * half);
  f.cos_sl = take(&cur, R * half), f.sin_sl = take(&cur, R * half);
  {
    const float *inv_full = NULL, *inv_sl = NULL;
    for (int64_t l = 0; l < L; l++) {
      if (m->layers[l].sliding)
        inv_sl = m->layers[l].inv_freq;
      else
        inv_full = m->layers[l].inv_freq;
    }
    if (inv_full) rope_tables(inv_full, pos, R, half, f.cos_full, f.sin_full);
    if (inv_sl) rope_tables(inv_sl, pos, R, half, f.cos_sl, f.sin_sl);
  }
  /* Embeddings; padding slots embed token 0 and are masked out of attention. */
  const model_w *embed = seer_lora_weight(m, -1, LORA_EMBED, &m->embed);
  const model_w *head = seer_lora_weight(m, -1, LORA_LM_HEAD, &m->lm_head);
  size_t es = seer_dtype_size(embed->dtype);
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      int64_t p = t - (T - (int64_t)lens[b]);
      int32_t tok = p >= 0 ? ids[b][p] : 0;
      float *row = f.x + (b * T + t) * H;
      seer_cpu_to_f32((const char *)embed->data + (size_t)tok * (size_t)H * es, embed->dtype, H,
                      row);
      if (c->embed_scale != 1.0) {
        float s = (float)c->embed_scale;
        for (int64_t i = 0; i < H; i++)
          row[i] *= s;
      }
    }
  int want_hs = opts && opts->hidden_states;
  if (want_hs) {
    int64_t shp4[4] = {L + 1, B, T, H}, shp3[3] = {L + 1, T, H};
    hs = batched ? seer_tensor_new(SEER_DTYPE_F32, 4, shp4, err)
                 : seer_tensor_new(SEER_DTYPE_F32, 3, shp3, err);
    if (!hs) {
      rc = err ? err->code : SEER_ENOMEM;
      goto done;
    }
  }
  float *hsd = f.hs = hs ? seer_tensor_data(hs) : NULL;
  if (hsd) memcpy(hsd, f.x, sizeof(float) * (size_t)(R * H));
  if ((rc = run_hooks(&f, (seer_hook_point){SEER_HOOK_EMBED, -1}, f.sx))) goto done;
  for (int64_t l = 0; l < L; l++)
    if ((rc = run_layer(&f, (int)l))) goto done;
  /* An interrupt during the last layer stops the pass here, not in the caller's next statement. */
  if (seer_interrupt_take()) {
    rc = seer_errorf(err, SEER_ECANCELED, "forward interrupted after layer %d (the last)",
                     (int)L - 1);
    goto done;
  }
  rmsnorm_rows(f.x, m->final_norm, R, H, c->eps, f.x);
  if (hsd) memcpy(hsd + L * R * H, f.x, sizeof(float) * (size_t)(R * H));
  if ((rc = run_hooks(&f, (seer_hook_point){SEER_HOOK_FINAL_NORM, -1}, f.sx))) goto done;
  seer_logits_mode mode = opts ? opts->logits : SEER_LOGITS_ALL;
  if (mode != SEER_LOGITS_NONE) {
    int last = mode == SEER_LOGITS_LAST;
    int64_t shp[3] = {B, last ? 1 : T, V};
    int64_t nd = 3, *sp = shp;
    if (last) shp[1] = V, nd = 2; /* [B, V] */
    if (!batched) sp = shp + 1, nd--;
    logits = seer_tensor_new(SEER_DTYPE_F32, (int)nd, sp, err);
    if (!logits) {
      rc = err ? err->code : SEER_ENOMEM;
      goto done;
    }
    float *ld = seer_tensor_data(logits);
    if (last) {
      /* Gather each row's final position so the head runs once per row. */
      for (int64_t b = 0; b < B; b++)
        memcpy(f.xn + b * H, f.x + (b * T + T - 1) * H, sizeof(float) * (size_t)H);
      m->be->linear(f.xn, B, H, H, head->data, head->dtype, V, NULL, ld, V);
    } else {
      m->be->linear(f.x, R, H, H, head->data, head->dtype, V, NULL, ld, V);
    }
    if (c->final_softcap > 0) {
      float cap = (float)c->final_softcap;
      int64_t n = seer_tensor_numel(logits);
      for (int64_t i = 0; i < n; i++)
        ld[i] = tanhf(ld[i] / cap) * cap;
    }
  }
  if (cache) cache->len = start + T;
done:
  seer_fwd_rows_free(&rows);
  free(work);
  seer_storage_release(f.sx);
  seer_storage_release(f.so);
  seer_storage_release(f.satt);
  if (rc) {
    seer_tensor_release(hs);
    seer_tensor_release(logits);
    return rc;
  }
  out->hidden_states = hs;
  out->logits = logits;
  return 0;
}
