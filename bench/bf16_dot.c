/* bench/bf16_dot: what rounding activations to bf16 costs in accuracy, measured on the dot
 * products of a Linear layer (the question behind using vdpbf16ps or AMX tiles; bench/README.md,
 * "ISA levels"). Weights are bf16 either way. Three ways to compute y = x·w in f32:
 *   f32    x as f32, each weight widened to f32, fused multiply-add (every level today);
 *   bf16   x rounded to bf16 first, then exact products summed in f32 (what vdpbf16ps does);
 *   split  x = hi + lo with both parts bf16, two such passes (2x the bf16 instructions).
 * Each is compared with the same sum in double. The error is printed as max |dy| / max(1, |y|),
 * which is how the fixtures' README bounds hidden states and logits (1e-4 for f32 weights, 2e-4
 * for bf16), and as a ratio to 2e-4. Numerics only: portable C, no timing.
 *   usage: bench_bf16_dot [ROWS] [K]   (defaults 4096 rows of K = 2048) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float bf16_round(float f) { /* round to nearest even, as vcvtneps2bf16 does */
  uint32_t u;
  memcpy(&u, &f, 4);
  u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000u;
  memcpy(&f, &u, 4);
  return f;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double uniform(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void) {
  return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

int main(int argc, char **argv) {
  long rows = argc > 1 ? atol(argv[1]) : 4096, K = argc > 2 ? atol(argv[2]) : 2048;
  if (rows <= 0 || K <= 0 || K % 2) {
    fprintf(stderr, "usage: bench_bf16_dot [ROWS] [K]   (K even)\n");
    return 2;
  }
  float *x = malloc(K * sizeof *x), *w = malloc(K * sizeof *w);
  if (!x || !w) return 1;
  /* Activations like a residual stream after RMSNorm: unit scale with a few large channels. */
  for (long k = 0; k < K; k++)
    x[k] = (float)(normal() * (k % 97 == 0 ? 20.0 : 1.0));
  double worst[3] = {0, 0, 0}, mean[3] = {0, 0, 0};
  for (long r = 0; r < rows; r++) {
    for (long k = 0; k < K; k++)
      w[k] = bf16_round((float)(normal() * 0.02)); /* bf16 weights at initialisation scale */
    double ref = 0;
    float y[3] = {0, 0, 0};
    for (long k = 0; k < K; k += 2) { /* pairs, as vdpbf16ps takes them */
      ref += (double)x[k] * w[k] + (double)x[k + 1] * w[k + 1];
      y[0] = fmaf(x[k + 1], w[k + 1], fmaf(x[k], w[k], y[0]));
      float h0 = bf16_round(x[k]), h1 = bf16_round(x[k + 1]);
      y[1] = y[1] + h0 * w[k] + h1 * w[k + 1]; /* bf16 x bf16 products are exact in f32 */
      float l0 = bf16_round(x[k] - h0), l1 = bf16_round(x[k + 1] - h1);
      y[2] = y[2] + h0 * w[k] + h1 * w[k + 1];
      y[2] = y[2] + l0 * w[k] + l1 * w[k + 1];
    }
    for (int s = 0; s < 3; s++) {
      double e = fabs(y[s] - ref) / fmax(1.0, fabs(ref));
      if (e > worst[s]) worst[s] = e;
      mean[s] += e / (double)rows;
    }
  }
  static const char *const names[3] = {"f32 activations (today)", "bf16 activations (vdpbf16ps)",
                                       "split hi+lo bf16 (2 passes)"};
  printf("%ld dot products of length %ld, bf16 weights; error = |dy| / max(1, |y|)\n", rows, K);
  for (int s = 0; s < 3; s++)
    printf("  %-30s max %.2e  mean %.2e  max / 2e-4 tolerance %.3fx\n", names[s], worst[s], mean[s],
           worst[s] / 2e-4);
  free(x);
  free(w);
  return 0;
}
