/* bench/forward_cuda: the device engine's throughput (device = "cuda") on create-random
 * TinyLlama-1.1B and Gemma-2-2B configs in bf16. In one run it measures the GPU's copy bandwidth
 * (device-to-device, read + write bytes per second), decode tokens/s at batch 1 and the weight
 * bytes read per second as a share of that bandwidth, and prefill tokens/s. The HF
 * transformers figures (eager bf16 on an H100) are printed beside them, labelled as such: they were
 * not measured in this run. With SEER_CUDA_EMULATE=1 everything runs on the grid emulator (a dry
 * run of the program; its figures mean nothing) and --tiny picks a small config for that. Usage:
 * bench_forward_cuda [--prefill N] [--decode N] [--dir DIR] [--only NAME] [--tiny 1]
 *                           [--device-index I] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../runtime/cuda/gpu.h"
#include "seer/model.h"

typedef struct bench_model {
  const char *name, *cfg;
  double hf_decode, hf_prefill; /* the H100 HF eager bf16 figures; 0 = none given */
} bench_model;

static const bench_model models[] = {
    {"tinyllama-1.1b",
     "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":2048,"
     "\"intermediate_size\":5632,\"num_hidden_layers\":22,\"num_attention_heads\":32,"
     "\"num_key_value_heads\":4,\"vocab_size\":32000,\"max_position_embeddings\":2048,"
     "\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,\"hidden_act\":\"silu\","
     "\"tie_word_embeddings\":false,\"torch_dtype\":\"bfloat16\"}",
     46, 28600},
    {"gemma-2-2b",
     "{\"architectures\":[\"Gemma2ForCausalLM\"],\"model_type\":\"gemma2\",\"hidden_size\":2304,"
     "\"intermediate_size\":9216,\"num_hidden_layers\":26,\"num_attention_heads\":8,"
     "\"num_key_value_heads\":4,\"head_dim\":256,\"vocab_size\":256000,"
     "\"max_position_embeddings\":8192,\"rms_norm_eps\":1e-06,\"rope_theta\":10000.0,"
     "\"hidden_activation\":\"gelu_pytorch_tanh\",\"query_pre_attn_scalar\":256,"
     "\"sliding_window\":4096,\"attn_logit_softcapping\":50.0,\"final_logit_softcapping\":30.0,"
     "\"tie_word_embeddings\":true,\"torch_dtype\":\"bfloat16\"}",
     30, 0},
    {"tiny-llama-test",
     "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":64,"
     "\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
     "\"num_key_value_heads\":2,\"vocab_size\":256,\"max_position_embeddings\":128,"
     "\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,\"hidden_act\":\"silu\","
     "\"torch_dtype\":\"bfloat16\"}",
     0, 0},
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fail(const char *what, const seer_error *err) {
  fprintf(stderr, "bench_forward_cuda: %s: %s\n", what, err->msg);
  return 1;
}

/* Device-to-device copies of 512 MiB (64 MiB emulated): bytes read plus bytes written per second.
 */
static int bandwidth(int index, int emulate, double *gbs) {
  seer_error err = {0};
  seer_gpu *g = NULL;
  size_t n = (size_t)(emulate ? 64 : 512) << 20;
  uint64_t a = 0, b = 0;
  if (seer_gpu_open(index, emulate, &g, &err) || seer_gpu_alloc(g, n, &a, &err) ||
      seer_gpu_alloc(g, n, &b, &err) || seer_gpu_zero(g, a, n, &err) ||
      seer_gpu_copy(g, b, a, n, &err) || seer_gpu_sync(g, &err)) {
    seer_gpu_close(g);
    return fail("bandwidth", &err);
  }
  int reps = 10;
  double t0 = now();
  for (int i = 0; i < reps; i++)
    if (seer_gpu_copy(g, i & 1 ? a : b, i & 1 ? b : a, n, &err)) return fail("copy", &err);
  if (seer_gpu_sync(g, &err)) return fail("sync", &err);
  *gbs = 2.0 * (double)n * reps / (now() - t0) / 1e9;
  seer_gpu_free(g, a), seer_gpu_free(g, b);
  seer_gpu_close(g);
  return 0;
}

static int run(const bench_model *bm, const char *root, int prefill, int decode, int index,
               double bw) {
  char dir[1024], cfg[1100], probe[1200];
  snprintf(dir, sizeof dir, "%s/%s", root, bm->name);
  snprintf(cfg, sizeof cfg, "%s/%s.config.json", root, bm->name);
  snprintf(probe, sizeof probe, "%s/config.json", dir);
  seer_error err = {0};
  struct stat sb;
  if (stat(probe, &sb) != 0) {
    FILE *f = fopen(cfg, "w");
    if (!f) return 1;
    fputs(bm->cfg, f);
    fclose(f);
    if (seer_model_create_random(cfg, dir, SEER_DTYPE_BF16, 1, &err)) return fail(bm->name, &err);
  }
  seer_model_opts mo = {SEER_DEVICE_CUDA, 0, index, NULL};
  seer_model *m = NULL;
  double t_load = now();
  if (seer_model_load(dir, &mo, &m, &err)) return fail(bm->name, &err);
  t_load = now() - t_load;
  const seer_model_info *in = seer_model_get_info(m);
  int32_t prompt[8] = {1, 45, 49, 173, 17, 43, 172, 97};
  const int32_t *rows[1] = {prompt};
  size_t n = 8, one = 1;
  seer_kv_cache *cache = seer_kv_cache_new(m, 1, &err);
  seer_forward_opts fo = {0, SEER_LOGITS_LAST, NULL, 0, 0};
  seer_forward_out out = {0};
  if (!cache || seer_model_forward(m, cache, 1, rows, &n, &fo, &out, &err))
    return fail(bm->name, &err);
  int32_t tok = 0;
  double t_dec = 0;
  for (int s = 0; s <= decode; s++) { /* step 0 warms up */
    tok = (int32_t)((tok * 31 + 7 + s) % in->vocab_size);
    seer_forward_out_free(&out);
    const int32_t *r1[1] = {&tok};
    double t0 = now();
    if (seer_model_forward(m, cache, 1, r1, &one, &fo, &out, &err)) return fail(bm->name, &err);
    if (s > 0) t_dec += now() - t0;
  }
  seer_forward_out_free(&out);
  seer_kv_cache_free(cache);
  double tps = decode / t_dec, wbs = (double)seer_model_weight_bytes(m) * tps / 1e9;
  int32_t *ids = malloc(sizeof(int32_t) * (size_t)prefill);
  for (int i = 0; i < prefill; i++)
    ids[i] = (int32_t)((i * 7919 + 13) % in->vocab_size);
  const int32_t *prow[1] = {ids};
  size_t pn = (size_t)prefill;
  double t0 = now();
  if (seer_model_forward(m, NULL, 1, prow, &pn, &fo, &out, &err)) return fail(bm->name, &err);
  double t_pre = now() - t0;
  seer_forward_out_free(&out);
  free(ids);
  char hf_dec[64] = "-", hf_pre[64] = "-";
  if (bm->hf_decode > 0)
    snprintf(hf_dec, sizeof hf_dec, "%.2fx of %.0f", tps / bm->hf_decode, bm->hf_decode);
  if (bm->hf_prefill > 0)
    snprintf(hf_pre, sizeof hf_pre, "%.2fx of %.0f", prefill / t_pre / bm->hf_prefill,
             bm->hf_prefill);
  printf("| %s | %.1f s | %.1f | %.1f GB/s (%.0f%% of %.0f) | %s | %.0f | %s |\n", bm->name, t_load,
         tps, wbs, 100 * wbs / bw, bw, hf_dec, prefill / t_pre, hf_pre);
  fflush(stdout);
  seer_model_free(m);
  return 0;
}

int main(int argc, char **argv) {
  int prefill = 512, decode = 32, tiny = 0, index = 0;
  const char *root = NULL, *only = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--prefill"))
      prefill = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--decode"))
      decode = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--dir"))
      root = argv[i + 1];
    else if (!strcmp(argv[i], "--only"))
      only = argv[i + 1];
    else if (!strcmp(argv[i], "--tiny"))
      tiny = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--device-index"))
      index = atoi(argv[i + 1]);
  }
  const char *e = getenv("SEER_CUDA_EMULATE");
  int emulate = e && !strcmp(e, "1");
  char tmpl[] = "/tmp/seer-bench-cuda-XXXXXX";
  if (!root && !(root = mkdtemp(tmpl))) return 1;
  mkdir(root, 0755);
  double bw = 0;
  if (bandwidth(index, emulate, &bw)) return 1;
  printf("device copy bandwidth (read + write): %.1f GB/s%s\n\n", bw,
         emulate ? " (emulated: figures below are not GPU figures)" : "");
  printf(
      "| model (bf16) | load | decode tok/s | weight bytes/s (share of copy bandwidth) | decode vs "
      "HF eager H100 (issue's figure, tok/s) | prefill %d tok/s | prefill vs HF sdpa H100 "
      "(issue's figure) |\n|---|---|---|---|---|---|---|\n",
      prefill);
  int rc = 0;
  for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
    int is_tiny = !strcmp(models[i].name, "tiny-llama-test");
    if (is_tiny != tiny || (only && !strstr(models[i].name, only))) continue;
    rc |= run(&models[i], root, prefill, decode, index, bw);
  }
  fprintf(stderr, "models kept in %s\n", root);
  return rc;
}
