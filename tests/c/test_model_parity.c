/* Parity of the model engine with HF transformers on every fixture model (tests/fixtures/models):
 * hidden states, logits, logprobs, greedy generation, steering and ablation hooks, batches and
 * KV-cached decoding, within the tolerances of tests/fixtures/README.md.
 * With SEER_PARITY_DEVICE=cuda the models load with device = "cuda" (in CI with
 * SEER_CUDA_EMULATE=1: the CUDA kernels run through the grid emulator, ctest
 * c.model_parity_cuda_emu), hooks included: their views are device tensors there.
 * SEER_PARITY_DEVICE_DTYPE=f32|bf16|f16 converts the device's weights while uploading (ctest
 * c.model_parity_cuda_emu_f16: a bf16 fixture in f16 and in f32 keeps its tolerances). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "device_engine.h" /* the decode graph's counters */
#include "seer/model.h"
#include "seer/safetensors.h"

static const char *models[] = {"llama",       "llama-bf16",  "llama3", "gemma", "gemma2",
                               "gemma2-bf16", "gemma3_text", "qwen2",  "qwen3", "qwen3-bf16"};

typedef struct {
  const char *name;
  double tol;
  seer_safetensors *ref;
  json_t *js;
  int32_t ids_a[64], ids_b[64];
  size_t na, nb;
} fixture;

/* max |got - ref| / max(1, |ref|) over n values */
static double rel_err(const float *got, const float *ref, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]) / fmax(1.0, fabs(ref[i]));
    if (!(d <= worst)) worst = d; /* NaN propagates as a failure */
  }
  return worst;
}

static float *ref_data(fixture *fx, const char *name, int64_t *n) {
  seer_error err = {0};
  seer_tensor *t = seer_st_get(fx->ref, name, &err);
  if (!t) {
    fprintf(stderr, "%s: %s\n", fx->name, err.msg);
    return NULL;
  }
  *n = seer_tensor_numel(t);
  float *d = malloc(sizeof(float) * (size_t)*n);
  seer_tensor_read_f32(t, d);
  seer_tensor_release(t);
  return d;
}

static void check_close(fixture *fx, const char *what, const float *got, const char *refname,
                        int64_t offset, int64_t n) {
  int64_t total;
  float *ref = ref_data(fx, refname, &total);
  CHECK_MSG(ref != NULL, "%s: missing reference %s", fx->name, refname);
  if (!ref) return;
  if (n < 0) n = total;
  double e = rel_err(got, ref + offset, n);
  CHECK_MSG(e <= fx->tol, "%s: %s: max rel err %.3g > %.3g", fx->name, what, e, fx->tol);
  free(ref);
}

static size_t json_ids(json_t *a, int32_t *out, size_t cap) {
  size_t n = json_array_size(a);
  for (size_t i = 0; i < n && i < cap; i++)
    out[i] = (int32_t)json_integer_value(json_array_get(a, i));
  return n;
}

static void check_ids(fixture *fx, const char *what, const int32_t *got, size_t n, json_t *want) {
  int ok = json_array_size(want) == n;
  for (size_t i = 0; ok && i < n; i++)
    ok = got[i] == json_integer_value(json_array_get(want, i));
  CHECK_MSG(ok, "%s: %s differs from the reference", fx->name, what);
  if (!ok) {
    fprintf(stderr, "  got:");
    for (size_t i = 0; i < n; i++)
      fprintf(stderr, " %d", got[i]);
    fprintf(stderr, "\n  want:");
    for (size_t i = 0; i < json_array_size(want); i++)
      fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(want, i)));
    fprintf(stderr, "\n");
  }
}

/* ---- hooks used by the checks ---- */

typedef struct {
  float *vec;
  int64_t H;
} vec_hook;

static int steer_hook(void *ud, seer_tensor *h, const seer_hook_ctx *ctx, seer_tensor **rep,
                      seer_error *err) {
  vec_hook *s = ud;
  float *d = seer_tensor_data(h);
  int64_t rows = seer_tensor_numel(h) / s->H;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t i = 0; i < s->H; i++)
      d[r * s->H + i] += s->vec[i];
  return 0;
}

/* Ablation returns a replacement tensor, exercising that path. */
static int ablate_hook(void *ud, seer_tensor *h, const seer_hook_ctx *ctx, seer_tensor **rep,
                       seer_error *err) {
  vec_hook *s = ud;
  seer_tensor *c = seer_tensor_clone(h, err);
  if (!c) return SEER_ENOMEM;
  float *d = seer_tensor_data(c);
  int64_t rows = seer_tensor_numel(c) / s->H;
  for (int64_t r = 0; r < rows; r++) {
    double dot = 0;
    for (int64_t i = 0; i < s->H; i++)
      dot += (double)d[r * s->H + i] * s->vec[i];
    for (int64_t i = 0; i < s->H; i++)
      d[r * s->H + i] -= (float)(dot * s->vec[i]);
  }
  *rep = c;
  return 0;
}

/* layers.0.attn.weights of an unbatched call with no cache: each query's row [keys] is causal (0
 * past its position) and sums to 1; counts the rows that are not. */
static int bad_weight_rows;
static int weights_hook(void *ud, seer_tensor *h, const seer_hook_ctx *ctx, seer_tensor **rep,
                        seer_error *err) {
  const float *w = seer_tensor_data(h);
  const int64_t *shape = h->shape;
  int64_t T = shape[1], S = shape[2];
  (void)ud, (void)rep, (void)err;
  for (int64_t r = 0; r < shape[0] * T; r++) {
    double sum = 0;
    int64_t t = r % T, bad = 0;
    for (int64_t j = 0; j < S; j++) {
      sum += w[r * S + j];
      bad |= j > ctx->position + t && w[r * S + j] != 0.0f;
    }
    bad_weight_rows += bad || fabs(sum - 1.0) > 1e-5;
  }
  return 0;
}

static int failing_hook(void *ud, seer_tensor *h, const seer_hook_ctx *ctx, seer_tensor **rep,
                        seer_error *err) {
  return seer_errorf(err, SEER_EINVAL, "deliberate failure at %s", ctx->name);
}

static int fwd1(seer_model *m, const int32_t *ids, size_t n, const seer_hook *hooks, size_t nh,
                seer_forward_out *out) {
  seer_error err = {0};
  seer_forward_opts o = {1, SEER_LOGITS_ALL, hooks, nh, 0};
  const int32_t *rows[1] = {ids};
  int rc = seer_model_forward(m, NULL, 1, rows, &n, &o, out, &err);
  CHECK_MSG(rc == 0, "forward failed: %s", err.msg);
  return rc;
}

static int on_device; /* SEER_PARITY_DEVICE=cuda */

static void run_fixture(const char *root, const char *name) {
  fixture fx = {name, strstr(name, "bf16") ? 2e-4 : 1e-4, NULL, NULL, {0}, {0}, 0, 0};
  char dir[1024], path[1200];
  snprintf(dir, sizeof dir, "%s/models/%s", root, name);
  seer_error err = {0};
  seer_model *m = NULL;
  seer_model_opts mo = {on_device ? SEER_DEVICE_CUDA : SEER_DEVICE_CPU, 0, 0,
                        on_device ? getenv("SEER_PARITY_DEVICE_DTYPE") : NULL};
  int rc = seer_model_load(dir, &mo, &m, &err);
  CHECK_MSG(rc == 0, "%s: load failed: %s", name, err.msg);
  if (rc) return;
  snprintf(path, sizeof path, "%s/reference.safetensors", dir);
  rc = seer_st_open(path, &fx.ref, &err);
  CHECK_MSG(rc == 0, "%s: %s", name, err.msg);
  snprintf(path, sizeof path, "%s/reference.json", dir);
  json_error_t jerr;
  fx.js = json_load_file(path, 0, &jerr);
  CHECK(fx.js != NULL);
  if (rc || !fx.js) goto done;
  fx.na = json_ids(json_object_get(fx.js, "ids_a"), fx.ids_a, 64);
  fx.nb = json_ids(json_object_get(fx.js, "ids_b"), fx.ids_b, 64);
  const seer_model_info *in = seer_model_get_info(m);
  int64_t H = in->hidden_size, V = in->vocab_size;
  /* layer types as transformers resolved them */
  json_t *lt = json_object_get(fx.js, "layer_types");
  for (size_t i = 0; i < json_array_size(lt); i++) {
    int sl = !strcmp(json_string_value(json_array_get(lt, i)), "sliding_attention");
    CHECK_MSG(seer_model_layer_is_sliding(m, (int)i) == sl, "%s: layer %zu sliding mismatch", name,
              i);
  }

  /* hidden states, logits, logprobs for a and b */
  for (int which = 0; which < 2; which++) {
    const int32_t *ids = which ? fx.ids_b : fx.ids_a;
    size_t n = which ? fx.nb : fx.na;
    const char *p = which ? "b" : "a";
    char rn[64];
    seer_forward_out out = {0};
    if (fwd1(m, ids, n, NULL, 0, &out)) continue;
    snprintf(rn, sizeof rn, "%s.hidden_states", p);
    check_close(&fx, rn, seer_tensor_data(out.hidden_states), rn, 0, -1);
    snprintf(rn, sizeof rn, "%s.logits", p);
    check_close(&fx, rn, seer_tensor_data(out.logits), rn, 0, -1);
    seer_tensor *lp = seer_tensor_log_softmax(out.logits, -1, &err);
    float got[64];
    for (size_t t = 0; t + 1 < n; t++) {
      int64_t idx[2] = {(int64_t)t, ids[t + 1]};
      got[t] = (float)seer_tensor_get(lp, idx);
    }
    snprintf(rn, sizeof rn, "%s.logprobs_next", p);
    check_close(&fx, rn, got, rn, 0, -1);
    seer_tensor_release(lp);
    seer_forward_out_free(&out);
  }

  /* greedy generation with the KV cache */
  seer_generate_opts go = {0};
  go.max_new_tokens = 12;
  const int32_t *rows_a[1] = {fx.ids_a};
  seer_generate_row *gen = NULL;
  uint64_t captures, graphed, graphed0;
  seer_device_graph_counts(m, &captures, &graphed0);
  rc = seer_model_generate(m, 1, rows_a, &fx.na, &go, &gen, &err);
  CHECK_MSG(rc == 0, "%s: generate: %s", name, err.msg);
  if (!rc) check_ids(&fx, "greedy_a", gen[0].ids, gen[0].len, json_object_get(fx.js, "greedy_a"));
  seer_generate_rows_free(gen, 1);
  /* On the device, the decode steps ran as CUDA graphs (unless SEER_CUDA_GRAPHS=0). */
  seer_device_graph_counts(m, &captures, &graphed);
  const char *graphs = getenv("SEER_CUDA_GRAPHS");
  if (on_device && !(graphs && !strcmp(graphs, "0")))
    CHECK_MSG(graphed > graphed0 && captures > 0, "%s: greedy decoding used no CUDA graph", name);

  /* steering on layers.<steer_layer>, in forward and through cached decoding */
  int64_t nvec;
  vec_hook steer = {ref_data(&fx, "steer_vector", &nvec), H};
  int sl = (int)json_integer_value(json_object_get(fx.js, "steer_layer"));
  seer_hook sh = {{SEER_HOOK_LAYER, sl}, steer_hook, &steer};
  seer_forward_out out = {0};
  vec_hook abl = {ref_data(&fx, "ablate_direction", &nvec), H};
  { /* the softmax weights, on either engine (lua.model_cuda_hooks compares the two) */
    seer_hook wh = {{SEER_HOOK_ATTN_WEIGHTS, 0}, weights_hook, NULL};
    seer_forward_opts ho = {0, SEER_LOGITS_NONE, &wh, 1, 0};
    bad_weight_rows = 0;
    CHECK_MSG(seer_model_forward(m, NULL, 1, rows_a, &fx.na, &ho, &out, &err) == 0, "%s: %s", name,
              err.msg);
    CHECK_MSG(bad_weight_rows == 0, "%s: %d attn.weights rows not causal or not summing to 1", name,
              bad_weight_rows);
    seer_forward_out_free(&out);
  }
  if (!fwd1(m, fx.ids_a, fx.na, &sh, 1, &out)) {
    check_close(&fx, "a.steer.hidden_states", seer_tensor_data(out.hidden_states),
                "a.steer.hidden_states", 0, -1);
    check_close(&fx, "a.steer.logits", seer_tensor_data(out.logits), "a.steer.logits", 0, -1);
    seer_forward_out_free(&out);
  }
  go.hooks = &sh;
  go.num_hooks = 1;
  rc = seer_model_generate(m, 1, rows_a, &fx.na, &go, &gen, &err);
  CHECK_MSG(rc == 0, "%s: generate (steered): %s", name, err.msg);
  if (!rc)
    check_ids(&fx, "greedy_a_steer", gen[0].ids, gen[0].len,
              json_object_get(fx.js, "greedy_a_steer"));
  seer_generate_rows_free(gen, 1);
  go.hooks = NULL;
  go.num_hooks = 0;

  /* the same steering as a persistent hook, then removed */
  int handle = seer_model_add_hook(m, sh.point, steer_hook, &steer, NULL, &err);
  CHECK(handle > 0);
  if (!fwd1(m, fx.ids_a, fx.na, NULL, 0, &out)) {
    check_close(&fx, "a.steer.logits (persistent hook)", seer_tensor_data(out.logits),
                "a.steer.logits", 0, -1);
    seer_forward_out_free(&out);
  }
  CHECK(seer_model_remove_hook(m, handle) == 0);

  /* ablation of the direction at every layer's output (replacement tensors) */
  seer_hook *ah = calloc((size_t)in->num_layers, sizeof *ah);
  for (int l = 0; l < in->num_layers; l++)
    ah[l] = (seer_hook){{SEER_HOOK_LAYER, l}, ablate_hook, &abl};
  if (!fwd1(m, fx.ids_a, fx.na, ah, (size_t)in->num_layers, &out)) {
    check_close(&fx, "a.ablate.logits", seer_tensor_data(out.logits), "a.ablate.logits", 0, -1);
    seer_forward_out_free(&out);
  }
  free(ah);

  /* a failing hook aborts the forward with its message; the model stays usable */
  seer_hook fh = {{SEER_HOOK_MLP, 0}, failing_hook, NULL};
  seer_forward_opts fo = {1, SEER_LOGITS_ALL, &fh, 1, 0};
  rc = seer_model_forward(m, NULL, 1, rows_a, &fx.na, &fo, &out, &err);
  CHECK(rc != 0);
  CHECK_STR_CONTAINS(err.msg, "deliberate failure at layers.0.mlp");
  if (!fwd1(m, fx.ids_a, fx.na, NULL, 0, &out)) {
    check_close(&fx, "a.logits after a failed hook", seer_tensor_data(out.logits), "a.logits", 0,
                -1);
    seer_forward_out_free(&out);
  }

  /* left-padded batch: greedy rows and every row's logits equal the unbatched ones */
  const int32_t *rows_ab[2] = {fx.ids_a, fx.ids_b};
  size_t lens_ab[2] = {fx.na, fx.nb};
  go.max_new_tokens = 8;
  rc = seer_model_generate(m, 2, rows_ab, lens_ab, &go, &gen, &err);
  CHECK_MSG(rc == 0, "%s: batch generate: %s", name, err.msg);
  if (!rc) {
    json_t *bg = json_object_get(fx.js, "batch_greedy");
    check_ids(&fx, "batch_greedy[0]", gen[0].ids, gen[0].len, json_array_get(bg, 0));
    check_ids(&fx, "batch_greedy[1]", gen[1].ids, gen[1].len, json_array_get(bg, 1));
  }
  seer_generate_rows_free(gen, 2);
  seer_forward_opts bo = {1, SEER_LOGITS_ALL, NULL, 0, 1};
  rc = seer_model_forward(m, NULL, 2, rows_ab, lens_ab, &bo, &out, &err);
  CHECK_MSG(rc == 0, "%s: batch forward: %s", name, err.msg);
  if (!rc) {
    int64_t T = (int64_t)fx.nb, pad = (int64_t)(fx.nb - fx.na);
    float *ld = seer_tensor_data(out.logits);
    check_close(&fx, "batch row a logits", ld + pad * V, "a.logits", 0, -1);
    check_close(&fx, "batch row b logits", ld + T * V, "b.logits", 0, -1);
    float *hd = seer_tensor_data(out.hidden_states);
    int64_t L = in->num_layers;
    for (int64_t l = 0; l <= L; l++) {
      char what[64];
      snprintf(what, sizeof what, "batch row a hidden_states[%lld]", (long long)l);
      check_close(&fx, what, hd + (l * 2 * T + pad) * H, "a.hidden_states", l * (int64_t)fx.na * H,
                  (int64_t)fx.na * H);
    }
    seer_forward_out_free(&out);
  }

  /* KV cache: prefill k tokens of b, then one at a time; each step's logits are b.logits rows */
  /* Emulated device kernels cost ~1000x the CPU engine per step: one prefill split there. */
  for (size_t k = on_device ? 4 : 1; k <= (on_device ? 4u : 7u); k += 3) {
    seer_kv_cache *cache = seer_kv_cache_new(m, 1, &err);
    const int32_t *rows_b[1] = {fx.ids_b};
    seer_forward_opts co = {0, SEER_LOGITS_ALL, NULL, 0, 0};
    rc = seer_model_forward(m, cache, 1, rows_b, &k, &co, &out, &err);
    CHECK_MSG(rc == 0, "%s: cached prefill: %s", name, err.msg);
    if (!rc) {
      check_close(&fx, "kv prefill logits", seer_tensor_data(out.logits), "b.logits", 0,
                  (int64_t)k * V);
      seer_forward_out_free(&out);
    }
    for (size_t t = k; !rc && t < fx.nb; t++) {
      const int32_t *one[1] = {fx.ids_b + t};
      size_t n1 = 1;
      rc = seer_model_forward(m, cache, 1, one, &n1, &co, &out, &err);
      CHECK_MSG(rc == 0, "%s: cached decode: %s", name, err.msg);
      if (rc) break;
      char what[64];
      snprintf(what, sizeof what, "kv decode (prefill %zu) logits row %zu", k, t);
      check_close(&fx, what, seer_tensor_data(out.logits), "b.logits", (int64_t)t * V, V);
      seer_forward_out_free(&out);
    }
    if (k == 7 && in->sliding_window > 0)
      CHECK_MSG(seer_kv_cache_bytes(cache) > 0, "%s: cache holds keys", name);
    seer_kv_cache_free(cache);
  }
  free(steer.vec);
  free(abl.vec);
  printf("%s: checked\n", name);
done:
  json_decref(fx.js);
  seer_st_close(fx.ref);
  seer_model_free(m);
}

int main(int argc, char **argv) {
  const char *dev = getenv("SEER_PARITY_DEVICE");
  on_device = dev && !strcmp(dev, "cuda");
  const char *root = getenv("SEER_FIXTURES");
  if (!root) root = "tests/fixtures";
  /* Rerun at a forced ISA level (the c.model_parity@LEVEL entries): skipped where the CPU lacks it,
   * so that a run never passes on another level's kernels than the one it names. */
  const char *want = getenv("SEER_CPU");
  if (want && *want && strcmp(want, seer_cpu_level()) != 0) {
    printf("skipped: SEER_CPU=%s, but this CPU runs at most %s\n", want, seer_cpu_level_best());
    return 77;
  }
  printf("CPU kernels: %s\n", seer_cpu_level());
  for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
    int wanted = argc < 2; /* no arguments: every fixture; else the ones named */
    for (int a = 1; a < argc; a++)
      wanted |= !strcmp(argv[a], models[i]);
    if (wanted) run_fixture(root, models[i]);
  }
  return check_summary();
}
