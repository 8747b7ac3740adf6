/* cpu_gemv_avx2.c: owns the AVX2/FMA level's memory-bound Linear path for few rows of X (decode:
 * X·Wᵀ with f32/bf16/f16 weights, f32 accumulation), its small vector kernels, and that level's
 * kernel table. Compiled with -mavx2 -mfma -mf16c (the _avx2.c suffix); called only where
 * cpu_isa.c found those instructions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_simd.h"

static void to_f32(const void *src, seer_dtype dt, int64_t n, float *dst) {
  int64_t k = 0;
  if (dt == SEER_DTYPE_F32) {
    memcpy(dst, src, (size_t)n * 4);
    return;
  }
  if (dt == SEER_DTYPE_BF16)
    for (; k + 8 <= n; k += 8)
      _mm256_storeu_ps(dst + k, load8(src, SEER_DTYPE_BF16, k));
  else
    for (; k + 8 <= n; k += 8)
      _mm256_storeu_ps(dst + k, load8(src, SEER_DTYPE_F16, k));
  for (; k < n; k++)
    dst[k] = load1(src, dt, k);
}

/* ---- few rows of X: memory-bound, stream each weight row once and dot it with every X row ---- */

/* bf16 rows are read 16 elements (32 bytes) per load; one shift and one mask split a load into the
 * even- and odd-indexed elements as f32, so X is pre-permuted to match: per 16-element block, its 8
 * even-indexed then its 8 odd-indexed values. Two ALU ops per 16 weights instead of four. */
static void permute_x16(const float *x, int64_t K, float *xp) {
  const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  for (int64_t k = 0; k + 16 <= K; k += 16) {
    __m256 a = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + k), idx);     /* e0..e3 o0..o3 */
    __m256 b = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + k + 8), idx); /* e4..e7 o4..o7 */
    _mm256_storeu_ps(xp + k, _mm256_permute2f128_ps(a, b, 0x20));
    _mm256_storeu_ps(xp + k + 8, _mm256_permute2f128_ps(a, b, 0x31));
  }
}

ALWAYS_INLINE __m256 bf16_lo(__m256i v) { return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)); }
ALWAYS_INLINE __m256 bf16_hi(__m256i v) {
  return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xFFFF0000u)));
}

typedef struct {
  const float *X; /* X, or for bf16 weights its rows permuted by permute_x16 (row stride K) */
  int64_t M, K, ldx;
  const char *W;
  seer_dtype wdt;
  int64_t N;
  const float *bias;
  float *Y;
  int64_t ldy;
  const float *Xraw; /* X as given, for the K % 16 tail */
  int permuted;      /* X holds the permuted rows */
  int64_t rows_per_task;
} gemv_job;

ALWAYS_INLINE float finish_row(const gemv_job *j, __m256 acc, int64_t m, int64_t n, int64_t k,
                               const void *w, seer_dtype dt) {
  const float *x = j->Xraw + m * j->ldx;
  float s = hsum(acc);
  for (; k < j->K; k++)
    s += x[k] * load1(w, dt, k);
  if (j->bias) s += j->bias[n];
  return s;
}

/* One X row: four accumulators keep four FMA chains in flight, so the FMA latency never caps the
 * rate at which a core can consume weight bytes. */
static void gemv1_bf16(const gemv_job *j, int64_t n0, int64_t n1) {
  int64_t K = j->K, K16 = K & ~(int64_t)15;
  const int64_t pf = seer_cpu_gemv_prefetch;
  const float *xp = j->X;
  for (int64_t n = n0; n < n1; n++) {
    const uint16_t *w = (const uint16_t *)j->W + n * K;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 32 <= K16; k += 32) {
      _mm_prefetch((const char *)(w + k) + pf, _MM_HINT_T0);
      __m256i v0 = _mm256_loadu_si256((const __m256i *)(w + k));
      __m256i v1 = _mm256_loadu_si256((const __m256i *)(w + k + 16));
      a0 = _mm256_fmadd_ps(bf16_lo(v0), _mm256_loadu_ps(xp + k), a0);
      a1 = _mm256_fmadd_ps(bf16_hi(v0), _mm256_loadu_ps(xp + k + 8), a1);
      a2 = _mm256_fmadd_ps(bf16_lo(v1), _mm256_loadu_ps(xp + k + 16), a2);
      a3 = _mm256_fmadd_ps(bf16_hi(v1), _mm256_loadu_ps(xp + k + 24), a3);
    }
    if (k < K16) {
      __m256i v0 = _mm256_loadu_si256((const __m256i *)(w + k));
      a0 = _mm256_fmadd_ps(bf16_lo(v0), _mm256_loadu_ps(xp + k), a0);
      a1 = _mm256_fmadd_ps(bf16_hi(v0), _mm256_loadu_ps(xp + k + 8), a1);
      k += 16;
    }
    __m256 acc = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    j->Y[n] = finish_row(j, acc, 0, n, k, w, SEER_DTYPE_BF16);
  }
}

/* Several X rows share each weight load; two accumulators per row already give 4+ chains. */
ALWAYS_INLINE void gemvm_bf16(const gemv_job *j, int64_t n0, int64_t n1, int64_t m0, int mb) {
  int64_t K = j->K, K16 = K & ~(int64_t)15;
  const int64_t pf = seer_cpu_gemv_prefetch;
  for (int64_t n = n0; n < n1; n++) {
    const uint16_t *w = (const uint16_t *)j->W + n * K;
    __m256 acc[4][2];
    for (int i = 0; i < mb; i++)
      acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k < K16; k += 16) {
      _mm_prefetch((const char *)(w + k) + pf, _MM_HINT_T0);
      __m256i v = _mm256_loadu_si256((const __m256i *)(w + k));
      __m256 lo = bf16_lo(v), hi = bf16_hi(v);
      for (int i = 0; i < mb; i++) {
        const float *xp = j->X + (m0 + i) * K;
        acc[i][0] = _mm256_fmadd_ps(lo, _mm256_loadu_ps(xp + k), acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(hi, _mm256_loadu_ps(xp + k + 8), acc[i][1]);
      }
    }
    for (int i = 0; i < mb; i++)
      j->Y[(m0 + i) * j->ldy + n] =
          finish_row(j, _mm256_add_ps(acc[i][0], acc[i][1]), m0 + i, n, k, w, SEER_DTYPE_BF16);
  }
}

/* f32 and f16 weights: 8 elements per load, converted by load8. */
ALWAYS_INLINE void gemv_rows(const gemv_job *j, int64_t n0, int64_t n1, int64_t m0, int mb,
                             seer_dtype dt) {
  size_t es = seer_dtype_size(dt);
  int64_t K = j->K;
  const int64_t pf = seer_cpu_gemv_prefetch;
  for (int64_t n = n0; n < n1; n++) {
    const void *w = j->W + (size_t)n * (size_t)K * es;
    __m256 acc[4][2];
    for (int i = 0; i < mb; i++)
      acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
      _mm_prefetch((const char *)w + k * (int64_t)es + pf, _MM_HINT_T0);
      __m256 w0 = load8(w, dt, k), w1 = load8(w, dt, k + 8);
      for (int i = 0; i < mb; i++) {
        const float *x = j->X + (m0 + i) * j->ldx;
        acc[i][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), w0, acc[i][0]);
        acc[i][1] = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8), w1, acc[i][1]);
      }
    }
    for (int i = 0; i < mb; i++)
      j->Y[(m0 + i) * j->ldy + n] =
          finish_row(j, _mm256_add_ps(acc[i][0], acc[i][1]), m0 + i, n, k, w, dt);
  }
}

ALWAYS_INLINE void gemv_task_dt(const gemv_job *j, int64_t n0, int64_t n1, seer_dtype dt) {
  int64_t m = 0;
  if (dt == SEER_DTYPE_BF16 && j->permuted) {
    if (j->M == 1) {
      gemv1_bf16(j, n0, n1);
      return;
    }
    for (; m + 4 <= j->M; m += 4)
      gemvm_bf16(j, n0, n1, m, 4);
    switch (j->M - m) {
    case 3: gemvm_bf16(j, n0, n1, m, 3); break;
    case 2: gemvm_bf16(j, n0, n1, m, 2); break;
    case 1: gemvm_bf16(j, n0, n1, m, 1); break;
    default: break;
    }
    return;
  }
  for (; m + 4 <= j->M; m += 4)
    gemv_rows(j, n0, n1, m, 4, dt);
  switch (j->M - m) {
  case 3: gemv_rows(j, n0, n1, m, 3, dt); break;
  case 2: gemv_rows(j, n0, n1, m, 2, dt); break;
  case 1: gemv_rows(j, n0, n1, m, 1, dt); break;
  default: break;
  }
}

static void gemv_task(void *ctx, int64_t task, int thread) {
  const gemv_job *j = ctx;
  (void)thread;
  int64_t n0 = task * j->rows_per_task, n1 = n0 + j->rows_per_task;
  if (n1 > j->N) n1 = j->N;
  switch (j->wdt) {
  case SEER_DTYPE_BF16: gemv_task_dt(j, n0, n1, SEER_DTYPE_BF16); break;
  case SEER_DTYPE_F16: gemv_task_dt(j, n0, n1, SEER_DTYPE_F16); break;
  default: gemv_task_dt(j, n0, n1, SEER_DTYPE_F32); break;
  }
}

static void gemv(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W, seer_dtype wdt,
                 int64_t N, const float *bias, float *Y, int64_t ldy) {
  gemv_job j = {X, M, K, ldx, W, wdt, N, bias, Y, ldy, X, 0, 0};
  float stackbuf[4096], *xp = NULL;
  if (wdt == SEER_DTYPE_BF16 && K >= 16) {
    size_t need = (size_t)(M * K);
    /* Without memory for the permuted copy the generic path below still computes it. */
    xp = need <= sizeof stackbuf / sizeof *stackbuf ? stackbuf : malloc(need * sizeof(float));
    if (xp) {
      for (int64_t m = 0; m < M; m++)
        permute_x16(X + m * ldx, K, xp + m * K);
      j.X = xp;
      j.permuted = 1;
    }
  }
  /* Enough tasks that threads balance, but each covers whole cache lines of Y. */
  int64_t threads = seer_cpu_threads();
  int64_t rows = (N + threads * 8 - 1) / (threads * 8);
  if (rows < 16) rows = 16;
  j.rows_per_task = rows;
  seer_cpu_parallel_for((N + rows - 1) / rows, gemv_task, &j);
  if (xp && xp != stackbuf) free(xp);
}

static float dot(const float *a, const float *b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float r = hsum(acc);
  for (; i < n; i++)
    r += a[i] * b[i];
  return r;
}

static void axpy(float a, const float *x, float *y, int64_t n) {
  __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++)
    y[i] = fmaf(a, x[i], y[i]);
}

int seer_cpu_gemm_avx2(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W,
                       seer_dtype wdt, int64_t N, const float *bias, float *Y, int64_t ldy);

const seer_cpu_kernels seer_cpu_avx2_kernels = {SEER_CPU_AVX2, gemv, seer_cpu_gemm_avx2,
                                                to_f32,        dot,  axpy};
