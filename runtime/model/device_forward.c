/* device_forward.c: the decoder forward pass on a CUDA device (or on the grid emulator, which runs
 * the same kernels on the CPU: $SEER_CUDA_EMULATE=1, how CI checks this file against the fixtures).
 * Same semantics as forward.c: left-padded batches, positions from each row's first real token,
 * sliding windows, softcaps, q/k norms, Gemma's scaled embeddings and sandwich norms, biases,
 * hooks, hidden states (gathered on the device by copies on the stream, so no layer waits for the
 * host, and downloaded once) and logits; the KV cache lives on the device. Layer by layer over all
 * rows
 * ([B][T], as forward.c lays them out), with attention over the cache (device_attention.c: all of a
 * call's positions in one launch, or one at a time where a sliding ring wraps); the attention
 * kernels read the position from a device-side step counter (the cache length before the call), so
 * their launches do not change from step to step. A call's inputs (step
 * counter, positions, padding, token ids) go up in one copy. Calls use the model's workspace
 * (device_graph.c: buffers kept and grown, never allocated per call; a forward call made from a
 * hook gets its own); there a decode step (one token per row, over a cache, no hidden states) is
 * one CUDA graph, captured at the first such step and replayed while the batch size, logits mode,
 * workspace and cache buffers it was captured over stay where they were (a cache that grows, a new
 * batch size or a grown workspace re-capture); $SEER_CUDA_GRAPHS=0 launches directly. With hooks
 * the step is graph segments split at the hook points with hooks (keyed also by those points), the
 * hooks running on the host between them. The upload of the inputs and the download of the logits
 * stay outside the graphs. Hooks get views of device storages over the workspace (a seer_gpu_scope
 * of the call): reading them downloads to a host shadow, writing marks it dirty and it goes back
 * before the next kernel, arithmetic on them gives device tensors of the scope, and a view or
 * result kept past the call becomes a host copy. LoRA adapters as forward.c applies them: each
 * targeted projection takes the active adapter's modules_to_save or merged weight when it has one
 * and adds its unmerged side path after the base projection (k_proj; device copies in
 * device_lora.c), and the graphs are keyed by the adapters' generation, so switching, disabling or
 * merging re-captures. Projections over 16 rows or more (prefill, batched decode) are GEMMs
 * (k_linear): bf16 weights through the split GEMM on tensor cores (cuBLASLt, else seer's mma
 * kernel, which the emulator runs), f32 weights on cuBLASLt when it loads; f16 weights and fewer
 * rows take the GEMV. Attention (device_attention.c) writes its softmax weights for a layer only
 * while attn.weights hooks are there, which read them (read-only, as on the CPU) through a view
 * kept as a host copy. Not built yet: f16 weights on tensor cores, a persistent decode kernel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_attention.h"
#include "device_model.h"
#include "forward_common.h"
#include "lora_internal.h"
#include "seer/interrupt.h"

struct seer_kv_dev {
  seer_gpu *g;
  int nlayers;
  int64_t *cap;
  uint64_t *k, *v;
};

/* ---- the KV cache on the device ---- */

static void kv_free(struct seer_kv_dev *kv) {
  if (!kv) return;
  for (int i = 0; i < kv->nlayers; i++) {
    seer_gpu_free(kv->g, kv->k[i]);
    seer_gpu_free(kv->g, kv->v[i]);
  }
  free(kv->cap), free(kv->k), free(kv->v), free(kv);
}

void seer_device_kv_free(seer_kv_cache *c) {
  kv_free(c->dev);
  c->dev = NULL;
}

/* Makes room for positions [0, len): sliding layers keep a ring of their window, the others grow
 * (by doubling; entries are copied per row and head since the slot count is the inner stride). */
static int kv_reserve(seer_model *m, struct seer_kv_dev *kv, int64_t B, int64_t len,
                      seer_error *err) {
  const seer_model_info *in = &m->cfg.info;
  int64_t hd = in->head_dim, nkv = in->num_kv_heads, W = in->sliding_window;
  for (int l = 0; l < kv->nlayers; l++) {
    int ring = m->layers[l].sliding && W > 0;
    int64_t want = ring ? W : len, old = kv->cap[l];
    if (old >= want) continue;
    int64_t cap = ring ? W : (want > 2 * old ? want : 2 * old);
    uint64_t nk = 0, nv = 0;
    size_t bytes = sizeof(float) * (size_t)(B * nkv * cap * hd);
    int rc = seer_gpu_alloc(kv->g, bytes, &nk, err);
    if (!rc) rc = seer_gpu_alloc(kv->g, bytes, &nv, err);
    if (!rc) rc = seer_gpu_zero(kv->g, nk, bytes, err);
    if (!rc) rc = seer_gpu_zero(kv->g, nv, bytes, err);
    for (int64_t r = 0; !rc && old && r < B * nkv; r++) {
      size_t chunk = sizeof(float) * (size_t)(old * hd);
      rc = seer_gpu_copy(kv->g, nk + (uint64_t)r * cap * hd * 4, kv->k[l] + (uint64_t)r * chunk,
                         chunk, err);
      if (!rc)
        rc = seer_gpu_copy(kv->g, nv + (uint64_t)r * cap * hd * 4, kv->v[l] + (uint64_t)r * chunk,
                           chunk, err);
    }
    if (rc) {
      seer_gpu_free(kv->g, nk), seer_gpu_free(kv->g, nv);
      return rc;
    }
    seer_gpu_free(kv->g, kv->k[l]), seer_gpu_free(kv->g, kv->v[l]);
    kv->k[l] = nk, kv->v[l] = nv, kv->cap[l] = cap;
  }
  return 0;
}

static struct seer_kv_dev *kv_new(seer_model *m, seer_error *err) {
  struct seer_kv_dev *kv = calloc(1, sizeof *kv);
  int L = m->cfg.info.num_layers;
  if (kv) {
    kv->g = m->dev->g;
    kv->nlayers = L;
    kv->cap = calloc((size_t)L, sizeof *kv->cap);
    kv->k = calloc((size_t)L, sizeof *kv->k);
    kv->v = calloc((size_t)L, sizeof *kv->v);
  }
  if (!kv || !kv->cap || !kv->k || !kv->v) {
    kv_free(kv);
    seer_errorf(err, SEER_ENOMEM, "cuda: out of memory");
    return NULL;
  }
  return kv;
}

/* ---- the forward pass ---- */

/* How a call's launches run. A graphed decode step walks the same code either way: capturing, each
 * stretch of launches up to a hook point with hooks (or the end) becomes a graph segment, launched
 * as it closes so the hooks see its results; replaying, the segments already hold the launches, so
 * the walk skips them and launches each segment where its capture closed. */
typedef enum dev_run { RUN_DIRECT, RUN_CAPTURE, RUN_REPLAY } dev_run;

/* Device buffers of one call; rows are [B][T] (R = B*T), as in forward.c. */
typedef struct dev_fwd {
  seer_model *m;
  seer_gpu *g;
  int64_t B, T, R, start;
  int graphed; /* a decode step through a graph (captured or replayed) */
  uint64_t x, xn, q, k, v, att, o, gt, up, lg, lora, split, scores, attw,
      in;                       /* device_graph.h's DEV_* */
  size_t split_bytes;           /* DEV_SPLIT's size */
  uint64_t tok, pos, pad, step; /* in DEV_IN, at dev_inputs_layout's offsets */
  dev_run run;
  dev_graph *dg;                /* the graph a graphed step captures or replays */
  int seg;                      /* dg's segments launched so far in this call */
  int in_capture;               /* a segment's capture is open */
  const uint8_t *hooked;        /* a graphed step: the hook points with hooks, as keyed */
  seer_storage *sx, *so, *satt; /* x, o and att as device storages while hooks are registered */
  seer_storage *sattw;          /* attw's view while a layer's attn.weights hooks run */
  seer_gpu_scope *scope;        /* theirs, and the hooks' results of ops on them */
  seer_hook_site site;
  uint64_t lora_gen; /* seer_lora_generation at the call's start */
  seer_error *err;
} dev_fwd;

static unsigned blocks(int64_t n, int per) {
  int64_t b = (n + per - 1) / per;
  return (unsigned)(b < 1 ? 1 : b > 4096 ? 4096 : b);
}

#define F32(p) ((float *)(uintptr_t)(p))

/* Every kernel launch of the forward pass: a replay's walk finds it in the graph already. */
static int launch(dev_fwd *f, seer_gpu_kernel k, unsigned gx, unsigned gy, unsigned gz,
                  unsigned threads, size_t smem, const void *args) {
  if (f->run == RUN_REPLAY) return 0;
  return seer_gpu_launch(f->g, k, gx, gy, gz, threads, smem, args, f->err);
}

static int launch_from(void *f, seer_gpu_kernel k, unsigned gx, unsigned gy, unsigned gz,
                       unsigned threads, size_t smem, const void *args) {
  return launch(f, k, gx, gy, gz, threads, smem, args);
}

static int k_rmsnorm(dev_fwd *f, uint64_t x, uint64_t w, int64_t rows, int n, uint64_t y) {
  struct seer_k_rmsnorm_args a = {F32(x), F32(w), F32(y), n, (float)f->m->cfg.eps};
  return launch(f, SEER_GPU_seer_k_rmsnorm, (unsigned)rows, 1, 1, SEER_NORM_THREADS, 0, &a);
}

/* y = x·Wᵀ (+ bias) for `rows` rows. From seer_gpu_split_gemm_rows rows on, bf16 weights go to the
 * split GEMM on tensor cores (gpu.h: x = hi + lo in bf16, then W·hi + W·lo with exact products and
 * f32 accumulation, in the workspace's DEV_SPLIT; bf16-rounded activations alone would miss the
 * fixtures' tolerance 59-86x), on cuBLASLt or seer's mma kernel; f32 weights go to cuBLASLt's f32
 * GEMM when it is there. f16 weights stay on the GEMV: cuBLASLt wants one type for both operands,
 * and an f16 split (hi = f16(x)) would overflow past 65504, where activations do go (Gemma's
 * residual stream), and lose lo's bits below f16's normal range. The GEMMs take no bias: it is
 * added after, the sum plus bias rounded once as the GEMV does. */
static int k_linear(dev_fwd *f, uint64_t x, int64_t rows, const dev_w *w, const model_w *mw,
                    uint64_t bias, uint64_t y) {
  if (f->run == RUN_REPLAY) return 0;
  int64_t n = mw->rows, k = mw->cols;
  int split = w->wtype == SEER_W_BF16 && rows >= seer_gpu_split_gemm_rows(f->g);
  int lt_rows = seer_gpu_gemm_rows(f->g);
  int rc;
  if (split && seer_gpu_split_gemm_bytes(rows, k) > f->split_bytes)
    return seer_errorf(f->err, SEER_EINVAL,
                       "cuda: the split GEMM of %lld x %lld needs %zu bytes of workspace, the call "
                       "reserved %zu (a bug in the device engine's sizing)",
                       (long long)rows, (long long)k, seer_gpu_split_gemm_bytes(rows, k),
                       f->split_bytes);
  if (split)
    rc = seer_gpu_gemm_bf16_split(f->g, x, rows, k, w->p, n, y, f->split, f->err);
  else if (lt_rows && rows >= lt_rows && w->wtype == SEER_W_F32)
    rc = seer_gpu_gemm_f32(f->g, x, rows, k, w->p, n, y, f->err);
  else {
    struct seer_k_gemv_args a = {(const void *)(uintptr_t)w->p,
                                 F32(x),
                                 F32(bias),
                                 F32(y),
                                 (int)n,
                                 (int)k,
                                 (int)rows,
                                 w->wtype};
    return launch(f, SEER_GPU_seer_k_gemv, blocks(n, SEER_GEMV_THREADS / 32),
                  (unsigned)seer_gemv_grid_y(rows), 1, SEER_GEMV_THREADS, 0, &a);
  }
  if (rc || !bias) return rc;
  struct seer_k_binary_rows_args b = {F32(y), F32(bias), rows * n, n, 0, SEER_BIN_ADD};
  return launch(f, SEER_GPU_seer_k_binary_rows, blocks(rows * n, SEER_ELT_THREADS), 1, 1,
                SEER_ELT_THREADS, 0, &b);
}

/* The adapter state a call sized its scratch for and a graph was keyed by must hold to its end: a
 * hook that switches, disables, merges or deletes an adapter mid-pass is refused (the CPU engine
 * would apply the change to the layers after the hook; a graph replay could not). */
static int lora_unchanged(dev_fwd *f) {
  if (seer_lora_generation(f->m) == f->lora_gen) return 0;
  return seer_errorf(f->err, SEER_ESTATE,
                     "forward: a LoRA adapter was switched, disabled, merged or deleted during a "
                     "forward pass of a device = \"cuda\" model (from a hook); change adapters "
                     "between forward calls");
}

/* A projection of layer li as forward.c's linear makes it: with the active adapter's saved or
 * merged weight when it has one, then its unmerged side path y += (x·Aᵀ)·Bᵀ · scale in f32 like
 * the CPU's (the two products through k_linear as f32 weights are, each rounded to f32, then the
 * scaled add with the product rounded first), in the workspace's LoRA scratch (DEV_LORA: x·Aᵀ,
 * then its product with Bᵀ). */
static int k_proj(dev_fwd *f, int li, lora_slot s, uint64_t x, int64_t rows, const dev_w *w,
                  const model_w *mw, uint64_t bias, uint64_t y) {
  int rc = lora_unchanged(f);
  if (rc) return rc;
  rc = k_linear(f, x, rows, seer_device_lora_weight(f->m, li, s, w), mw, bias, y);
  const lora_mat *lm = rc ? NULL : seer_device_lora_side(f->m, li, s);
  if (!lm) return rc;
  uint64_t t = f->lora, u = f->lora + (uint64_t)(rows * lm->r) * 4;
  dev_w A = {lm->dev_A, SEER_W_F32}, B = {lm->dev_B, SEER_W_F32};
  model_w ashape = {.rows = lm->r, .cols = lm->in}, bshape = {.rows = lm->out, .cols = lm->r};
  struct seer_k_add_scaled_args a = {F32(y), F32(u), rows * lm->out, lm->scale};
  if ((rc = k_linear(f, x, rows, &A, &ashape, 0, t)) ||
      (rc = k_linear(f, t, rows, &B, &bshape, 0, u)))
    return rc;
  return launch(f, SEER_GPU_seer_k_add_scaled, blocks(a.n, SEER_ELT_THREADS), 1, 1,
                SEER_ELT_THREADS, 0, &a);
}

static int k_add(dev_fwd *f, uint64_t x, uint64_t y, int64_t n) {
  struct seer_k_add_args a = {F32(x), F32(y), n};
  return launch(f, SEER_GPU_seer_k_add, blocks(n, SEER_ELT_THREADS), 1, 1, SEER_ELT_THREADS, 0, &a);
}

static int k_rope(dev_fwd *f, uint64_t x, int heads, uint64_t inv_freq) {
  struct seer_k_rope_args a = {F32(x), (const int64_t *)(uintptr_t)f->pos, F32(inv_freq), heads,
                               f->m->cfg.info.head_dim};
  return launch(f, SEER_GPU_seer_k_rope, (unsigned)f->R, 1, 1, SEER_ROPE_THREADS, 0, &a);
}

/* ---- hooks on device storages ---- */

/* x, o and att as device storages the hooks view, in a scope of the call (ops on them give device
 * tensors of the scope): borrowed from the workspace (the storages never free it), so a view kept
 * past the call must become a host copy at its end (seer_device_forward's done:). */
static int dev_views(dev_fwd *f, const size_t need[DEV_NBUF]) {
  if (!(f->scope = seer_gpu_scope_new(f->g, f->err))) return f->err ? f->err->code : SEER_ENOMEM;
  seer_storage **st[3] = {&f->sx, &f->so, &f->satt};
  uint64_t p[3] = {f->x, f->o, f->att};
  size_t n[3] = {need[DEV_X], need[DEV_O], need[DEV_ATT]};
  for (int i = 0; i < 3; i++)
    if (!(*st[i] = seer_gpu_scope_view(f->scope, p[i], n[i], f->err)))
      return f->err ? f->err->code : SEER_ENOMEM;
  return 0;
}

/* A graphed step's segment boundaries. seg_end closes the segment being captured (or takes the
 * next one captured before) and launches it; seg_begin opens the next capture. */
static int seg_begin(dev_fwd *f) {
  if (f->run != RUN_CAPTURE) return 0;
  int rc = seer_gpu_capture_begin(f->g, f->err);
  f->in_capture = !rc;
  return rc;
}

static int seg_end(dev_fwd *f) {
  if (f->run == RUN_DIRECT) return 0;
  if (f->run == RUN_CAPTURE) {
    seer_gpu_graph *seg = NULL;
    f->in_capture = 0;
    int rc = seer_gpu_capture_end(f->g, &seg, f->err);
    if (rc || (rc = dev_graph_add(f->g, f->dg, seg, f->err))) return rc;
  }
  /* A graph keyed by the hook points it splits at has one segment per stretch the walk closes. */
  if (f->seg >= f->dg->nsegs)
    return seer_errorf(f->err, SEER_EINVAL,
                       "cuda: a decode step's replay reached segment %d of a graph of %d", f->seg,
                       f->dg->nsegs);
  return seer_gpu_graph_launch(f->g, f->dg->segs[f->seg++], f->err);
}

/* Whether hooks run at p: in a graphed step, as the graph was keyed (its segments split there). */
static int hooks_at(dev_fwd *f, seer_hook_point p) {
  return f->hooked ? f->hooked[dev_hook_index(p)] : seer_hooks_any(&f->site, p);
}

/* Runs the hooks at p on st. Kernels changed every device storage since the last host access, so
 * all are stale (a hook may read a view kept from another point); host writes go back after. */
static int dev_hooks(dev_fwd *f, seer_hook_point p, seer_storage *st, int nd, const int64_t *shape,
                     int writable) {
  if (!st || !hooks_at(f, p)) return 0;
  int rc = seg_end(f);
  if (rc) return rc;
  seer_storage *all[] = {f->sx, f->so, f->satt, f->sattw};
  for (int i = 0; i < 4; i++)
    if (all[i]) seer_storage_device_invalidate(all[i]);
  rc = seer_hooks_run(&f->site, p, st, nd, shape, writable);
  for (int i = 0; i < 4; i++) {
    int src = all[i] ? seer_storage_device_sync(all[i], f->err) : 0;
    if (!rc) rc = src;
  }
  return rc ? rc : seg_begin(f);
}

static int residual_hooks(dev_fwd *f, seer_hook_point p, seer_storage *st) {
  int64_t shape[3] = {f->B, f->T, f->m->cfg.info.hidden_size};
  return dev_hooks(f, p, st, 3, shape, 1);
}

/* Layer li's attn.weights hooks, on the weights its attention just wrote to attw ([B][heads][T]
 * [start + T], read-only as forward.c gives them). forward.c hands each layer's hooks a storage
 * of their own, so a view a hook keeps becomes a host copy here, before the next layer's
 * attention overwrites attw. */
static int attn_weight_hooks(dev_fwd *f, int li) {
  seer_hook_point p = {SEER_HOOK_ATTN_WEIGHTS, li};
  if (!hooks_at(f, p)) return 0;
  int64_t shape[4] = {f->B, f->m->cfg.info.num_heads, f->T, f->start + f->T};
  size_t bytes = sizeof(float) * (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
  if (!(f->sattw = seer_gpu_scope_view(f->scope, f->attw, bytes, f->err)))
    return f->err ? f->err->code : SEER_ENOMEM;
  int rc = dev_hooks(f, p, f->sattw, 4, shape, 0);
  int drc = seer_storage_device_detach(f->sattw, rc ? NULL : f->err);
  seer_storage_release(f->sattw);
  f->sattw = NULL;
  return rc ? rc : drc;
}

/* Layer li's attention (device_attention.c), with its softmax weights in attw while hooks at
 * its attn.weights want them. */
static int attend(dev_fwd *f, int li, struct seer_kv_dev *kv) {
  dev_attn a = {.m = f->m,
                .B = f->B,
                .T = f->T,
                .start = f->start,
                .graphed = f->graphed,
                .q = f->q,
                .k = f->k,
                .v = f->v,
                .out = f->att,
                .pad = f->pad,
                .step = f->step,
                .scores = f->scores,
                .launch = launch_from,
                .ctx = f,
                .err = f->err};
  dev_attn_cache c = {kv->k[li], kv->v[li], kv->cap[li]};
  int weights = hooks_at(f, (seer_hook_point){SEER_HOOK_ATTN_WEIGHTS, li});
  return dev_attend(&a, li, c, weights ? f->attw : 0);
}

static int run_layer(dev_fwd *f, int li, struct seer_kv_dev *kv) {
  if (seer_interrupt_pending())
    return seer_errorf(f->err, SEER_ECANCELED, "forward interrupted before layer %d", li);
  seer_model *m = f->m;
  const model_cfg *c = &m->cfg;
  const layer_w *L = &m->layers[li];
  const dev_layer *D = &m->dev->layers[li];
  int64_t R = f->R, H = c->info.hidden_size, I = c->info.intermediate_size;
  int nh = c->info.num_heads, nkv = c->info.num_kv_heads, hd = c->info.head_dim;
  int rc;
  if ((rc = k_rmsnorm(f, f->x, D->in_norm, R, (int)H, f->xn)) ||
      (rc = k_proj(f, li, LORA_Q, f->xn, R, &D->q, &L->q, D->q_b, f->q)) ||
      (rc = k_proj(f, li, LORA_K, f->xn, R, &D->k, &L->k, D->k_b, f->k)) ||
      (rc = k_proj(f, li, LORA_V, f->xn, R, &D->v, &L->v, D->v_b, f->v)))
    return rc;
  if (c->qk_norm && ((rc = k_rmsnorm(f, f->q, D->q_norm, R * nh, hd, f->q)) ||
                     (rc = k_rmsnorm(f, f->k, D->k_norm, R * nkv, hd, f->k))))
    return rc;
  if ((rc = k_rope(f, f->q, nh, D->inv_freq)) || (rc = k_rope(f, f->k, nkv, D->inv_freq)) ||
      (rc = attend(f, li, kv)) || (rc = attn_weight_hooks(f, li)))
    return rc;
  int64_t zshape[3] = {f->B, f->T, (int64_t)nh * hd};
  if ((rc = dev_hooks(f, (seer_hook_point){SEER_HOOK_ATTN_HEADS, li}, f->satt, 3, zshape, 1)) ||
      (rc = k_proj(f, li, LORA_O, f->att, R, &D->o, &L->o, D->o_b, f->o)))
    return rc;
  if (c->sandwich_norms && (rc = k_rmsnorm(f, f->o, D->attn_post_norm, R, (int)H, f->o))) return rc;
  if ((rc = residual_hooks(f, (seer_hook_point){SEER_HOOK_ATTN, li}, f->so)) ||
      (rc = k_add(f, f->x, f->o, R * H)) ||
      (rc = k_rmsnorm(f, f->x, D->ff_pre_norm, R, (int)H, f->xn)) ||
      (rc = k_proj(f, li, LORA_GATE, f->xn, R, &D->gate, &L->gate, 0, f->gt)) ||
      (rc = k_proj(f, li, LORA_UP, f->xn, R, &D->up, &L->up, 0, f->up)))
    return rc;
  int act = c->act == ACT_SILU        ? SEER_ACT_SILU
            : c->act == ACT_GELU_TANH ? SEER_ACT_GELU_TANH
                                      : SEER_ACT_GELU;
  struct seer_k_act_mul_args am = {F32(f->gt), F32(f->up), F32(f->gt), R * I, act};
  if ((rc = launch(f, SEER_GPU_seer_k_act_mul, blocks(R * I, SEER_ELT_THREADS), 1, 1,
                   SEER_ELT_THREADS, 0, &am)) ||
      (rc = k_proj(f, li, LORA_DOWN, f->gt, R, &D->down, &L->down, 0, f->o)))
    return rc;
  if (c->sandwich_norms && (rc = k_rmsnorm(f, f->o, D->ff_post_norm, R, (int)H, f->o))) return rc;
  if ((rc = residual_hooks(f, (seer_hook_point){SEER_HOOK_MLP, li}, f->so))) return rc;
  return k_add(f, f->x, f->o, R * H);
}

/* Every launch of one forward pass, from the embedding to the logits in f->lg (no logits when
 * want_logits is 0; with last, one row per batch row). hsd, when set, is device memory for the
 * hidden states [L + 1][B][T][H]: each goes there by a copy on the stream, so the pass never waits
 * for the host between layers and the caller downloads them in one go at the end. */
static int launch_all(dev_fwd *f, struct seer_kv_dev *kv, uint64_t hsd, int last, int want_logits) {
  seer_model *m = f->m;
  const model_cfg *c = &m->cfg;
  int64_t H = c->info.hidden_size, V = c->info.vocab_size, L = c->info.num_layers;
  int64_t B = f->B, T = f->T, R = f->R;
  seer_gpu *g = f->g;
  seer_error *err = f->err;
  size_t step = sizeof(float) * (size_t)(R * H); /* one hidden-state entry, [B][T][H] like x */
  /* The active adapter's modules_to_save replace these as they do on the CPU. */
  const dev_w *embed = seer_device_lora_weight(m, -1, LORA_EMBED, &m->dev->embed);
  const dev_w *head = seer_device_lora_weight(m, -1, LORA_LM_HEAD, &m->dev->lm_head);
  struct seer_k_embed_args ea = {(const void *)(uintptr_t)embed->p,
                                 (const int32_t *)(uintptr_t)f->tok,
                                 F32(f->x),
                                 (int)H,
                                 embed->wtype,
                                 (float)c->embed_scale};
  int rc;
  if ((rc = launch(f, SEER_GPU_seer_k_embed, (unsigned)R, 1, 1, SEER_ELT_THREADS, 0, &ea)) ||
      (hsd && (rc = seer_gpu_copy(g, hsd, f->x, step, err))) ||
      (rc = residual_hooks(f, (seer_hook_point){SEER_HOOK_EMBED, -1}, f->sx)))
    return rc;
  for (int64_t l = 0; l < L; l++) {
    if ((rc = run_layer(f, (int)l, kv))) return rc;
    /* HF records a layer's hidden state as the layer produced it, before hooks on its output. */
    if (hsd && l < L - 1 &&
        (rc = seer_gpu_copy(g, hsd + (uint64_t)(l + 1) * step, f->x, step, err)))
      return rc;
    if ((rc = residual_hooks(f, (seer_hook_point){SEER_HOOK_LAYER, (int)l}, f->sx))) return rc;
  }
  if ((rc = k_rmsnorm(f, f->x, m->dev->final_norm, R, (int)H, f->x)) ||
      (hsd && (rc = seer_gpu_copy(g, hsd + (uint64_t)L * step, f->x, step, err))) ||
      (rc = residual_hooks(f, (seer_hook_point){SEER_HOOK_FINAL_NORM, -1}, f->sx)))
    return rc;
  if (!want_logits) return 0;
  if ((rc = lora_unchanged(f))) return rc;
  uint64_t head_in = f->x;
  if (last) { /* each row's final position, so the head runs once per row */
    for (int64_t b = 0; b < B && !rc && f->run != RUN_REPLAY; b++)
      rc =
          seer_gpu_copy(g, f->xn + (uint64_t)(b * H) * 4,
                        f->x + (uint64_t)((b * T + T - 1) * H) * 4, sizeof(float) * (size_t)H, err);
    head_in = f->xn;
  }
  int64_t rows_out = last ? B : R;
  if (rc || (rc = k_linear(f, head_in, rows_out, head, &m->lm_head, 0, f->lg))) return rc;
  if (c->final_softcap > 0) {
    struct seer_k_softcap_args sa = {F32(f->lg), rows_out * V, (float)c->final_softcap};
    rc = launch(f, SEER_GPU_seer_k_softcap, blocks(rows_out * V, SEER_ELT_THREADS), 1, 1,
                SEER_ELT_THREADS, 0, &sa);
  }
  return rc;
}

/* A decode step through dg: captured for key (the batch, logits mode, workspace, cache and hook
 * points) unless replay says dg is for it already. The inputs, the step counter included, are in
 * the workspace already (uploaded by the caller, outside the graph). The walk checks what the
 * per-launch path checks (interrupts, attention lengths) as it goes. */
static int decode_graph(dev_fwd *f, dev_graph *dg, struct seer_kv_dev *kv, const dev_graph_key *key,
                        int replay) {
  f->dg = dg, f->seg = 0, f->hooked = key->hooked;
  f->run = replay ? RUN_REPLAY : RUN_CAPTURE;
  int rc = replay ? 0 : dev_graph_begin(f->g, dg, key, f->err);
  if (!rc && !(rc = seg_begin(f)) &&
      !(rc = launch_all(f, kv, 0, key->mode == SEER_LOGITS_LAST, key->mode != SEER_LOGITS_NONE)))
    rc = seg_end(f);
  if (f->in_capture) seer_gpu_capture_abort(f->g), f->in_capture = 0;
  if (!replay && rc) dev_graph_clear(f->g, dg);
  if (!replay && !rc) dg->complete = 1, f->m->dev->captures++;
  f->run = RUN_DIRECT, f->hooked = NULL;
  return rc;
}

void seer_device_graph_counts(const seer_model *m, uint64_t *captures, uint64_t *launches) {
  *captures = m->dev ? m->dev->captures : 0;
  *launches = m->dev ? seer_gpu_graph_replays(m->dev->g) : 0;
}

uint64_t seer_device_uploads(const seer_model *m) {
  return m->dev ? seer_gpu_uploads(m->dev->g) : 0;
}

uint64_t seer_device_launches(const seer_model *m) {
  return m->dev ? seer_gpu_launches(m->dev->g) : 0;
}

void seer_device_test_skip_step_upload(seer_model *m, int on) {
  if (m->dev) m->dev->test_skip_step = on;
}

uint64_t seer_device_kernel_launches(const seer_model *m, int kernel) {
  return m->dev && kernel >= 0 && kernel < SEER_GPU_KERNEL_COUNT
             ? seer_gpu_kernel_launches(m->dev->g, (seer_gpu_kernel)kernel)
             : 0;
}

int seer_device_forward(seer_model *m, seer_kv_cache *cache, size_t batch,
                        const int32_t *const *ids, const size_t *lens,
                        const seer_forward_opts *opts, seer_forward_out *out, seer_error *err) {
  memset(out, 0, sizeof *out);
  const model_cfg *c = &m->cfg;
  const seer_model_info *in = &c->info;
  int64_t V = in->vocab_size, H = in->hidden_size, I = in->intermediate_size;
  int64_t L = in->num_layers, hd = in->head_dim;
  int64_t qd = (int64_t)in->num_heads * hd, kvd = (int64_t)in->num_kv_heads * hd;
  int batched = opts && opts->batched;
  seer_fwd_rows rows;
  int rc;
  if ((rc = seer_fwd_rows_init(m, cache, batch, ids, lens, opts, &rows, err))) return rc;
  int64_t B = rows.B, T = rows.T, start = rows.start, R = B * T;
  /* A hook may call forward on this model again: that call gets buffers of its own (and no
   * graphs), since growing the model's workspace would free buffers the outer call is using. */
  int nested = m->dev->depth++ > 0;
  dev_workspace own_ws = {0}, *ws = nested ? &own_ws : &m->dev->ws;
  seer_gpu *g = m->dev->g;
  dev_fwd f = {.m = m, .g = g, .B = B, .T = T, .R = R, .start = start, .err = err};
  f.site = (seer_hook_site){m, opts, start > 0, B, T, start, err};
  f.lora_gen = seer_lora_generation(m);
  int hooked = m->num_hooks || (opts && opts->num_hooks);
  /* A decode step (one token per row, over a cache, no hidden states) is one CUDA graph, or with
   * hooks graph segments split at the hook points with hooks (a graph of its own, so that hooked
   * and unhooked steps both replay); it replays while nothing it was captured over has moved. */
  int graphed = cache && T == 1 && !(opts && opts->hidden_states) && dev_graphs_enabled();
  if (nested) graphed = 0;
  f.graphed = graphed;
  seer_logits_mode mode = opts ? opts->logits : SEER_LOGITS_ALL;
  int last = mode == SEER_LOGITS_LAST;
  /* The call's buffers (device_graph.h's order), in the model's workspace; with hooks, x, o and
   * att are also device storages the hooks view. */
  uint64_t *bufs[DEV_NBUF] = {&f.x,  &f.xn, &f.q,    &f.k,     &f.v,      &f.att,  &f.o, &f.gt,
                              &f.up, &f.lg, &f.lora, &f.split, &f.scores, &f.attw, &f.in};
  dev_inputs inl = dev_inputs_layout(R, B);
  size_t fl = sizeof(float);
  /* The split GEMM's hi and lo parts, for the widest input of a projection (hidden, attention or
   * MLP width), whenever the call has its rows (whatever the weights' types: a model's can mix). */
  int64_t widest = H > qd ? H : qd;
  widest = widest > I ? widest : I;
  size_t split_bytes = R >= seer_gpu_split_gemm_rows(g) ? seer_gpu_split_gemm_bytes(R, widest) : 0;
  size_t need[DEV_NBUF] = {fl * (size_t)(R * H),
                           fl * (size_t)(R * H),
                           fl * (size_t)(R * qd),
                           fl * (size_t)(R * kvd),
                           fl * (size_t)(R * kvd),
                           fl * (size_t)(R * qd),
                           fl * (size_t)(R * H),
                           fl * (size_t)(R * I),
                           fl * (size_t)(R * I),
                           fl * (size_t)((last ? B : R) * V),
                           fl * (size_t)(R * seer_device_lora_scratch(m)),
                           split_bytes,
                           0, /* DEV_SCORES: once the cache is reserved */
                           0,
                           inl.bytes};
  for (int l = 0; l < L && hooked; l++)
    if (seer_hooks_any(&f.site, (seer_hook_point){SEER_HOOK_ATTN_WEIGHTS, l}))
      need[DEV_ATTW] = dev_attn_weights_bytes(m, B, T, start, graphed);
  seer_tensor *hs = NULL, *logits = NULL;
  uint64_t hs_dev = 0;
  uint8_t *hook_flags = NULL; /* a graphed hooked step's key: the hook points with hooks */
  struct seer_kv_dev *kv = cache ? cache->dev : NULL, *tmp_kv = NULL;
  /* The inputs, packed as DEV_IN holds them, go up in one copy (one wait on the stream). */
  char *inputs = malloc(inl.bytes);
  if (!inputs) {
    rc = seer_errorf(err, SEER_ENOMEM, "forward: out of memory");
    goto done;
  }
  if (R > 65535) { /* the GEMV's grid.y (it serves every dtype, and the LoRA side paths) */
    rc = seer_errorf(err, SEER_ENOTSUP,
                     "cuda: %lld rows (batch x tokens) in one call; at most 65535: split the "
                     "prompt into calls over the cache",
                     (long long)R);
    goto done;
  }
  memcpy(inputs + inl.step, &start, sizeof start);
  memcpy(inputs + inl.pos, rows.pos, sizeof(int64_t) * (size_t)R);
  memcpy(inputs + inl.pad, rows.pad, sizeof(int64_t) * (size_t)B);
  int32_t *tok = (int32_t *)(void *)(inputs + inl.tok);
  /* Padding slots embed token 0 and are masked out of attention. */
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      int64_t at = t - (T - (int64_t)lens[b]);
      tok[b * T + t] = at >= 0 ? ids[b][at] : 0;
    }
  if (!kv && !(kv = tmp_kv = kv_new(m, err))) {
    rc = err ? err->code : SEER_ENOMEM;
    goto done;
  }
  if (cache && !cache->dev) cache->dev = kv;
  if ((rc = kv_reserve(m, kv, B, start + T, err))) goto done;
  need[DEV_SCORES] = dev_attn_scores_bytes(m, B, T, start, kv->cap, graphed);
  if ((rc = dev_workspace_reserve(g, ws, need, err))) goto done;
  for (int i = 0; i < DEV_NBUF; i++)
    *bufs[i] = ws->p[i];
  f.split_bytes = ws->bytes[DEV_SPLIT];
  if (hooked && (rc = dev_views(&f, need))) goto done;
  f.step = f.in + inl.step, f.pos = f.in + inl.pos, f.pad = f.in + inl.pad, f.tok = f.in + inl.tok;
  if (graphed && hooked && !(hook_flags = dev_hook_flags(&f.site, (int)L, err))) {
    rc = err ? err->code : SEER_ENOMEM;
    goto done;
  }
  dev_graph *dg = hooked ? &m->dev->hooked : &m->dev->decode;
  dev_graph_key key = {
      B, mode, ws->gen, kv->nlayers, kv->k, kv->v, kv->cap, hook_flags, seer_lora_generation(m)};
  int replay = graphed && dev_graph_matches(dg, &key);
  size_t from = replay && m->dev->test_skip_step ? inl.pos : 0;
  if ((rc = seer_gpu_upload(g, f.in + from, inputs + from, inl.bytes - from, err))) goto done;
  if (opts && opts->hidden_states) {
    int64_t shp4[4] = {L + 1, B, T, H}, shp3[3] = {L + 1, T, H};
    hs = batched ? seer_tensor_new(SEER_DTYPE_F32, 4, shp4, err)
                 : seer_tensor_new(SEER_DTYPE_F32, 3, shp3, err);
    if (!hs) {
      rc = err ? err->code : SEER_ENOMEM;
      goto done;
    }
  }
  if (mode != SEER_LOGITS_NONE) {
    int64_t shp[3] = {B, last ? 1 : T, V};
    int64_t nd = 3, *sp = shp;
    if (last) shp[1] = V, nd = 2;
    if (!batched) sp = shp + 1, nd--;
    if (!(logits = seer_tensor_new(SEER_DTYPE_F32, (int)nd, sp, err))) {
      rc = err ? err->code : SEER_ENOMEM;
      goto done;
    }
  }
  /* The hidden states' device copy: memory of the call's own, since it can dwarf the workspace
   * (a long prefill's [L + 1][R][H]) and a graphed step never has one. */
  if (hs && (rc = seer_gpu_alloc(g, sizeof(float) * (size_t)seer_tensor_numel(hs), &hs_dev, err)))
    goto done;
  rc = graphed ? decode_graph(&f, dg, kv, &key, replay)
               : launch_all(&f, kv, hs_dev, last, logits != NULL);
  if (rc) goto done;
  if (hs && (rc = seer_gpu_download(g, seer_tensor_data(hs), hs_dev,
                                    sizeof(float) * (size_t)seer_tensor_numel(hs), err)))
    goto done;
  if (logits && (rc = seer_gpu_download(g, seer_tensor_data(logits), f.lg,
                                        sizeof(float) * (size_t)((last ? B : R) * V), err)))
    goto done;
  if (cache) cache->len = start + T;
done:
  /* Views a hook kept outlive the call: they become host copies before the next call overwrites
   * the workspace under them. */
  for (int i = 0; i < 3; i++) {
    seer_storage *view = i == 0 ? f.sx : i == 1 ? f.so : f.satt;
    if (!view) continue;
    int drc = seer_storage_device_detach(view, rc ? NULL : err);
    if (!rc) rc = drc;
    seer_storage_release(view);
  }
  int src = seer_gpu_scope_end(f.scope, rc ? NULL : err);
  if (!rc) rc = src;
  free(hook_flags);
  seer_gpu_free(g, hs_dev);
  dev_workspace_free(g, &own_ws);
  m->dev->depth--;
  kv_free(tmp_kv == (cache ? cache->dev : NULL) ? NULL : tmp_kv);
  free(inputs);
  seer_fwd_rows_free(&rows);
  if (rc) {
    seer_tensor_release(hs);
    seer_tensor_release(logits);
    return rc;
  }
  out->hidden_states = hs;
  out->logits = logits;
  return 0;
}
