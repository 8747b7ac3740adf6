/* cpu_gemv_avx512.c: owns the AVX-512 (F/BW/VL) level's memory-bound Linear path for few rows of X
 * (decode), its small vector kernels and that level's kernel table. Compiled with -mavx512f
 * -mavx512bw -mavx512vl -mfma -mf16c (the _avx512.c suffix); called only where cpu_isa.c found
 * those instructions and the OS saving ZMM state. Activations stay f32: bf16 weights are widened
 * to f32 (a shift or a mask per 16 weights), never the activations rounded to bf16.
 * Unverified on hardware so far: the machines it was written on lack AVX-512 (bench/README.md). */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE __m512 load16(const void *w, seer_dtype dt, int64_t k) {
  if (dt == SEER_DTYPE_F32) return _mm512_loadu_ps((const float *)w + k);
  __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + k));
  if (dt == SEER_DTYPE_BF16)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

ALWAYS_INLINE float load1(const void *w, seer_dtype dt, int64_t k) {
  if (dt == SEER_DTYPE_F32) return ((const float *)w)[k];
  uint16_t h = ((const uint16_t *)w)[k];
  return dt == SEER_DTYPE_BF16 ? seer_bf16_to_f32(h) : seer_f16_to_f32(h);
}

static void to_f32(const void *src, seer_dtype dt, int64_t n, float *dst) {
  int64_t k = 0;
  if (dt == SEER_DTYPE_F32) {
    memcpy(dst, src, (size_t)n * 4);
    return;
  }
  if (dt == SEER_DTYPE_BF16)
    for (; k + 16 <= n; k += 16)
      _mm512_storeu_ps(dst + k, load16(src, SEER_DTYPE_BF16, k));
  else
    for (; k + 16 <= n; k += 16)
      _mm512_storeu_ps(dst + k, load16(src, SEER_DTYPE_F16, k));
  for (; k < n; k++)
    dst[k] = load1(src, dt, k);
}

static float dot(const float *a, const float *b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  float r = _mm512_reduce_add_ps(acc);
  for (; i < n; i++)
    r += a[i] * b[i];
  return r;
}

static void axpy(float a, const float *x, float *y, int64_t n) {
  __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  for (; i < n; i++)
    y[i] = fmaf(a, x[i], y[i]);
}

/* As in cpu_gemv_avx2.c, one shift and one mask split a 32-element bf16 load into its even- and
 * odd-indexed elements as f32, so X is pre-permuted per 32-element block: its 16 even-indexed
 * then its 16 odd-indexed values. */
static void permute_x32(const float *x, int64_t K, float *xp) {
  const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int64_t k = 0; k + 32 <= K; k += 32) {
    __m512 a = _mm512_loadu_ps(x + k), b = _mm512_loadu_ps(x + k + 16);
    _mm512_storeu_ps(xp + k, _mm512_permutex2var_ps(a, ev, b));
    _mm512_storeu_ps(xp + k + 16, _mm512_permutex2var_ps(a, od, b));
  }
}

ALWAYS_INLINE __m512 bf16_lo(__m512i v) { return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)); }
ALWAYS_INLINE __m512 bf16_hi(__m512i v) {
  return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32((int)0xFFFF0000u)));
}

typedef struct {
  const float *X; /* X, or for bf16 weights its rows permuted by permute_x32 (row stride K) */
  int64_t M, K, ldx;
  const char *W;
  seer_dtype wdt;
  int64_t N;
  const float *bias;
  float *Y;
  int64_t ldy;
  const float *Xraw; /* X as given, for the K % 32 tail */
  int permuted;
  int64_t rows_per_task;
} gemv_job;

ALWAYS_INLINE float finish_row(const gemv_job *j, float s, int64_t m, int64_t n, int64_t k,
                               const void *w, seer_dtype dt) {
  const float *x = j->Xraw + m * j->ldx;
  for (; k < j->K; k++)
    s += x[k] * load1(w, dt, k);
  if (j->bias) s += j->bias[n];
  return s;
}

/* One X row, four accumulators in flight (64 weights per iteration). */
static void gemv1_bf16(const gemv_job *j, int64_t n0, int64_t n1) {
  int64_t K = j->K, K32 = K & ~(int64_t)31;
  const int64_t pf = seer_cpu_gemv_prefetch;
  const float *xp = j->X;
  for (int64_t n = n0; n < n1; n++) {
    const uint16_t *w = (const uint16_t *)j->W + n * K;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 64 <= K32; k += 64) {
      _mm_prefetch((const char *)(w + k) + pf, _MM_HINT_T0);
      _mm_prefetch((const char *)(w + k) + pf + 64, _MM_HINT_T0);
      __m512i v0 = _mm512_loadu_si512((const void *)(w + k));
      __m512i v1 = _mm512_loadu_si512((const void *)(w + k + 32));
      a0 = _mm512_fmadd_ps(bf16_lo(v0), _mm512_loadu_ps(xp + k), a0);
      a1 = _mm512_fmadd_ps(bf16_hi(v0), _mm512_loadu_ps(xp + k + 16), a1);
      a2 = _mm512_fmadd_ps(bf16_lo(v1), _mm512_loadu_ps(xp + k + 32), a2);
      a3 = _mm512_fmadd_ps(bf16_hi(v1), _mm512_loadu_ps(xp + k + 48), a3);
    }
    if (k < K32) {
      __m512i v0 = _mm512_loadu_si512((const void *)(w + k));
      a0 = _mm512_fmadd_ps(bf16_lo(v0), _mm512_loadu_ps(xp + k), a0);
      a1 = _mm512_fmadd_ps(bf16_hi(v0), _mm512_loadu_ps(xp + k + 16), a1);
      k += 32;
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    j->Y[n] = finish_row(j, s, 0, n, k, w, SEER_DTYPE_BF16);
  }
}

/* Several X rows share each weight load. */
ALWAYS_INLINE void gemvm_bf16(const gemv_job *j, int64_t n0, int64_t n1, int64_t m0, int mb) {
  int64_t K = j->K, K32 = K & ~(int64_t)31;
  const int64_t pf = seer_cpu_gemv_prefetch;
  for (int64_t n = n0; n < n1; n++) {
    const uint16_t *w = (const uint16_t *)j->W + n * K;
    __m512 acc[4][2];
    for (int i = 0; i < mb; i++)
      acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k < K32; k += 32) {
      _mm_prefetch((const char *)(w + k) + pf, _MM_HINT_T0);
      __m512i v = _mm512_loadu_si512((const void *)(w + k));
      __m512 lo = bf16_lo(v), hi = bf16_hi(v);
      for (int i = 0; i < mb; i++) {
        const float *xp = j->X + (m0 + i) * K;
        acc[i][0] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(xp + k), acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(xp + k + 16), acc[i][1]);
      }
    }
    for (int i = 0; i < mb; i++)
      j->Y[(m0 + i) * j->ldy + n] =
          finish_row(j, _mm512_reduce_add_ps(_mm512_add_ps(acc[i][0], acc[i][1])), m0 + i, n, k, w,
                     SEER_DTYPE_BF16);
  }
}

/* f32 and f16 weights (and bf16 when no permuted copy of X could be made): 16 per load. */
ALWAYS_INLINE void gemv_rows(const gemv_job *j, int64_t n0, int64_t n1, int64_t m0, int mb,
                             seer_dtype dt) {
  size_t es = seer_dtype_size(dt);
  int64_t K = j->K;
  const int64_t pf = seer_cpu_gemv_prefetch;
  for (int64_t n = n0; n < n1; n++) {
    const void *w = j->W + (size_t)n * (size_t)K * es;
    __m512 acc[4][2];
    for (int i = 0; i < mb; i++)
      acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
      _mm_prefetch((const char *)w + k * (int64_t)es + pf, _MM_HINT_T0);
      if (es > 2) _mm_prefetch((const char *)w + k * (int64_t)es + pf + 64, _MM_HINT_T0);
      __m512 w0 = load16(w, dt, k), w1 = load16(w, dt, k + 16);
      for (int i = 0; i < mb; i++) {
        const float *x = j->Xraw + (m0 + i) * j->ldx;
        acc[i][0] = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), w0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16), w1, acc[i][1]);
      }
    }
    for (int i = 0; i < mb; i++)
      j->Y[(m0 + i) * j->ldy + n] = finish_row(
          j, _mm512_reduce_add_ps(_mm512_add_ps(acc[i][0], acc[i][1])), m0 + i, n, k, w, dt);
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
  if (wdt == SEER_DTYPE_BF16 && K >= 32) {
    size_t need = (size_t)(M * K);
    xp = need <= sizeof stackbuf / sizeof *stackbuf ? stackbuf : malloc(need * sizeof(float));
    if (xp) {
      for (int64_t m = 0; m < M; m++)
        permute_x32(X + m * ldx, K, xp + m * K);
      j.X = xp;
      j.permuted = 1;
    }
  }
  int64_t threads = seer_cpu_threads();
  int64_t rows = (N + threads * 8 - 1) / (threads * 8);
  if (rows < 16) rows = 16;
  j.rows_per_task = rows;
  seer_cpu_parallel_for((N + rows - 1) / rows, gemv_task, &j);
  if (xp && xp != stackbuf) free(xp);
}

int seer_cpu_gemm_avx512(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W,
                         seer_dtype wdt, int64_t N, const float *bias, float *Y, int64_t ldy);

const seer_cpu_kernels seer_cpu_avx512_kernels = {SEER_CPU_AVX512, gemv, seer_cpu_gemm_avx512,
                                                  to_f32,          dot,  axpy};
