/* bench/forward: CPU engine throughput on create-random TinyLlama-1.1B and Gemma-2-2B configs in
 * bf16. In one run it measures: the machine's multithreaded streaming read bandwidth; decode
 * tokens/s at batch 1 and the weight bytes read per second as a share of that bandwidth; prefill
 * tokens/s and the Linear kernel's throughput as a share of OpenBLAS sgemm on the same shapes; peak
 * RSS against the weight files' size. Each model runs in its own child so RSS figures are its own.
 * Usage: bench_forward [--prefill N] [--decode N] [--dir DIR] [--only tinyllama|gemma2] */
#include <dirent.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../runtime/tensor/cpu.h"
#include "seer/model.h"
#ifdef SEER_HAVE_OPENBLAS
#include <cblas.h>
#endif

static const char *tinyllama_cfg =
    "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":2048,"
    "\"intermediate_size\":5632,\"num_hidden_layers\":22,\"num_attention_heads\":32,"
    "\"num_key_value_heads\":4,\"vocab_size\":32000,\"max_position_embeddings\":2048,"
    "\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,\"hidden_act\":\"silu\","
    "\"tie_word_embeddings\":false,\"bos_token_id\":1,\"eos_token_id\":2,"
    "\"torch_dtype\":\"bfloat16\"}";

static const char *gemma2_cfg =
    "{\"architectures\":[\"Gemma2ForCausalLM\"],\"model_type\":\"gemma2\",\"hidden_size\":2304,"
    "\"intermediate_size\":9216,\"num_hidden_layers\":26,\"num_attention_heads\":8,"
    "\"num_key_value_heads\":4,\"head_dim\":256,\"vocab_size\":256000,"
    "\"max_position_embeddings\":8192,\"rms_norm_eps\":1e-06,\"rope_theta\":10000.0,"
    "\"hidden_activation\":\"gelu_pytorch_tanh\",\"query_pre_attn_scalar\":256,"
    "\"sliding_window\":4096,\"attn_logit_softcapping\":50.0,\"final_logit_softcapping\":30.0,"
    "\"tie_word_embeddings\":true,\"bos_token_id\":2,\"eos_token_id\":1,"
    "\"torch_dtype\":\"bfloat16\"}";

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, n)) v = atol(line + n + 1);
  if (f) fclose(f);
  return v;
}

/* ---- streaming read bandwidth ---- */

typedef struct {
  const float *buf;
  int64_t n, chunks;
  double sums[64];
} bw_job;

static void bw_task(void *ctx, int64_t task, int thread) {
  bw_job *j = ctx;
  int64_t per = j->n / j->chunks, lo = task * per;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = lo; i < lo + per; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(j->buf + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(j->buf + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(j->buf + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(j->buf + i + 24));
  }
  float t[8];
  _mm256_storeu_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  j->sums[task % 64] += t[0];
}

static double measure_bandwidth(void) {
  const int64_t n = (int64_t)1 << 28; /* 1 GiB of floats, far beyond any cache */
  float *buf = aligned_alloc(64, (size_t)n * 4);
  if (!buf) return 0;
  memset(buf, 1, (size_t)n * 4);
  bw_job j = {buf, n, seer_cpu_threads() * 4, {0}};
  double best = 0;
  for (int r = 0; r < 5; r++) {
    double t0 = now();
    seer_cpu_parallel_for(j.chunks, bw_task, &j);
    double gbs = (double)n * 4 / (now() - t0) / 1e9;
    best = gbs > best ? gbs : best;
  }
  free(buf);
  return best;
}

/* ---- Linear kernel vs sgemm on one layer's shapes ---- */

static void matmul_share(const seer_model_info *in, int64_t M, double *ours_gflops,
                         double *blas_gflops) {
  int64_t H = in->hidden_size, inter = in->intermediate_size, hd = in->head_dim;
  int64_t qd = (int64_t)in->num_heads * hd, kvd = (int64_t)in->num_kv_heads * hd;
  int64_t shapes[7][2] = {{qd, H}, {kvd, H}, {kvd, H}, {H, qd}, {inter, H}, {inter, H}, {H, inter}};
  double flops = 0, t_ours = 0, t_blas = 0;
  for (int s = 0; s < 7; s++) {
    int64_t N = shapes[s][0], K = shapes[s][1];
    float *X = malloc(sizeof(float) * (size_t)(M * K)),
          *Y = malloc(sizeof(float) * (size_t)(M * N));
    float *Wf = malloc(sizeof(float) * (size_t)(N * K));
    uint16_t *Wb = malloc(2 * (size_t)(N * K));
    for (int64_t i = 0; i < M * K; i++)
      X[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (int64_t i = 0; i < N * K; i++) {
      Wb[i] = seer_f32_to_bf16((float)((i * 104729) % 1000) / 50000.0f - 0.01f);
      Wf[i] = seer_bf16_to_f32(Wb[i]);
    }
    flops += 2.0 * (double)M * (double)N * (double)K;
    double t0 = now();
    seer_cpu_linear(X, M, K, K, Wb, SEER_DTYPE_BF16, N, NULL, Y, N);
    t_ours += now() - t0;
#ifdef SEER_HAVE_OPENBLAS
    t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, X, (int)K,
                Wf, (int)K, 0.0f, Y, (int)N);
    t_blas += now() - t0;
#endif
    free(X), free(Y), free(Wf), free(Wb);
  }
  *ours_gflops = flops / t_ours / 1e9;
  *blas_gflops = t_blas > 0 ? flops / t_blas / 1e9 : 0;
}

static size_t dir_bytes(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t n = 0;
  while (d && (e = readdir(d)) != NULL) {
    const char *dot = strrchr(e->d_name, '.');
    if (!dot || strcmp(dot, ".safetensors") != 0) continue;
    char p[2048];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (stat(p, &sb) == 0) n += (size_t)sb.st_size;
  }
  if (d) closedir(d);
  return n;
}

/* Writes the random model in a child of its own, so its page-cache writeback and buffers stay out
 * of the measured process. */
static int ensure_model(const char *name, const char *cfg_text, const char *root) {
  char dir[1024], cfg[1100], probe[1200];
  snprintf(dir, sizeof dir, "%s/%s", root, name);
  snprintf(cfg, sizeof cfg, "%s/%s.config.json", root, name);
  snprintf(probe, sizeof probe, "%s/config.json", dir);
  struct stat sb;
  if (stat(probe, &sb) == 0) return 0;
  FILE *f = fopen(cfg, "w");
  if (!f) return 1;
  fputs(cfg_text, f);
  fclose(f);
  double t0 = now();
  seer_error err = {0};
  if (seer_model_create_random(cfg, dir, SEER_DTYPE_BF16, 1, &err)) {
    fprintf(stderr, "%s: %s\n", name, err.msg);
    return 1;
  }
  fprintf(stderr, "%s: create-random took %.1f s\n", name, now() - t0);
  return 0;
}

static int run_model(const char *name, const char *root, int prefill, int decode, double bw) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/%s", root, name);
  seer_error err = {0};
  size_t file_bytes = dir_bytes(dir);
  seer_model *m = NULL;
  if (seer_model_load(dir, NULL, &m, &err)) {
    fprintf(stderr, "%s: %s\n", name, err.msg);
    return 1;
  }
  const seer_model_info *in = seer_model_get_info(m);
  /* decode at batch 1 after an 8-token prompt; the first decode step warms the page cache */
  int32_t prompt[8] = {1, 450, 4996, 17354, 1701, 432, 17204, 975};
  const int32_t *rows[1] = {prompt};
  size_t n = 8, one = 1;
  seer_kv_cache *cache = seer_kv_cache_new(m, 1, &err);
  seer_forward_opts fo = {0, SEER_LOGITS_LAST, NULL, 0, 0};
  seer_forward_out out = {0};
  if (seer_model_forward(m, cache, 1, rows, &n, &fo, &out, &err)) {
    fprintf(stderr, "%s: %s\n", name, err.msg);
    return 1;
  }
  int32_t tok = 0;
  double t_dec = 0;
  for (int s = 0; s <= decode; s++) {
    tok = (int32_t)((tok * 31 + 7 + s) % in->vocab_size);
    seer_forward_out_free(&out);
    const int32_t *r1[1] = {&tok};
    double t0 = now();
    if (seer_model_forward(m, cache, 1, r1, &one, &fo, &out, &err)) {
      fprintf(stderr, "%s: %s\n", name, err.msg);
      return 1;
    }
    if (s > 0) t_dec += now() - t0;
  }
  seer_forward_out_free(&out);
  size_t kv = seer_kv_cache_bytes(cache);
  seer_kv_cache_free(cache);
  long rss_decode = status_kb("VmHWM:");
  double tps = decode / t_dec;
  double wbs = (double)seer_model_weight_bytes(m) * tps / 1e9;
  /* prefill */
  int32_t *ids = malloc(sizeof(int32_t) * (size_t)prefill);
  for (int i = 0; i < prefill; i++)
    ids[i] = (int32_t)((i * 7919 + 13) % in->vocab_size);
  const int32_t *prow[1] = {ids};
  size_t pn = (size_t)prefill;
  double t0 = now();
  if (seer_model_forward(m, NULL, 1, prow, &pn, &fo, &out, &err)) {
    fprintf(stderr, "%s: %s\n", name, err.msg);
    return 1;
  }
  double t_pre = now() - t0;
  seer_forward_out_free(&out);
  free(ids);
  long rss_prefill = status_kb("VmHWM:");
  double ours, blas;
  matmul_share(in, prefill, &ours, &blas);
  printf("| %s | %d | %.2f | %.2f GB/s (%.0f%% of %.1f) | %.1f | %.1f vs %.1f GFLOP/s (%.0f%%) | "
         "%.2f GB | %.2f GB / %.2f GB (%.2fx; KV %.1f MB) |\n",
         name, seer_cpu_threads(), tps, wbs, 100 * wbs / bw, bw, prefill / t_pre, ours, blas,
         blas > 0 ? 100 * ours / blas : 0, file_bytes / 1e9, rss_decode * 1024.0 / 1e9,
         rss_prefill * 1024.0 / 1e9, rss_decode * 1024.0 / (double)file_bytes, kv / 1e6);
  fflush(stdout);
  seer_model_free(m);
  return 0;
}

int main(int argc, char **argv) {
  int prefill = 512, decode = 32;
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
  }
  char tmpl[] = "/tmp/seer-bench-XXXXXX";
  if (!root && !(root = mkdtemp(tmpl))) return 1;
  mkdir(root, 0755);
  /* bandwidth in a child, so its buffer does not count in the models' RSS */
  int fds[2];
  double bw = 0;
  if (pipe(fds) == 0) {
    pid_t pid = fork();
    if (pid == 0) {
      double b = measure_bandwidth();
      if (write(fds[1], &b, sizeof b) != sizeof b) _exit(1);
      _exit(0);
    }
    if (read(fds[0], &bw, sizeof bw) != sizeof bw) bw = 0;
    waitpid(pid, NULL, 0);
  }
  printf("streaming read bandwidth: %.1f GB/s (%d threads)\n\n", bw, seer_cpu_threads());
  printf("| model (bf16) | threads | decode tok/s | weight bytes/s (share of bandwidth) | prefill "
         "%d tok/s | Linear vs OpenBLAS sgemm (M=%d) | weights on disk | peak RSS decode / after "
         "prefill (decode÷files) |\n|---|---|---|---|---|---|---|---|\n",
         prefill, prefill);
  fflush(stdout);
  const char *names[2] = {"tinyllama-1.1b", "gemma-2-2b"};
  const char *cfgs[2] = {tinyllama_cfg, gemma2_cfg};
  int rc = 0;
  for (int i = 0; i < 2; i++) {
    if (only && !strstr(names[i], only)) continue;
    pid_t pid = fork();
    if (pid == 0) _exit(ensure_model(names[i], cfgs[i], root));
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      rc = 1;
      continue;
    }
    if (system("sync") != 0) fprintf(stderr, "sync failed\n");
    pid = fork();
    if (pid == 0) _exit(run_model(names[i], root, prefill, decode, bw));
    waitpid(pid, &st, 0);
    rc |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  }
  fprintf(stderr, "models kept in %s\n", root);
  return rc;
}
