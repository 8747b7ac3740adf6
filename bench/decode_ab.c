/* bench/decode_ab: an A/B of one environment setting on decode at batch 1, in alternating rounds,
 * each round a fresh child process (so the setting is read at start-up as in real use). Used for:
 *   --env SEER_WEIGHTS=map,copy      weights mapped vs copied into anonymous huge pages
 *   --env SEER_POOL_SPIN_US=,0       the thread pool's adaptive spin (unset) vs always park
 * Per round: load time, decode tok/s, CPU time per token (all threads, getrusage: on a loaded
 * machine it moves less than wall time, which counts the slices other processes take), voluntary
 * context switches per token (a worker parking on its futex is one), and from
 * /proc/self/smaps_rollup how much of the process sits on 2 MiB pages (AnonHugePages,
 * FilePmdMapped); then B ÷ A. The model directory is one bench_forward made
 * (`bench_forward --only tinyllama --dir DIR` keeps DIR/tinyllama-1.1b). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../runtime/tensor/cpu.h"
#include "seer/model.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds of this process (all its threads): under load, steadier than wall time. */
static double cpu_s(long *vcsw) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *vcsw = ru.ru_nvcsw;
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

static long rollup_kb(const char *key) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, n) && line[n] == ':') v = atol(line + n + 1);
  if (f) fclose(f);
  return v;
}

typedef struct {
  double load_s, tps, cpu_ms_per_tok, vcsw_per_tok;
  long rss_kb, anon_huge_kb, file_pmd_kb;
} round_out;

/* One round in this (child) process: load, warm with a prompt and one step, time `decode` steps. */
static int one_round(const char *dir, int decode, round_out *r) {
  seer_error err = {0};
  seer_model *m = NULL;
  double t0 = now();
  if (seer_model_load(dir, NULL, &m, &err)) {
    fprintf(stderr, "%s: %s\n", dir, err.msg);
    return 1;
  }
  r->load_s = now() - t0;
  const seer_model_info *in = seer_model_get_info(m);
  int32_t prompt[8] = {1, 450, 4996, 17354, 1701, 432, 17204, 975};
  const int32_t *rows[1] = {prompt};
  size_t n = 8, one = 1;
  seer_kv_cache *cache = seer_kv_cache_new(m, 1, &err);
  seer_forward_opts fo = {0, SEER_LOGITS_LAST, NULL, 0, 0};
  seer_forward_out out = {0};
  if (!cache || seer_model_forward(m, cache, 1, rows, &n, &fo, &out, &err)) {
    fprintf(stderr, "%s: %s\n", dir, err.msg);
    return 1;
  }
  int32_t tok = 0;
  double t_dec = 0, c_dec = 0;
  long v_dec = 0;
  for (int s = 0; s <= decode; s++) {
    tok = (int32_t)((tok * 31 + 7 + s) % in->vocab_size);
    seer_forward_out_free(&out);
    const int32_t *r1[1] = {&tok};
    t0 = now();
    long v0, v1;
    double c0 = cpu_s(&v0);
    if (seer_model_forward(m, cache, 1, r1, &one, &fo, &out, &err)) {
      fprintf(stderr, "%s: %s\n", dir, err.msg);
      return 1;
    }
    if (s > 0) t_dec += now() - t0, c_dec += cpu_s(&v1) - c0, v_dec += v1 - v0;
  }
  seer_forward_out_free(&out);
  r->tps = decode / t_dec;
  r->cpu_ms_per_tok = 1000 * c_dec / decode;
  r->vcsw_per_tok = (double)v_dec / decode;
  r->rss_kb = rollup_kb("Rss");
  r->anon_huge_kb = rollup_kb("AnonHugePages");
  r->file_pmd_kb = rollup_kb("FilePmdMapped");
  seer_kv_cache_free(cache);
  seer_model_free(m);
  return 0;
}

static int run_child(const char *var, const char *value, const char *dir, int decode,
                     round_out *r) {
  int fds[2];
  if (pipe(fds) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (*value)
      setenv(var, value, 1);
    else
      unsetenv(var);
    round_out o = {0};
    int rc = one_round(dir, decode, &o);
    if (!rc && write(fds[1], &o, sizeof o) != sizeof o) rc = 1;
    _exit(rc);
  }
  close(fds[1]);
  ssize_t got = read(fds[0], r, sizeof *r);
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return got != sizeof *r || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

static const char usage[] =
    "usage: bench_decode_ab --dir MODEL_DIR --env VAR=A,B [--rounds N] [--decode N]\n"
    "  MODEL_DIR  a bf16 model directory, e.g. DIR/tinyllama-1.1b after\n"
    "             `bench_forward --only tinyllama --dir DIR`\n"
    "  --env VAR=A,B  the setting compared; an empty value means VAR unset\n"
    "             (SEER_WEIGHTS=map,copy; SEER_POOL_SPIN_US=,0)\n"
    "  --rounds N alternating rounds (default 3)\n"
    "  --decode N decode steps timed per round (default 16)\n";

int main(int argc, char **argv) {
  const char *dir = NULL, *env = NULL;
  int rounds = 3, decode = 16;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "bench_decode_ab: unknown or incomplete argument '%s'\n%s", argv[i], usage);
      return 2;
    }
    const char *o = argv[i], *v = argv[++i];
    int x = atoi(v);
    if (!strcmp(o, "--dir"))
      dir = v;
    else if (!strcmp(o, "--env"))
      env = v;
    else if (!strcmp(o, "--rounds") && x > 0)
      rounds = x;
    else if (!strcmp(o, "--decode") && x > 0)
      decode = x;
    else {
      fprintf(stderr, "bench_decode_ab: bad argument '%s %s'\n%s", o, v, usage);
      return 2;
    }
  }
  char var[128], vals[2][128];
  const char *eq = env ? strchr(env, '=') : NULL, *comma = eq ? strchr(eq, ',') : NULL;
  if (!dir || !comma || eq - env >= (long)sizeof var || comma - eq > (long)sizeof vals[0] ||
      strlen(comma + 1) >= sizeof vals[1]) {
    fputs(usage, stderr);
    return 2;
  }
  snprintf(var, sizeof var, "%.*s", (int)(eq - env), env);
  snprintf(vals[0], sizeof vals[0], "%.*s", (int)(comma - eq - 1), eq + 1);
  snprintf(vals[1], sizeof vals[1], "%s", comma + 1);
  printf("CPU kernels: %s, %d threads; %s, %d decode steps per round\n\n", seer_cpu_level(),
         seer_cpu_threads(), dir, decode);
  printf("| round | %s | load s | decode tok/s | CPU ms per token | voluntary switches per token | "
         "RSS MiB | AnonHugePages "
         "MiB | FilePmdMapped "
         "MiB | B ÷ A |\n|---|---|---|---|---|---|---|---|---|---|\n",
         var);
  const char *pol[2] = {vals[0], vals[1]};
  double best[2] = {0, 0}, best_cpu[2] = {1e30, 1e30};
  for (int r = 0; r < rounds; r++) {
    round_out o[2];
    for (int k = 0; k < 2; k++) {
      int which = (r + k) % 2; /* alternate which policy goes first */
      if (run_child(var, pol[which], dir, decode, &o[which])) return 1;
      if (o[which].tps > best[which]) best[which] = o[which].tps;
      if (o[which].cpu_ms_per_tok < best_cpu[which]) best_cpu[which] = o[which].cpu_ms_per_tok;
    }
    for (int k = 0; k < 2; k++) {
      printf("| %d | %s | %.2f | %.2f | %.0f | %.1f | %ld | %ld | %ld | ", r + 1,
             *pol[k] ? pol[k] : "unset", o[k].load_s, o[k].tps, o[k].cpu_ms_per_tok,
             o[k].vcsw_per_tok, o[k].rss_kb / 1024, o[k].anon_huge_kb / 1024,
             o[k].file_pmd_kb / 1024);
      if (k == 1)
        printf("%.2fx tok/s, %.2fx CPU per token |\n", o[1].tps / o[0].tps,
               o[1].cpu_ms_per_tok / o[0].cpu_ms_per_tok);
      else
        printf(" |\n");
    }
    fflush(stdout);
  }
  printf("\nbest of %d: A (%s) %.2f tok/s, B (%s) %.2f tok/s: B ÷ A **%.2fx**; CPU per token A "
         "%.0f ms, B %.0f ms: B ÷ A **%.2fx**\n",
         rounds, *pol[0] ? pol[0] : "unset", best[0], *pol[1] ? pol[1] : "unset", best[1],
         best[1] / best[0], best_cpu[0], best_cpu[1], best_cpu[1] / best_cpu[0]);
  return 0;
}
