/* cpu_generic.c: owns the portable level's kernels (plain C, any CPU): what runs where cpu_isa.c
 * finds no AVX2+FMA+F16C, or where SEER_CPU=generic asks for it. Written for clarity and for the
 * compiler's own vectorizer (eight independent partial sums per dot product); the engine's speed
 * comes from the per-ISA files. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

static inline float bf16f(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static void to_f32(const void *src, seer_dtype dt, int64_t n, float *dst) {
  if (dt == SEER_DTYPE_F32) {
    memcpy(dst, src, (size_t)n * 4);
    return;
  }
  const uint16_t *h = src;
  if (dt == SEER_DTYPE_BF16)
    for (int64_t i = 0; i < n; i++)
      dst[i] = bf16f(h[i]);
  else
    for (int64_t i = 0; i < n; i++)
      dst[i] = seer_f16_to_f32(h[i]);
}

static float dot(const float *a, const float *b, int64_t n) {
  float s[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++)
      s[l] += a[i + l] * b[i + l];
  float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; i++)
    r += a[i] * b[i];
  return r;
}

static void axpy(float a, const float *x, float *y, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    y[i] += a * x[i];
}

typedef struct {
  const float *X;
  int64_t M, K, ldx;
  const char *W;
  seer_dtype wdt;
  int64_t N;
  const float *bias;
  float *Y;
  int64_t ldy, rows_per_task;
} linear_job;

/* Each weight row is widened to f32 once (in a per-task buffer) and dotted with every X row. */
static void linear_task(void *ctx, int64_t task, int thread) {
  const linear_job *j = ctx;
  (void)thread;
  int64_t n0 = task * j->rows_per_task, n1 = n0 + j->rows_per_task;
  if (n1 > j->N) n1 = j->N;
  size_t es = seer_dtype_size(j->wdt);
  float stackbuf[2048], *w = j->K <= 2048 ? stackbuf : malloc(sizeof(float) * (size_t)j->K);
  for (int64_t n = n0; n < n1; n++) {
    const void *wrow = j->W + (size_t)n * (size_t)j->K * es;
    const float *wf = wrow;
    if (j->wdt != SEER_DTYPE_F32) {
      if (w) {
        to_f32(wrow, j->wdt, j->K, w);
        wf = w;
      } else { /* no memory for the widened row: one element at a time */
        for (int64_t m = 0; m < j->M; m++) {
          float s = 0;
          for (int64_t k = 0; k < j->K; k++) {
            float wk;
            to_f32((const char *)wrow + (size_t)k * es, j->wdt, 1, &wk);
            s += j->X[m * j->ldx + k] * wk;
          }
          j->Y[m * j->ldy + n] = s + (j->bias ? j->bias[n] : 0.0f);
        }
        continue;
      }
    }
    for (int64_t m = 0; m < j->M; m++) {
      float s = dot(j->X + m * j->ldx, wf, j->K);
      if (j->bias) s += j->bias[n];
      j->Y[m * j->ldy + n] = s;
    }
  }
  if (w != stackbuf) free(w);
}

static void gemv(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W, seer_dtype wdt,
                 int64_t N, const float *bias, float *Y, int64_t ldy) {
  linear_job j = {X, M, K, ldx, W, wdt, N, bias, Y, ldy, 0};
  int64_t threads = seer_cpu_threads();
  int64_t rows = (N + threads * 8 - 1) / (threads * 8);
  if (rows < 16) rows = 16;
  j.rows_per_task = rows;
  seer_cpu_parallel_for((N + rows - 1) / rows, linear_task, &j);
}

static int gemm(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W, seer_dtype wdt,
                int64_t N, const float *bias, float *Y, int64_t ldy) {
  gemv(X, M, K, ldx, W, wdt, N, bias, Y, ldy);
  return 0;
}

const seer_cpu_kernels seer_cpu_generic_kernels = {SEER_CPU_GENERIC, gemv, gemm, to_f32, dot, axpy};
