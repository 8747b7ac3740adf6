/* cpu_gemm_avx2.c: owns the AVX2/FMA level's compute-bound Linear kernel for many rows of X
 * (prefill): a BLIS-style
 * packed GEMM. X is packed once per call into 6-row panels (contiguous broadcasts, no 4 KB-strided
 * rows aliasing in L1); each task converts one 16-column panel of W to f32 per 256-deep K block
 * (an 8x8 register transpose per 64 weights), keeps it in L1 and runs a 6x16 broadcast-FMA
 * register tile of every X panel against it while X streams from L2. Tasks split N in 128-column
 * blocks (and M when N alone gives too few), so W is converted about once per call. */
#include <stdlib.h>
#include <string.h>

#include "cpu_simd.h"

#define MR 6
#define NR 16
#define KC 256
#define NC 128

typedef struct {
  const float *X;
  int64_t M, K, ldx;
  const char *W;
  seer_dtype wdt;
  int64_t N;
  const float *bias;
  float *Y;
  int64_t ldy;
  float *Ap;       /* packed X: per K block (offset k0 * Mpad), per panel (MR * kc), [k][MR] */
  int64_t Mpad;    /* M rounded up to MR */
  int64_t npanels; /* Mpad / MR */
  int64_t mgroups; /* tasks per N block, each a range of X panels */
} gemm_job;

static void pack_a_task(void *ctx, int64_t p, int thread) {
  const gemm_job *j = ctx;
  (void)thread;
  int64_t rows = j->M - p * MR < MR ? j->M - p * MR : MR;
  for (int64_t k0 = 0; k0 < j->K; k0 += KC) {
    int64_t kc = j->K - k0 < KC ? j->K - k0 : KC;
    float *dst = j->Ap + k0 * j->Mpad + p * MR * kc;
    for (int64_t i = 0; i < MR; i++) {
      const float *x = j->X + (p * MR + i) * j->ldx + k0;
      if (i >= rows) {
        for (int64_t k = 0; k < kc; k++)
          dst[k * MR + i] = 0.0f;
        continue;
      }
      for (int64_t k = 0; k < kc; k++)
        dst[k * MR + i] = x[k];
    }
  }
}

/* Columns r0..r7 of the 8x8 block, i.e. element k of rows 0..7, in out[k]. */
ALWAYS_INLINE void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* Bp[k * NR + c] = W[n0 + c][k0 + k] as f32, zero for columns past nvalid. */
ALWAYS_INLINE void pack_b_panel(const gemm_job *j, int64_t n0, int nvalid, int64_t k0, int64_t kc,
                                float *Bp, seer_dtype dt) {
  size_t es = seer_dtype_size(dt);
  for (int c8 = 0; c8 < NR; c8 += 8) {
    const char *w[8];
    for (int r = 0; r < 8; r++)
      w[r] =
          c8 + r < nvalid ? j->W + ((size_t)(n0 + c8 + r) * (size_t)j->K + (size_t)k0) * es : NULL;
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
      __m256 v[8];
      for (int r = 0; r < 8; r++)
        v[r] = w[r] ? load8(w[r], dt, k) : _mm256_setzero_ps();
      transpose8(v);
      for (int kk = 0; kk < 8; kk++)
        _mm256_store_ps(Bp + (k + kk) * NR + c8, v[kk]);
    }
    for (; k < kc; k++)
      for (int r = 0; r < 8; r++)
        Bp[k * NR + c8 + r] = w[r] ? load1(w[r], dt, k) : 0.0f;
  }
}

/* C[0..mr)[0..nv) (+)= Ap·Bp over kc, plus bias on the last K block. Full tiles go straight to
 * memory; edge tiles go through a scratch tile. */
static void ukernel(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int mr,
                    int nv, int first, const float *bias) {
  /* Twelve named accumulators: with an array and loops, GCC -O2 keeps the tile in memory. */
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < kc; k++, Ap += MR, Bp += NR) {
    __m256 b0 = _mm256_load_ps(Bp), b1 = _mm256_load_ps(Bp + 8), a;
#define ROW(i)                                                                                     \
  a = _mm256_broadcast_ss(Ap + i);                                                                 \
  c##i##0 = _mm256_fmadd_ps(a, b0, c##i##0);                                                       \
  c##i##1 = _mm256_fmadd_ps(a, b1, c##i##1);
    ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
  }
  __m256 c[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == MR && nv == NR) {
    __m256 bb0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 bb1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int i = 0; i < MR; i++) {
      float *y = C + i * ldc;
      __m256 y0 = c[i][0], y1 = c[i][1];
      if (!first) {
        y0 = _mm256_add_ps(_mm256_loadu_ps(y), y0);
        y1 = _mm256_add_ps(_mm256_loadu_ps(y + 8), y1);
      }
      if (bias) y0 = _mm256_add_ps(y0, bb0), y1 = _mm256_add_ps(y1, bb1);
      _mm256_storeu_ps(y, y0);
      _mm256_storeu_ps(y + 8, y1);
    }
    return;
  }
  float tmp[MR * NR];
  for (int i = 0; i < MR; i++) {
    _mm256_storeu_ps(tmp + i * NR, c[i][0]);
    _mm256_storeu_ps(tmp + i * NR + 8, c[i][1]);
  }
  for (int i = 0; i < mr; i++)
    for (int n = 0; n < nv; n++) {
      float v = tmp[i * NR + n];
      if (!first) v = C[i * ldc + n] + v;
      if (bias) v += bias[n];
      C[i * ldc + n] = v;
    }
}

static void gemm_task(void *ctx, int64_t task, int thread) {
  const gemm_job *j = ctx;
  (void)thread;
  int64_t nb = task / j->mgroups, mg = task % j->mgroups;
  int64_t nb0 = nb * NC, nb1 = nb0 + NC < j->N ? nb0 + NC : j->N;
  int64_t per = (j->npanels + j->mgroups - 1) / j->mgroups;
  int64_t p0 = mg * per, p1 = p0 + per < j->npanels ? p0 + per : j->npanels;
  float Bp[KC * NR] __attribute__((aligned(64)));
  for (int64_t k0 = 0; k0 < j->K; k0 += KC) {
    int64_t kc = j->K - k0 < KC ? j->K - k0 : KC;
    int first = k0 == 0, last = k0 + kc >= j->K;
    for (int64_t n0 = nb0; n0 < nb1; n0 += NR) {
      int nv = (int)(nb1 - n0 < NR ? nb1 - n0 : NR);
      switch (j->wdt) {
      case SEER_DTYPE_BF16: pack_b_panel(j, n0, nv, k0, kc, Bp, SEER_DTYPE_BF16); break;
      case SEER_DTYPE_F16: pack_b_panel(j, n0, nv, k0, kc, Bp, SEER_DTYPE_F16); break;
      default: pack_b_panel(j, n0, nv, k0, kc, Bp, SEER_DTYPE_F32); break;
      }
      const float *bias = last && j->bias ? j->bias + n0 : NULL;
      for (int64_t p = p0; p < p1; p++) {
        int mr = (int)(j->M - p * MR < MR ? j->M - p * MR : MR);
        ukernel(kc, j->Ap + k0 * j->Mpad + p * MR * kc, Bp, j->Y + p * MR * j->ldy + n0, j->ldy, mr,
                nv, first, bias);
      }
    }
  }
}

int seer_cpu_gemm_avx2(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W,
                       seer_dtype wdt, int64_t N, const float *bias, float *Y, int64_t ldy) {
  gemm_job j = {X, M, K, ldx, W, wdt, N, bias, Y, ldy, NULL, 0, 0, 1};
  j.npanels = (M + MR - 1) / MR;
  j.Mpad = j.npanels * MR;
  /* aligned_alloc wants sizes in multiples of the alignment. */
  j.Ap = aligned_alloc(64, (sizeof(float) * (size_t)(j.Mpad * K) + 63) & ~(size_t)63);
  if (!j.Ap) return -1;
  seer_cpu_parallel_for(j.npanels, pack_a_task, &j);
  int64_t nblocks = (N + NC - 1) / NC, want = 4 * (int64_t)seer_cpu_threads();
  if (nblocks < want) {
    j.mgroups = (want + nblocks - 1) / nblocks;
    if (j.mgroups > j.npanels) j.mgroups = j.npanels;
  }
  seer_cpu_parallel_for(nblocks * j.mgroups, gemm_task, &j);
  free(j.Ap);
  return 0;
}
