/* bench/activation: the gated MLP activation g = act(g) * u (runtime/model/activation.c) against
 * the libm form it replaced (expf for SiLU, tanhf for the tanh GELU), on one thread over a
 * 512-token Gemma-2-2B MLP row block (512 x 9216 elements). Prints ns per element for both, their
 * ratio, and the largest difference relative to max(1, |y|), the fixtures' error measure.
 *   usage: bench_activation [ELEMENTS] [REPEATS]   (defaults 4718592, 5) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../runtime/model/model_internal.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void libm_gated(model_act a, float *g, const float *u, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float x = g[i];
    g[i] = (a == ACT_SILU
                ? x / (1.0f + expf(-x))
                : 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)))) *
           u[i];
  }
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 512L * 9216, reps = argc > 2 ? atol(argv[2]) : 5;
  if (n <= 0 || reps <= 0) {
    fprintf(stderr, "usage: bench_activation [ELEMENTS] [REPEATS]\n");
    return 2;
  }
  float *x = malloc(n * sizeof *x), *u = malloc(n * sizeof *u), *a = malloc(n * sizeof *a),
        *b = malloc(n * sizeof *b);
  if (!x || !u || !a || !b) return 1;
  srand(1);
  for (long i = 0; i < n; i++) { /* gate pre-activations spanning the interesting range */
    x[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 24.0f;
    u[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  }
  static const struct {
    model_act act;
    const char *name;
  } acts[] = {{ACT_GELU_TANH, "gelu_pytorch_tanh"}, {ACT_SILU, "silu"}};
  for (int k = 0; k < 2; k++) {
    double best_old = 1e30, best_new = 1e30;
    for (long r = 0; r < reps; r++) { /* alternating, best of reps */
      memcpy(a, x, n * sizeof *x);
      double t0 = now();
      libm_gated(acts[k].act, a, u, n);
      double t1 = now();
      memcpy(b, x, n * sizeof *x);
      double t2 = now();
      seer_act_gated(acts[k].act, b, u, n);
      double t3 = now();
      if (t1 - t0 < best_old) best_old = t1 - t0;
      if (t3 - t2 < best_new) best_new = t3 - t2;
    }
    double worst = 0;
    for (long i = 0; i < n; i++) {
      double e = fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)a[i]));
      if (e > worst) worst = e;
    }
    printf(
        "%-18s libm %.2f ns/element, seer %.2f ns/element: %.2fx faster; max |diff| / max(1, |y|) "
        "%.1e\n",
        acts[k].name, best_old * 1e9 / n, best_new * 1e9 / n, best_old / best_new, worst);
  }
  free(x);
  free(u);
  free(a);
  free(b);
  return 0;
}
