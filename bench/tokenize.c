/* bench/tokenize: encode throughput of the four real tokenizers on one thread over a ~10 MB mixed
 * corpus (prose, code, CJK, emoji), against HF tokenizers (Rust, from PyPI, called from Python) in
 * the same run, and against @lenml/tokenizers (transformers.js) on node where npm installed it,
 * plus the load time of gemma3's 33 MB tokenizer.json. See bench/README.md. */
#include "seer/tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)((rng >> 11) % n);
}

static void put_cp(seer_buf *b, uint32_t cp) {
  char u[4];
  size_t n;
  if (cp < 0x80)
    u[0] = (char)cp, n = 1;
  else if (cp < 0x800)
    u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
  else if (cp < 0x10000)
    u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
    u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
  else
    u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
  seer_buf_append(b, u, n);
}

static const char *const WORDS[] = {"the",
                                    "of",
                                    "and",
                                    "to",
                                    "in",
                                    "model",
                                    "attention",
                                    "layer",
                                    "residual",
                                    "stream",
                                    "token",
                                    "feature",
                                    "circuit",
                                    "neuron",
                                    "activation",
                                    "probe",
                                    "steering",
                                    "vector",
                                    "we",
                                    "observe",
                                    "that",
                                    "is",
                                    "was",
                                    "with",
                                    "for",
                                    "this",
                                    "interpretability",
                                    "gradient",
                                    "loss",
                                    "training",
                                    "however",
                                    "because",
                                    "transformer",
                                    "embedding",
                                    "head",
                                    "query",
                                    "key",
                                    "value",
                                    "network",
                                    "research",
                                    "results",
                                    "show",
                                    "significant",
                                    "between",
                                    "each",
                                    "which",
                                    "could",
                                    "would",
                                    "analysis",
                                    "dataset",
                                    "Figure",
                                    "Table",
                                    "appendix",
                                    "although",
                                    "representation",
                                    "sparse"};

static void prose(seer_buf *b, size_t bytes) {
  size_t start = b->len;
  while (b->len - start < bytes) {
    int words = 6 + (int)rnd(20);
    for (int i = 0; i < words; i++) {
      const char *w = WORDS[rnd(sizeof WORDS / sizeof *WORDS)];
      if (i == 0) {
        seer_buf_appendc(b, (char)(w[0] >= 'a' ? w[0] - 32 : w[0]));
        seer_buf_appends(b, w + 1);
      } else {
        seer_buf_appends(b, w);
      }
      if (rnd(12) == 0) seer_buf_printf(b, " %u", rnd(2025));
      if (i + 1 < words) seer_buf_appends(b, rnd(9) == 0 ? ", " : " ");
    }
    seer_buf_appends(b, rnd(6) == 0 ? "?\n" : rnd(5) == 0 ? ".\n\n" : ". ");
  }
}

static void code(seer_buf *b, size_t bytes) {
  static const char *const IDS[] = {"x", "buf", "len",    "tok",    "ids",   "state", "n",
                                    "i", "ctx", "hidden", "logits", "cache", "err"};
  size_t start = b->len;
  int depth = 0;
  while (b->len - start < bytes) {
    for (int k = 0; k < depth; k++)
      seer_buf_appends(b, "    ");
    const char *a = IDS[rnd(13)], *c = IDS[rnd(13)];
    switch (rnd(7)) {
    case 0:
      seer_buf_printf(b, "for (size_t %s = 0; %s < %s; %s++) {\n", a, a, c, a), depth++;
      break;
    case 1: seer_buf_printf(b, "if (%s->%s == NULL) return -%u;\n", a, c, rnd(9)); break;
    case 2: seer_buf_printf(b, "def %s_%s(self, %s=None):\n", a, c, a); break;
    case 3: seer_buf_printf(b, "%s[%s] += 0x%X; // update %s\n", a, c, rnd(65536), c); break;
    case 4: seer_buf_printf(b, "const %s = await fetch(`/api/%s?id=${%s}`);\n", a, c, a); break;
    case 5: seer_buf_printf(b, "local %s = { %u, %u, \"%s\" }\n", a, rnd(99), rnd(99), c); break;
    default:
      if (depth) {
        depth--;
        for (int k = 0; k < depth; k++)
          seer_buf_appends(b, "    ");
        seer_buf_appends(b, "}\n");
      } else {
        seer_buf_appends(b, "\n");
      }
    }
  }
}

static void cjk(seer_buf *b, size_t bytes) {
  size_t start = b->len;
  while (b->len - start < bytes) {
    uint32_t r = rnd(10);
    if (r < 6)
      put_cp(b, 0x4E00 + rnd(0x51A6)); /* CJK ideographs */
    else if (r < 8)
      put_cp(b, 0x3041 + rnd(0x56)); /* hiragana */
    else if (r < 9)
      put_cp(b, 0xAC00 + rnd(0x2BA4)); /* hangul */
    else
      put_cp(b, rnd(3) ? 0x3002 : 0xFF0C); /* 。， */
    if (rnd(40) == 0) seer_buf_appendc(b, '\n');
  }
}

static void emoji(seer_buf *b, size_t bytes) {
  size_t start = b->len;
  while (b->len - start < bytes) {
    put_cp(b, 0x1F300 + rnd(0x350));
    if (rnd(3) == 0) {
      seer_buf_appendc(b, ' ');
      seer_buf_appends(b, WORDS[rnd(sizeof WORDS / sizeof *WORDS)]);
      seer_buf_appendc(b, ' ');
    }
  }
}

/* Chunks of 1-8 KB, each one kind, separated by NUL in the file the node peer reads. */
static void make_corpus(seer_buf *b, size_t total) {
  while (b->len < total) {
    size_t sz = 1024 + rnd(7 * 1024);
    uint32_t k = rnd(10);
    if (k < 4)
      prose(b, sz);
    else if (k < 7)
      code(b, sz);
    else if (k < 9)
      cjk(b, sz);
    else
      emoji(b, sz);
    seer_buf_appendc(b, 0);
  }
}

/* One peer's per-tokenizer seconds and token counts, read from its "<name> <secs> <tokens>" lines.
 */
typedef struct {
  double secs[4];
  size_t tokens[4];
  int rc;
} peer_result;

static void run_peer(const char *cmd, const char *const names[4], peer_result *out) {
  FILE *peer = popen(cmd, "r");
  char line[256], pname[64];
  while (peer && fgets(line, sizeof line, peer)) {
    double s;
    size_t k;
    if (sscanf(line, "%63s %lf %zu", pname, &s, &k) != 3) continue;
    for (int t = 0; t < 4; t++)
      if (!strcmp(pname, names[t])) out->secs[t] = s, out->tokens[t] = k;
  }
  out->rc = peer ? pclose(peer) : -1;
}

static int has_js_peer(const char *cache) {
  char path[4400];
  snprintf(path, sizeof path, "%s/npm/node_modules/@lenml/tokenizers/package.json", cache);
  return access(path, R_OK) == 0;
}

int main(int argc, char **argv) {
  /* The source tree is where this file was compiled from. */
  char src[4096];
  snprintf(src, sizeof src, "%s", __FILE__);
  char *slash = strrchr(src, '/');
  if (slash) *slash = 0;
  slash = strrchr(src, '/');
  if (slash)
    *slash = 0;
  else
    snprintf(src, sizeof src, ".");
  const char *cache = getenv("SEER_TEST_CACHE");
  char cache_buf[4200];
  if (!cache || !*cache) {
    snprintf(cache_buf, sizeof cache_buf, "%s/.cache/test-cache", src);
    cache = cache_buf;
  }
  char cmd[32768];
  snprintf(cmd, sizeof cmd, "bash '%s/tests/setup/tokenizers.sh' '%s' >/dev/null", src, cache);
  if (system(cmd) != 0) {
    fprintf(stderr, "bench_tokenize: tests/setup/tokenizers.sh failed\n");
    return 1;
  }
  size_t mb = argc > 1 ? (size_t)atoi(argv[1]) : 10;
  seer_buf corpus = SEER_BUF_INIT;
  make_corpus(&corpus, mb << 20);
  char corpus_path[4300];
  snprintf(corpus_path, sizeof corpus_path, "%s/bench-corpus.txt", cache);
  FILE *f = fopen(corpus_path, "wb");
  if (!f || fwrite(corpus.data, 1, corpus.len - 1, f) != corpus.len - 1) {
    fprintf(stderr, "cannot write %s\n", corpus_path);
    return 1;
  }
  fclose(f);
  size_t nchunks = 0;
  for (size_t i = 0; i < corpus.len; i++)
    nchunks += corpus.data[i] == 0;
  printf("corpus: %.2f MB in %zu chunks (prose, code, CJK, emoji)\n", (double)corpus.len / 1e6,
         nchunks);

  const char *const names[4] = {"llama3", "qwen3", "llama2", "gemma3"};
  double c_secs[4];
  size_t c_tokens[4];
  for (int t = 0; t < 4; t++) {
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/tokenizers/%s", cache, names[t]);
    seer_error err = {0};
    seer_tokenizer *tok = NULL;
    double best_load = 1e9;
    for (int rep = 0; rep < (t == 3 ? 3 : 1); rep++) {
      seer_tokenizer_free(tok);
      double t0 = now();
      if (seer_tokenizer_load(dir, &tok, &err)) {
        fprintf(stderr, "%s: %s\n", names[t], err.msg);
        return 1;
      }
      double dt = now() - t0;
      if (dt < best_load) best_load = dt;
    }
    if (t == 3)
      printf("gemma3 tokenizer.json load: %.3f s (best of 3; target <= 0.5 s)\n", best_load);
    int32_t *ids = NULL;
    size_t n = 0;
    double t0 = now();
    c_tokens[t] = 0;
    for (const char *p = corpus.data, *end = corpus.data + corpus.len; p < end;) {
      size_t len = strlen(p);
      if (seer_tokenizer_encode(tok, p, len, 0, &ids, &n, &err)) {
        fprintf(stderr, "%s: %s\n", names[t], err.msg);
        return 1;
      }
      c_tokens[t] += n;
      free(ids);
      p += len + 1;
    }
    c_secs[t] = now() - t0;
    seer_tokenizer_free(tok);
  }

  /* HF tokenizers from the tests' venv (tools/venv.sh makes it when missing). */
  const char *venv = getenv("SEER_VENV");
  char venv_buf[4300];
  if (!venv || !*venv) {
    snprintf(venv_buf, sizeof venv_buf, "%s/venv", cache);
    venv = venv_buf;
  }
  snprintf(cmd, sizeof cmd, "bash '%s/tools/venv.sh' '%s' test >/dev/null", src, venv);
  if (system(cmd) != 0) fprintf(stderr, "bench_tokenize: tools/venv.sh failed; no HF peer\n");
  peer_result hf = {0}, js = {0};
  snprintf(cmd, sizeof cmd,
           "RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false '%s/bin/python' "
           "'%s/bench/peers/tokenize_hf.py' '%s/tokenizers' '%s' llama3 qwen3 llama2 gemma3",
           venv, src, cache, corpus_path);
  run_peer(cmd, names, &hf);
  /* The JS peer only where npm could install it (tests/setup/tokenizers.sh --js-peer). */
  snprintf(cmd, sizeof cmd, "bash '%s/tests/setup/tokenizers.sh' --js-peer '%s' >/dev/null", src,
           cache);
  int have_js = system(cmd) == 0 && has_js_peer(cache);
  if (have_js) {
    snprintf(cmd, sizeof cmd,
             "node '%s/bench/peers/tokenize.mjs' '%s' '%s' llama3 qwen3 llama2 gemma3", src, cache,
             corpus_path);
    run_peer(cmd, names, &js);
  }

  double mbytes = (double)(corpus.len - nchunks) / 1e6;
  printf("%-8s %10s %10s %9s %10s %9s %8s %12s %12s\n", "name", "seer MB/s", "HF MB/s", "vs HF",
         "JS MB/s", "vs JS", "target", "seer tokens", "HF tokens");
  for (int t = 0; t < 4; t++) {
    double ours = mbytes / c_secs[t];
    double h = hf.secs[t] > 0 ? mbytes / hf.secs[t] : 0,
           j = js.secs[t] > 0 ? mbytes / js.secs[t] : 0;
    printf("%-8s %10.2f %10.2f %8.2fx %10.2f %8.2fx %8s %12zu %12zu%s\n", names[t], ours, h,
           h > 0 ? ours / h : 0.0, j, j > 0 ? ours / j : 0.0, ">=3x", c_tokens[t], hf.tokens[t],
           hf.tokens[t] && hf.tokens[t] != c_tokens[t] ? "  TOKEN COUNTS DIFFER" : "");
  }
  if (hf.rc != 0) printf("(HF tokenizers peer failed: exit %d)\n", hf.rc);
  if (!have_js)
    printf("(JS peer @lenml/tokenizers not installed: npm cannot reach its registry)\n");
  else if (js.rc != 0)
    printf("(node peer failed: exit %d)\n", js.rc);
  seer_buf_free(&corpus);
  return 0;
}
