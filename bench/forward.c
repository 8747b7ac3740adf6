/* bench/forward: CPU engine throughput on create-random TinyLlama-1.1B and Gemma-2-2B configs in
 * bf16. In one run it measures: the machine's multithreaded streaming read bandwidth; decode
 * tokens/s at batch 1 and the weight bytes read per second as a share of that bandwidth; prefill
 * tokens/s and the Linear kernel's throughput as a share of OpenBLAS sgemm on the same shapes; peak
 * RSS against the weight files' size. Each model runs in its own child so RSS figures are its own.
 * With --peer llamacpp it runs llama.cpp (bench/peers/llamacpp.py) on the same weights as GGUF and
 * prints both engines' decode and prefill tokens/s in alternating rounds, their ratios, the share
 * of read bandwidth, and whether top-1 agrees at every position of a prompt. `--help` for usage. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
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

/* Plain 64-bit loads, four chains: far more than DRAM can feed on any x86-64, no ISA assumed. */
static void bw_task(void *ctx, int64_t task, int thread) {
  bw_job *j = ctx;
  int64_t per = j->n / j->chunks, lo = task * per;
  const uint64_t *p = (const uint64_t *)(j->buf + lo);
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (int64_t i = 0; i < per / 2; i += 4) {
    a0 ^= p[i], a1 ^= p[i + 1], a2 ^= p[i + 2], a3 ^= p[i + 3];
  }
  j->sums[task % 64] += (double)((a0 ^ a1 ^ a2 ^ a3) & 1);
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

/* ---- the llama.cpp peer ---- */

typedef struct {
  pid_t pid;
  FILE *to, *from;
} peer;

static const char *src_dir(void) {
  const char *e = getenv("SEER_SOURCE_DIR");
  return e && *e ? e : ".";
}

/* The bench tier's venv (tools/python/bench.txt: llama-cpp-python built from source, gguf). */
static int peer_python(char *out, size_t n) {
  const char *venv = getenv("SEER_BENCH_VENV");
  char buf[2048], cmd[4600];
  if (!venv || !*venv) {
    snprintf(buf, sizeof buf, "%s/.cache/bench-venv", src_dir());
    venv = buf;
  }
  snprintf(cmd, sizeof cmd, "bash '%s/tools/venv.sh' '%s' bench >&2", src_dir(), venv);
  fprintf(stderr, "bench_forward: preparing %s (the first time builds llama.cpp: minutes)\n", venv);
  if (system(cmd) != 0) {
    fprintf(stderr, "bench_forward: tools/venv.sh %s bench failed\n", venv);
    return -1;
  }
  snprintf(out, n, "%s/bin/python", venv);
  return 0;
}

static int peer_convert(const char *py, const char *dir, const char *gguf) {
  struct stat sb;
  if (stat(gguf, &sb) == 0) return 0;
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "'%s' '%s/bench/peers/llamacpp.py' convert '%s' '%s.tmp' && mv '%s.tmp' '%s'", py,
           src_dir(), dir, gguf, gguf, gguf);
  double t0 = now();
  int rc = system(cmd);
  fprintf(stderr, "%s: GGUF conversion %s in %.1f s\n", dir, rc == 0 ? "done" : "FAILED",
          now() - t0);
  return rc == 0 ? 0 : -1;
}

static int peer_start(peer *p, const char *py, const char *gguf, int threads, int ctx) {
  int in[2], out[2];
  if (pipe(in) || pipe(out)) return -1;
  char script[2048], th[16], cx[16];
  snprintf(script, sizeof script, "%s/bench/peers/llamacpp.py", src_dir());
  snprintf(th, sizeof th, "%d", threads);
  snprintf(cx, sizeof cx, "%d", ctx);
  p->pid = fork();
  if (p->pid == 0) {
    dup2(in[0], 0), dup2(out[1], 1);
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    execl(py, py, script, "serve", gguf, th, cx, (char *)NULL);
    _exit(127);
  }
  close(in[0]), close(out[1]);
  p->to = fdopen(in[1], "w");
  p->from = fdopen(out[0], "r");
  char line[256];
  if (!fgets(line, sizeof line, p->from) || strncmp(line, "ready", 5)) {
    fprintf(stderr, "bench_forward: the llama.cpp peer did not start\n");
    return -1;
  }
  return 0;
}

/* Sends "cmd ids..." and returns the answer line in buf. */
static int peer_ask(peer *p, const char *cmd, int lead, const int32_t *ids, int n, char *buf,
                    size_t bufn) {
  fprintf(p->to, "%s", cmd);
  if (lead >= 0) fprintf(p->to, " %d", lead);
  for (int i = 0; i < n; i++)
    fprintf(p->to, " %d", ids[i]);
  fputc('\n', p->to);
  fflush(p->to);
  if (!fgets(buf, (int)bufn, p->from) || !strncmp(buf, "error", 5)) {
    fprintf(stderr, "bench_forward: peer answered %s to %s\n", buf, cmd);
    return -1;
  }
  return 0;
}

static void peer_stop(peer *p) {
  if (p->to) fclose(p->to);
  if (p->from) fclose(p->from);
  if (p->pid > 0) waitpid(p->pid, NULL, 0);
}

static int32_t argmax(const float *v, int64_t n) {
  int64_t b = 0;
  for (int64_t i = 1; i < n; i++)
    if (v[i] > v[b]) b = i;
  return (int32_t)b;
}

/* seconds for `decode` greedy single-token steps after `prompt` (a fresh cache each time) */
static double seer_decode(seer_model *m, const int32_t *prompt, size_t np, int decode) {
  seer_error err = {0};
  seer_kv_cache *cache = seer_kv_cache_new(m, 1, &err);
  seer_forward_opts fo = {0, SEER_LOGITS_LAST, NULL, 0, 0};
  seer_forward_out out = {0};
  const int32_t *rows[1] = {prompt};
  size_t one = 1;
  int64_t V = seer_model_get_info(m)->vocab_size;
  if (!cache || seer_model_forward(m, cache, 1, rows, &np, &fo, &out, &err)) return -1;
  int32_t tok = argmax(seer_tensor_data(out.logits), V);
  double t0 = now();
  for (int s = 0; s < decode; s++) {
    seer_forward_out_free(&out);
    const int32_t *r1[1] = {&tok};
    if (seer_model_forward(m, cache, 1, r1, &one, &fo, &out, &err)) return -1;
    tok = argmax(seer_tensor_data(out.logits), V);
  }
  double t = now() - t0;
  seer_forward_out_free(&out);
  seer_kv_cache_free(cache);
  return t;
}

static double seer_prefill(seer_model *m, const int32_t *ids, size_t n) {
  seer_error err = {0};
  seer_forward_opts fo = {0, SEER_LOGITS_LAST, NULL, 0, 0};
  seer_forward_out out = {0};
  const int32_t *rows[1] = {ids};
  double t0 = now();
  if (seer_model_forward(m, NULL, 1, rows, &n, &fo, &out, &err)) return -1;
  double t = now() - t0;
  seer_forward_out_free(&out);
  return t;
}

static int run_with_peer(const char *name, const char *root, const char *py, int prefill,
                         int decode, int rounds, double bw) {
  char dir[1024], gguf[1100];
  snprintf(dir, sizeof dir, "%s/%s", root, name);
  snprintf(gguf, sizeof gguf, "%s/%s.gguf", root, name);
  if (peer_convert(py, dir, gguf)) return 1;
  seer_error err = {0};
  seer_model *m = NULL;
  if (seer_model_load(dir, NULL, &m, &err)) {
    fprintf(stderr, "%s: %s\n", name, err.msg);
    return 1;
  }
  const seer_model_info *in = seer_model_get_info(m);
  peer p = {0};
  if (peer_start(&p, py, gguf, seer_cpu_threads(), prefill + decode + 64)) return 1;
  int32_t prompt[8] = {1, 450, 4996, 17354, 1701, 432, 17204, 975};
  int32_t *ids = malloc(sizeof(int32_t) * (size_t)prefill);
  for (int i = 0; i < prefill; i++)
    ids[i] = (int32_t)((i * 7919 + 13) % in->vocab_size);
  char line[65536];
  /* top-1 at every position of a 32-token prompt */
  int nt = prefill < 32 ? prefill : 32, agree = 0;
  {
    seer_forward_opts fo = {0, SEER_LOGITS_ALL, NULL, 0, 0};
    seer_forward_out out = {0};
    const int32_t *rows[1] = {ids};
    size_t n = (size_t)nt;
    if (seer_model_forward(m, NULL, 1, rows, &n, &fo, &out, &err)) return 1;
    if (peer_ask(&p, "top1", -1, ids, nt, line, sizeof line)) return 1;
    char *c = line;
    for (int t = 0; t < nt; t++) {
      long pt = strtol(c, &c, 10);
      agree +=
          pt == argmax((const float *)seer_tensor_data(out.logits) + (int64_t)t * in->vocab_size,
                       in->vocab_size);
    }
    seer_forward_out_free(&out);
  }
  /* warm both (page cache, first-touch) outside the timed rounds */
  seer_decode(m, prompt, 8, 2);
  if (peer_ask(&p, "decode", 2, prompt, 8, line, sizeof line)) return 1;
  double best[2][2] = {{1e30, 1e30}, {1e30, 1e30}}; /* [seer|peer][decode|prefill] seconds */
  double wbytes = (double)seer_model_weight_bytes(m);
  for (int r = 0; r < rounds; r++) {
    double t[2][2];
    for (int k = 0; k < 2; k++) {
      int who = (r + k) % 2; /* alternate which engine goes first */
      if (who == 0) {
        t[0][0] = seer_decode(m, prompt, 8, decode);
        t[0][1] = seer_prefill(m, ids, (size_t)prefill);
      } else {
        if (peer_ask(&p, "decode", decode, prompt, 8, line, sizeof line)) return 1;
        t[1][0] = atof(line);
        if (peer_ask(&p, "prefill", -1, ids, prefill, line, sizeof line)) return 1;
        t[1][1] = atof(line);
      }
    }
    for (int e = 0; e < 2; e++)
      for (int w = 0; w < 2; w++)
        if (t[e][w] > 0 && t[e][w] < best[e][w]) best[e][w] = t[e][w];
    printf("| %s | round %d | decode tok/s %.2f vs %.2f (%.2fx) | prefill %d tok/s %.1f vs %.1f "
           "(%.2fx) |\n",
           name, r + 1, decode / t[0][0], decode / t[1][0], t[1][0] / t[0][0], prefill,
           prefill / t[0][1], prefill / t[1][1], t[1][1] / t[0][1]);
    fflush(stdout);
  }
  double sd = decode / best[0][0], pd = decode / best[1][0];
  printf("| %s | best of %d | decode tok/s %.2f vs %.2f (**%.2fx**), share of %.1f GB/s read "
         "bandwidth %.0f%% vs %.0f%% | prefill %d tok/s %.1f vs %.1f (**%.2fx**) | top-1 agrees at "
         "%d/%d prompt positions |\n",
         name, rounds, sd, pd, sd / pd, bw, 100 * wbytes * sd / 1e9 / bw,
         100 * wbytes * pd / 1e9 / bw, prefill, prefill / best[0][1], prefill / best[1][1],
         best[1][1] / best[0][1], agree, nt);
  fflush(stdout);
  peer_stop(&p);
  free(ids);
  seer_model_free(m);
  return 0;
}

static const char usage[] =
    "usage: bench_forward [--prefill N] [--decode N] [--dir DIR] [--only tinyllama|gemma2]\n"
    "                     [--peer llamacpp] [--rounds N]\n"
    "  --prefill N   prompt length of the prefill measure (default 512)\n"
    "  --decode N    decode steps at batch 1 (default 32)\n"
    "  --dir DIR     where the random models (and their GGUF copies) are kept (default: a new\n"
    "                /tmp/seer-bench-* directory); reuse one to skip create-random\n"
    "  --only NAME   one model: tinyllama or gemma2 (default: both)\n"
    "  --peer llamacpp  compare with llama.cpp (llama-cpp-python from tools/python/bench.txt, in\n"
    "                $SEER_BENCH_VENV or .cache/bench-venv, built on first use) in alternating "
    "rounds\n"
    "  --rounds N    alternating rounds with --peer (default 3)\n"
    "Threads: $SEER_THREADS (both engines get the same count). Run from the source tree or set\n"
    "$SEER_SOURCE_DIR.\n";

static int parse_int(const char *opt, const char *v, int *out) {
  char *end;
  long x = strtol(v, &end, 10);
  if (*v == '\0' || *end || x < 1 || x > 1000000) {
    fprintf(stderr, "bench_forward: %s wants a positive integer, got '%s'\n%s", opt, v, usage);
    return -1;
  }
  *out = (int)x;
  return 0;
}

int main(int argc, char **argv) {
  int prefill = 512, decode = 32, rounds = 3;
  const char *root = NULL, *only = NULL, *peer_name = NULL;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
      fputs(usage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "bench_forward: unknown or incomplete argument '%s'\n%s", o, usage);
      return 2;
    }
    const char *v = argv[++i];
    if (!strcmp(o, "--prefill")) {
      if (parse_int(o, v, &prefill)) return 2;
    } else if (!strcmp(o, "--decode")) {
      if (parse_int(o, v, &decode)) return 2;
    } else if (!strcmp(o, "--rounds")) {
      if (parse_int(o, v, &rounds)) return 2;
    } else if (!strcmp(o, "--dir")) {
      root = v;
    } else if (!strcmp(o, "--only")) {
      if (strcmp(v, "tinyllama") && strcmp(v, "gemma2")) {
        fprintf(stderr, "bench_forward: --only takes tinyllama or gemma2, got '%s'\n", v);
        return 2;
      }
      only = v;
    } else if (!strcmp(o, "--peer")) {
      if (strcmp(v, "llamacpp")) {
        fprintf(stderr, "bench_forward: the only peer is llamacpp, got '%s'\n", v);
        return 2;
      }
      peer_name = v;
    } else {
      fprintf(stderr, "bench_forward: unknown argument '%s'\n%s", o, usage);
      return 2;
    }
  }
  char py[2100] = "";
  if (peer_name && peer_python(py, sizeof py)) return 1;
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
  printf("CPU kernels: %s (best here: %s); streaming read bandwidth: %.1f GB/s (%d threads)\n\n",
         seer_cpu_level(), seer_cpu_level_best(), bw, seer_cpu_threads());
  if (peer_name)
    printf("seer vs llama.cpp (llama-cpp-python, built on this machine), %d threads each; ratios "
           "are seer / llama.cpp tok/s\n\n",
           seer_cpu_threads());
  else
    printf(
        "| model (bf16) | threads | decode tok/s | weight bytes/s (share of bandwidth) | prefill "
        "%d tok/s | Linear vs OpenBLAS sgemm (M=%d) | weights on disk | peak RSS decode / after "
        "prefill (decode÷files) |\n|---|---|---|---|---|---|---|---|\n",
        prefill, prefill);
  fflush(stdout);
  const char *names[2] = {"tinyllama-1.1b", "gemma-2-2b"};
  const char *only_names[2] = {"tinyllama", "gemma2"}; /* what --only takes */
  const char *cfgs[2] = {tinyllama_cfg, gemma2_cfg};
  int rc = 0;
  for (int i = 0; i < 2; i++) {
    if (only && strcmp(only_names[i], only)) continue;
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
    if (pid == 0)
      _exit(peer_name ? run_with_peer(names[i], root, py, prefill, decode, rounds, bw)
                      : run_model(names[i], root, prefill, decode, bw));
    waitpid(pid, &st, 0);
    rc |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  }
  fprintf(stderr, "models kept in %s\n", root);
  return rc;
}
