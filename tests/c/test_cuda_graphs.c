/* CUDA graphs for the device engine's decode step, through the grid emulator: the recording and
 * replay of gpu.c (launches run at replay, not at capture; what a capture cannot contain is
 * refused), and decoding with graphs against decoding with every launch direct
 * (SEER_CUDA_GRAPHS=0): the same logits, bit for bit, over cache growth (a re-capture), a hooked
 * step in between (launches direct, the graph kept), a sliding window's ring wrapping, and a
 * left-padded batch, hooked steps split into segments (attn.weights hooks included, their weights
 * equal too). Attention's paths against each other, bit for bit: a prefill in one launch pair per
 * layer against one per position (with launch counts), scores in global memory against shared.
 * Negative control: replays without the step counter's upload
 * (seer_device_test_skip_step_upload) must change the logits. On the emulator unless
 * SEER_CUDA_EMULATE is set otherwise (tools/cuda_check.sh runs it on a GPU with 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "device_engine.h"
#include "gpu.h"
#include "seer/model.h"

/* ---- gpu.c's graphs on their own ---- */

static void test_record_replay(void) {
  seer_error err = {0};
  seer_gpu *g = NULL;
  CHECK_MSG(seer_gpu_open(0, !strcmp(getenv("SEER_CUDA_EMULATE"), "1"), &g, &err) == 0, "%s",
            err.msg);
  if (!g) return;
  float x[300], y[300];
  for (int i = 0; i < 300; i++)
    x[i] = (float)i, y[i] = 0.5f;
  uint64_t px = 0, py = 0, pz = 0;
  CHECK(seer_gpu_alloc(g, sizeof x, &px, &err) == 0);
  CHECK(seer_gpu_alloc(g, sizeof y, &py, &err) == 0);
  CHECK(seer_gpu_upload(g, px, x, sizeof x, &err) == 0);
  CHECK(seer_gpu_upload(g, py, y, sizeof y, &err) == 0);
  CHECK(seer_gpu_capture_begin(g, &err) == 0);
  struct seer_k_add_args a = {(float *)(uintptr_t)px, (const float *)(uintptr_t)py, 300};
  uint64_t launches = seer_gpu_launches(g);
  CHECK(seer_gpu_launch(g, SEER_GPU_seer_k_add, 2, 1, 1, SEER_ELT_THREADS, 0, &a, &err) == 0);
  a.n = 0; /* the graph keeps the arguments as they were at capture */
  CHECK(seer_gpu_copy(g, py, px, 4, &err) == 0);
  /* What the driver refuses inside a capture is refused under the emulator too. */
  CHECK(seer_gpu_alloc(g, 64, &pz, &err) != 0);
  CHECK_STR_CONTAINS(err.msg, "allocating device memory while a CUDA graph is being captured");
  CHECK(seer_gpu_upload(g, px, x, 4, &err) != 0);
  CHECK_STR_CONTAINS(err.msg, "a host-to-device copy while a CUDA graph is being captured");
  CHECK(seer_gpu_download(g, x, px, 4, &err) != 0);
  CHECK(seer_gpu_capture_begin(g, &err) != 0);
  seer_gpu_graph *gr = NULL;
  CHECK(seer_gpu_capture_end(g, &gr, &err) == 0);
  CHECK(gr != NULL);
  CHECK_MSG(seer_gpu_launches(g) == launches, "a captured launch ran at capture");
  float back[300];
  CHECK(seer_gpu_download(g, back, px, sizeof back, &err) == 0);
  CHECK(back[7] == 7.0f);
  /* Two replays of x += y, then y[0] = x[0], in order: x[0] = 0 + 0.5, y[0] = 0.5, then
   * x[0] = 0.5 + 0.5; the others add 0.5 twice. */
  for (int r = 0; r < 2 && gr; r++)
    CHECK(seer_gpu_graph_launch(g, gr, &err) == 0);
  CHECK(seer_gpu_download(g, back, px, sizeof back, &err) == 0);
  CHECK_MSG(back[0] == 1.0f && back[7] == 8.0f && back[299] == 300.0f,
            "replayed x: %g %g %g, want 1 8 300", back[0], back[7], back[299]);
  CHECK(seer_gpu_launches(g) == launches + 2);
  CHECK(seer_gpu_graph_replays(g) == 2);
  seer_gpu_graph_free(g, gr);
  /* An aborted capture leaves the GPU usable. */
  CHECK(seer_gpu_capture_begin(g, &err) == 0);
  seer_gpu_capture_abort(g);
  CHECK(seer_gpu_alloc(g, 64, &pz, &err) == 0);
  seer_gpu_free(g, pz);
  seer_gpu_free(g, px);
  seer_gpu_free(g, py);
  seer_gpu_close(g);
}

/* ---- greedy decoding with and without graphs ---- */

enum { STEPS = 10, HOOKED_STEP = 6, MAXB = 2, V_MAX = 4096 };

static int noop_hook(void *ud, seer_tensor *h, const seer_hook_ctx *ctx, seer_tensor **replacement,
                     seer_error *err) {
  (void)ud, (void)h, (void)ctx, (void)replacement, (void)err;
  return 0;
}

static int argmax(const float *v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (v[i] > v[best]) best = i;
  return (int)best;
}

/* The per-call hooks of decode step s (at most 4); returns how many. */
typedef int (*hook_plan)(int s, seer_hook *h);

static int one_noop_hook(int s, seer_hook *h) {
  h[0] = (seer_hook){{SEER_HOOK_LAYER, 0}, noop_hook, NULL};
  return s == HOOKED_STEP;
}

/* Prefills rows (left-padded when B > 1), then decodes STEPS greedy tokens one at a time with the
 * hooks plan gives each step; every step's logits [B][V] go to lg. */
static int cur_step; /* the decode step running, for the hooks */
static int decode(seer_model *m, size_t B, const int32_t *const *rows, const size_t *lens,
                  int64_t V, float *lg, hook_plan plan) {
  seer_error err = {0};
  seer_kv_cache *cache = seer_kv_cache_new(m, B, &err);
  seer_forward_opts o = {0, SEER_LOGITS_LAST, NULL, 0, 1};
  seer_forward_out out = {0};
  int rc = cache ? seer_model_forward(m, cache, B, rows, lens, &o, &out, &err) : -1;
  CHECK_MSG(rc == 0, "prefill: %s", err.msg);
  int32_t next[MAXB];
  for (int s = 0; !rc && s <= STEPS; s++) {
    const float *l = seer_tensor_data(out.logits);
    for (size_t b = 0; b < B; b++)
      next[b] = argmax(l + b * V, V);
    if (s > 0) memcpy(lg + (size_t)(s - 1) * B * V, l, sizeof(float) * B * (size_t)V);
    seer_forward_out_free(&out);
    if (s == STEPS) break;
    const int32_t *one[MAXB] = {&next[0], &next[1]};
    size_t ones[MAXB] = {1, 1};
    seer_hook h[4];
    o.num_hooks = (size_t)plan(s, h);
    o.hooks = o.num_hooks ? h : NULL;
    cur_step = s;
    rc = seer_model_forward(m, cache, B, one, ones, &o, &out, &err);
    CHECK_MSG(rc == 0, "decode step %d: %s", s, err.msg);
  }
  seer_kv_cache_free(cache);
  return rc;
}

/* ---- hooked decode steps as graph segments ---- */

enum { EXTRA_STEP = 7, KEEP_STEP = 2, NEST_STEP = 5 };

/* Steering through the host: the layer-0 output scaled where the hook reads it (the shadow goes
 * back to the device before the next segment). At NEST_STEP (when nest is set) it also runs the
 * model (ud) on a prompt longer than any call before, which must neither move nor overwrite the
 * buffers of the call it runs in. */
static int nest;
static int scale_hook(void *ud, seer_tensor *h, const seer_hook_ctx *ctx, seer_tensor **replacement,
                      seer_error *err) {
  (void)ctx, (void)replacement;
  if (nest && cur_step == NEST_STEP) {
    int32_t p[16];
    for (int i = 0; i < 16; i++)
      p[i] = 2 + 3 * i;
    const int32_t *rows[1] = {p};
    size_t lens[1] = {16};
    seer_forward_opts o = {0, SEER_LOGITS_LAST, NULL, 0, 1};
    seer_forward_out out = {0};
    int rc = seer_model_forward(ud, NULL, 1, rows, lens, &o, &out, err);
    seer_forward_out_free(&out);
    if (rc) return rc;
  }
  float *x = seer_tensor_data(h);
  for (int64_t i = 0; i < seer_tensor_numel(h); i++)
    x[i] *= 0.75f;
  return 0;
}

/* Steering on the device: a row added in place to layers.1.attn (seer_tensor_binary_). */
static int add_row_hook(void *ud, seer_tensor *h, const seer_hook_ctx *ctx,
                        seer_tensor **replacement, seer_error *err) {
  (void)ctx, (void)replacement;
  return seer_tensor_binary_(SEER_OP_ADD, h, ud, err);
}

/* final_norm at step KEEP_STEP: keeps the view past the call and a copy of what it held. */
static seer_tensor *kept, *kept_copy;
static int keep_hook(void *ud, seer_tensor *h, const seer_hook_ctx *ctx, seer_tensor **replacement,
                     seer_error *err) {
  (void)ud, (void)ctx, (void)replacement;
  if (cur_step != KEEP_STEP || kept) return 0;
  kept = seer_tensor_retain(h);
  kept_copy = seer_tensor_clone(h, err);
  return kept_copy ? 0 : SEER_ENOMEM;
}

static seer_tensor *steer_row;
static seer_model *hooked_model;
/* Three hook points every step (four segments), one more at EXTRA_STEP (five). */
static int steering_hooks(int s, seer_hook *h) {
  h[0] = (seer_hook){{SEER_HOOK_LAYER, 0}, scale_hook, hooked_model};
  h[1] = (seer_hook){{SEER_HOOK_ATTN, 1}, add_row_hook, steer_row};
  h[2] = (seer_hook){{SEER_HOOK_FINAL_NORM, -1}, keep_hook, NULL};
  h[3] = (seer_hook){{SEER_HOOK_MLP, 1}, noop_hook, NULL};
  return s == EXTRA_STEP ? 4 : 3;
}

static int differing_steps(const float *a, const float *b, size_t B, int64_t V);

/* Every decode step hooked: its launches between hook points are graph segments, replayed while
 * the hook points stay; a hook point added re-captures, and so does going back. The same logits as
 * direct launches without the nested forward call (so that call changed nothing), and a view kept
 * past a call holds what it held then. */
static void test_hooked_decode(seer_model *m, int64_t V, const char *name) {
  const seer_model_info *in = seer_model_get_info(m);
  CHECK(in->num_layers >= 2);
  hooked_model = m;
  int64_t H = in->hidden_size;
  steer_row = seer_tensor_new(SEER_DTYPE_F32, 1, &H, NULL);
  float *r = seer_tensor_data(steer_row);
  for (int64_t i = 0; i < H; i++)
    r[i] = 0.01f * (float)(i % 7) - 0.02f;
  float *with = calloc((size_t)(STEPS * V), sizeof(float));
  float *without = calloc((size_t)(STEPS * V), sizeof(float));
  int32_t a[] = {2, 17, 301, 45};
  const int32_t *one[1] = {a};
  size_t la[1] = {4};
  uint64_t cap0, launch0, cap1, launch1;
  seer_device_graph_counts(m, &cap0, &launch0);
  nest = 1;
  CHECK(decode(m, 1, one, la, V, with, steering_hooks) == 0);
  nest = 0;
  seer_device_graph_counts(m, &cap1, &launch1);
  /* Captures: step 0 and step 4 (the cache grows), EXTRA_STEP (a fourth hook point) and the step
   * after (back to three). Launches: four segments a step, five at EXTRA_STEP. */
  unsigned long long captured = cap1 - cap0, graphed = launch1 - launch0;
  CHECK_MSG(captured == 4 && graphed == 4 * (STEPS - 1) + 5,
            "%s: hooked decoding: %llu captures and %llu graph launches, want 4 and %d", name,
            captured, graphed, 4 * (STEPS - 1) + 5);
  /* The view kept at KEEP_STEP became a host copy of its values at that call's end (final_norm is
   * the last hook point and only the head follows, which does not write x). */
  CHECK(kept && seer_tensor_device(kept) == SEER_DEVICE_CPU);
  CHECK_MSG(kept && kept_copy &&
                !memcmp(seer_tensor_data(kept), seer_tensor_data(kept_copy),
                        sizeof(float) * (size_t)seer_tensor_numel(kept)),
            "%s: a final_norm view kept past its call changed after later steps", name);
  seer_tensor_release(kept), seer_tensor_release(kept_copy);
  kept = kept_copy = NULL;
  setenv("SEER_CUDA_GRAPHS", "0", 1);
  CHECK(decode(m, 1, one, la, V, without, steering_hooks) == 0);
  unsetenv("SEER_CUDA_GRAPHS");
  seer_tensor_release(kept), seer_tensor_release(kept_copy);
  kept = kept_copy = NULL;
  int d = differing_steps(with, without, 1, V);
  CHECK_MSG(d == 0, "%s: hooked decoding: %d of %d steps' logits differ with graph segments", name,
            d, STEPS);
  printf("%s: %d hooked decode steps through %llu graph segment launches (%llu captures); logits "
         "equal to direct launches: %s\n",
         name, STEPS, graphed, captured, d ? "no" : "yes");
  free(with), free(without);
  seer_tensor_release(steer_row);
}

/* Steps whose logits differ from the reference's, bit for bit. */
static int differing_steps(const float *a, const float *b, size_t B, int64_t V) {
  int n = 0;
  for (int s = 0; s < STEPS; s++)
    n += memcmp(a + (size_t)s * B * V, b + (size_t)s * B * V, sizeof(float) * B * (size_t)V) != 0;
  return n;
}

/* ---- attention's paths: one launch per prefill, scores in global memory, weights hooks ---- */

/* A forward pass without a cache, every position's logits into lg ([B][T][V]); the kernel launches
 * it took. */
static uint64_t prefill_all(seer_model *m, size_t B, const int32_t *const *rows, const size_t *lens,
                            int64_t V, float *lg) {
  seer_error err = {0};
  seer_forward_opts o = {0, SEER_LOGITS_ALL, NULL, 0, 1};
  seer_forward_out out = {0};
  uint64_t before = seer_device_launches(m);
  int rc = seer_model_forward(m, NULL, B, rows, lens, &o, &out, &err);
  CHECK_MSG(rc == 0, "prefill: %s", err.msg);
  uint64_t launches = seer_device_launches(m) - before;
  if (!rc)
    memcpy(lg, seer_tensor_data(out.logits), sizeof(float) * (size_t)seer_tensor_numel(out.logits));
  (void)V;
  seer_forward_out_free(&out);
  return launches;
}

/* A prefill's attention is one kv_store and one attention launch per layer unless a ring layer's
 * positions wrap (then two per position, as before): fewer launches, the same logits bit for bit
 * as one launch pair per position (seer_device_set_attn_test_knobs' per_position). gemma2's
 * fixture: 4 layers, 0 and 2 sliding over a ring of 4 slots. */
static void test_prefill_launches(seer_model *m, int64_t V, const char *name) {
  int32_t p[6] = {2, 17, 301, 45, 9, 88};
  const int32_t *one[1] = {p}, *two[2] = {p + 2, p};
  size_t wrap[1] = {6}, fits[1] = {3}, padded[2] = {4, 6};
  struct {
    size_t B;
    const int32_t *const *rows;
    const size_t *lens;
    int64_t T, batched_layers; /* layers whose attention is one launch pair */
  } cases[] = {{1, one, wrap, 6, 2}, {1, one, fits, 3, 4}, {2, two, padded, 6, 2}};
  float *a = calloc((size_t)(2 * 6 * V), sizeof(float)),
        *b = calloc((size_t)(2 * 6 * V), sizeof(float));
  for (int i = 0; i < 3; i++) {
    seer_device_set_attn_test_knobs(m, 0, 1);
    uint64_t per_position = prefill_all(m, cases[i].B, cases[i].rows, cases[i].lens, V, a);
    seer_device_set_attn_test_knobs(m, 0, 0);
    uint64_t one_launch = prefill_all(m, cases[i].B, cases[i].rows, cases[i].lens, V, b);
    unsigned long long saved = per_position - one_launch,
                       want = (unsigned long long)(cases[i].batched_layers * (2 * cases[i].T - 2));
    CHECK_MSG(saved == want,
              "%s: prefill case %d: %llu launches fewer than per position, want %llu", name, i,
              saved, want);
    size_t n = cases[i].B * (size_t)(cases[i].T * V);
    int same = !memcmp(a, b, sizeof(float) * n);
    CHECK_MSG(same, "%s: prefill case %d: one launch per layer changes the logits", name, i);
    printf("%s: prefill of %zu x %lld tokens: %llu launches, %llu per position; logits equal: %s\n",
           name, cases[i].B, (long long)cases[i].T, (unsigned long long)one_launch,
           (unsigned long long)per_position, same ? "yes" : "no");
  }
  free(a), free(b);
}

/* Attention past what shared memory holds keeps its scores in global memory, with the same
 * arithmetic: with the limit lowered to 2 keys (every layer, prefill and graphed decode steps past
 * it), the logits equal the shared-memory ones bit for bit (shared: test_decode's graphed decoding
 * of the same batch). */
static void test_global_scores(seer_model *m, int64_t V, const char *name, const float *shared) {
  int32_t a[] = {2, 17, 301, 45, 9}, b[] = {2, 88, 5, 260, 31, 77, 140};
  const int32_t *two[2] = {a, b};
  size_t lab[2] = {3, 7};
  float *global = calloc((size_t)(STEPS * MAXB * V), sizeof(float));
  float *pre_shared = calloc((size_t)(2 * 7 * V), sizeof(float));
  float *pre_global = calloc((size_t)(2 * 7 * V), sizeof(float));
  seer_device_set_attn_test_knobs(m, 0, 0);
  prefill_all(m, 2, two, lab, V, pre_shared);
  seer_device_set_attn_test_knobs(m, 2, 0);
  uint64_t cap0, launch0, cap1, launch1;
  seer_device_graph_counts(m, &cap0, &launch0);
  CHECK(decode(m, 2, two, lab, V, global, one_noop_hook) == 0);
  seer_device_graph_counts(m, &cap1, &launch1);
  prefill_all(m, 2, two, lab, V, pre_global);
  seer_device_set_attn_test_knobs(m, 0, 0);
  CHECK_MSG(launch1 - launch0 == STEPS - 1 + 2, "%s: global scores: the decode steps left graphs",
            name);
  int d = differing_steps(shared, global, 2, V);
  CHECK_MSG(d == 0, "%s: scores in global memory: %d of %d decode steps' logits differ", name, d,
            STEPS);
  CHECK_MSG(!memcmp(pre_shared, pre_global, sizeof(float) * (size_t)(2 * 7 * V)),
            "%s: scores in global memory change the prefill's logits", name);
  printf("%s: scores in global memory past 2 keys: logits equal to shared memory's: %s\n", name,
         d ? "no" : "yes");
  free(global), free(pre_shared), free(pre_global);
}

/* attn.weights hooks on layers 0 (sliding) and 1 every decode step: graph segments split there,
 * the weights and logits equal to direct launches' bit for bit. */
static float *weights_log; /* [STEPS][2 layers][heads][1][keys at most 4 + STEPS] */
static int64_t weights_room;
static int record_weights(void *ud, seer_tensor *h, const seer_hook_ctx *ctx,
                          seer_tensor **replacement, seer_error *err) {
  (void)replacement, (void)err;
  size_t at = ((size_t)cur_step * 2 + (size_t)(uintptr_t)ud) * (size_t)weights_room;
  int64_t n = seer_tensor_numel(h);
  CHECK(n <= weights_room && h->shape[h->ndim - 1] == ctx->position + 1);
  if (n <= weights_room) memcpy(weights_log + at, seer_tensor_data(h), sizeof(float) * (size_t)n);
  return 0;
}

static int weights_hooks(int s, seer_hook *h) {
  (void)s;
  h[0] = (seer_hook){{SEER_HOOK_ATTN_WEIGHTS, 0}, record_weights, (void *)0};
  h[1] = (seer_hook){{SEER_HOOK_ATTN_WEIGHTS, 1}, record_weights, (void *)1};
  return 2;
}

static void test_weights_graphs(seer_model *m, int64_t V, const char *name) {
  int heads = seer_model_get_info(m)->num_heads;
  weights_room = (int64_t)heads * (4 + STEPS);
  size_t nw = (size_t)(STEPS * 2 * weights_room);
  float *with = calloc((size_t)(STEPS * V), sizeof(float)),
        *without = calloc((size_t)(STEPS * V), sizeof(float));
  float *w_with = calloc(nw, sizeof(float)), *w_without = calloc(nw, sizeof(float));
  int32_t a[] = {2, 17, 301, 45};
  const int32_t *one[1] = {a};
  size_t la[1] = {4};
  uint64_t cap0, launch0, cap1, launch1;
  seer_device_graph_counts(m, &cap0, &launch0);
  weights_log = w_with;
  CHECK(decode(m, 1, one, la, V, with, weights_hooks) == 0);
  seer_device_graph_counts(m, &cap1, &launch1);
  setenv("SEER_CUDA_GRAPHS", "0", 1);
  weights_log = w_without;
  CHECK(decode(m, 1, one, la, V, without, weights_hooks) == 0);
  unsetenv("SEER_CUDA_GRAPHS");
  /* Three segments a step; captures where the cache and the weights' room grow (steps 0 and 4). */
  unsigned long long captured = cap1 - cap0, graphed = launch1 - launch0;
  CHECK_MSG(captured == 2 && graphed == 3 * STEPS,
            "%s: attn.weights hooks: %llu captures and %llu graph launches, want 2 and %d", name,
            captured, graphed, 3 * STEPS);
  int d = differing_steps(with, without, 1, V);
  CHECK_MSG(d == 0, "%s: attn.weights hooks: %d of %d steps' logits differ with graphs", name, d,
            STEPS);
  CHECK_MSG(!memcmp(w_with, w_without, sizeof(float) * nw),
            "%s: attn.weights hooks: the weights differ with graph segments", name);
  printf("%s: %d decode steps with attn.weights hooks through %llu segment launches (%llu "
         "captures); weights and logits equal to direct launches: %s\n",
         name, STEPS, graphed, captured, d ? "no" : "yes");
  free(with), free(without), free(w_with), free(w_without);
}

static void test_decode(const char *root, const char *name) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/models/%s", root, name);
  seer_error err = {0};
  seer_model *m = NULL;
  seer_model_opts mo = {SEER_DEVICE_CUDA, 0, 0, NULL};
  CHECK_MSG(seer_model_load(dir, &mo, &m, &err) == 0, "%s: %s", name, err.msg);
  if (!m) return;
  int64_t V = seer_model_get_info(m)->vocab_size;
  CHECK(V <= V_MAX);
  const seer_model_info *in = seer_model_get_info(m);
  /* The fixture must exercise a ring: its window smaller than the positions decoded. */
  CHECK(in->sliding_window > 0 && in->sliding_window < 4 + STEPS);
  float *with = calloc((size_t)(STEPS * MAXB * V), sizeof(float));
  float *without = calloc((size_t)(STEPS * MAXB * V), sizeof(float));
  float *skipped = calloc((size_t)(STEPS * MAXB * V), sizeof(float));
  int32_t a[] = {2, 17, 301, 45, 9}, b[] = {2, 88, 5, 260, 31, 77, 140};
  const int32_t *one[1] = {a}, *two[2] = {a, b};
  size_t la[1] = {4}, lab[2] = {3, 7};
  uint64_t cap0, launch0, cap1, launch1;

  /* B = 1: the prefill's 4 positions fill the cache, so decode step 0 grows it (capture), and
   * step 4 grows it again (a re-capture); the hooked step is a graph of its own, two segments
   * split at its hook (captured there, launched right away), and the unhooked graph stays. */
  seer_device_graph_counts(m, &cap0, &launch0);
  uint64_t up0 = seer_device_uploads(m);
  CHECK(decode(m, 1, one, la, V, with, one_noop_hook) == 0);
  seer_device_graph_counts(m, &cap1, &launch1);
  unsigned long long captured = cap1 - cap0, graphed = launch1 - launch0;
  /* Each call's inputs (token ids, positions, padding, step counter) go up in one copy: the
   * prefill's and one per decode step, the hooked one included (its no-op hook writes nothing). */
  unsigned long long uploads = seer_device_uploads(m) - up0;
  CHECK_MSG(uploads == 1 + STEPS,
            "%s: %llu host-to-device copies over the prefill and %d steps, "
            "want %d",
            name, uploads, STEPS, 1 + STEPS);
  CHECK_MSG(captured == 3 && graphed == STEPS - 1 + 2,
            "%s: %llu captures and %llu graph launches, want 3 and %d", name, captured, graphed,
            STEPS + 1);
  setenv("SEER_CUDA_GRAPHS", "0", 1);
  CHECK(decode(m, 1, one, la, V, without, one_noop_hook) == 0);
  unsetenv("SEER_CUDA_GRAPHS");
  seer_device_graph_counts(m, &cap0, &launch0);
  CHECK_MSG(cap0 == cap1 && launch0 == launch1, "%s: SEER_CUDA_GRAPHS=0 still used graphs", name);
  int d = differing_steps(with, without, 1, V);
  CHECK_MSG(d == 0, "%s: %d of %d decode steps' logits differ with graphs", name, d, STEPS);
  printf("%s: %d decode steps through CUDA graphs, %llu graph launches (%llu captures); logits "
         "equal to direct launches: %s\n",
         name, STEPS, graphed, captured, d ? "no" : "yes");

  /* Negative control: replays that keep the last step's counter write the cache at the wrong
   * slot and attend over the wrong keys. */
  seer_device_test_skip_step_upload(m, 1);
  CHECK(decode(m, 1, one, la, V, skipped, one_noop_hook) == 0);
  seer_device_test_skip_step_upload(m, 0);
  d = differing_steps(skipped, without, 1, V);
  CHECK_MSG(d > 0, "%s: replays without the step counter changed nothing", name);

  /* A left-padded batch of two: a new graph for B = 2, the same logits as without. */
  seer_device_graph_counts(m, &cap0, &launch0);
  CHECK(decode(m, 2, two, lab, V, with, one_noop_hook) == 0);
  seer_device_graph_counts(m, &cap1, &launch1);
  CHECK(cap1 > cap0 && launch1 - launch0 == STEPS - 1 + 2);
  setenv("SEER_CUDA_GRAPHS", "0", 1);
  CHECK(decode(m, 2, two, lab, V, without, one_noop_hook) == 0);
  unsetenv("SEER_CUDA_GRAPHS");
  d = differing_steps(with, without, 2, V);
  CHECK_MSG(d == 0, "%s: batch of 2: %d of %d decode steps' logits differ with graphs", name, d,
            STEPS);
  test_global_scores(m, V, name, with);
  free(with), free(without), free(skipped);
  test_hooked_decode(m, V, name);
  test_prefill_launches(m, V, name);
  test_weights_graphs(m, V, name);
  seer_model_free(m);
}

int main(void) {
  setenv("SEER_CUDA_EMULATE", "1", 0);
  const char *root = getenv("SEER_FIXTURES");
  if (!root) root = "tests/fixtures";
  test_record_replay();
  test_decode(root, "gemma2");
  return check_summary();
}
