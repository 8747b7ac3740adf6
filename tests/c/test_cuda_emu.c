/* The CUDA kernels (runtime/cuda/kernels) run through the grid emulator and checked against f64
 * references (the mean: bit-equal to the CPU's sum; the bf16 split: bit-equal to the CPU's
 * rounding): indexing, reductions and tails, over several schedule seeds. Negative controls break a
 * barrier, a warp exchange, the mma fragment mapping or the grid's tail, or check an mma pass
 * against the other accumulate mode, and show the same checks then fail. The emulator's own
 * reports (deadlock, divergent barrier, partial-warp shuffle) are checked with small broken kernels
 * written here in the kernels' dialect. */
#define SEER_EMU 1
#include "kernels/seer_kernel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "emu/emu.h"

static char err[512];

static int launch(const char *name, seer_emu_entry e, seer_dim3 grid, seer_dim3 block, size_t smem,
                  const void *args, uint64_t seed) {
  int rc = seer_emu_launch(name, e, grid, block, smem, args, seed, err, sizeof err);
  return rc;
}

static float frand(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}
static uint16_t bf16(float f) { /* round to nearest even */
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}
static double bf(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* max |got - want| / (|want| + floor) over n values; NaN counts as a failure. */
static double max_err(const float *got, const double *want, size_t n, double floor) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)got[i] - want[i]) / (fabs(want[i]) + floor);
    if (isnan(got[i]) || e > m) m = isnan(got[i]) ? INFINITY : e;
  }
  return m;
}

/* ---- RMSNorm: block reduction through shared memory ---- */

static double run_rmsnorm(int rows, int n, uint64_t seed, unsigned faults, float *y) {
  uint64_t s = 7;
  float *x = malloc(sizeof(float) * (size_t)rows * n), *w = malloc(sizeof(float) * (size_t)n);
  double *ref = malloc(sizeof(double) * (size_t)rows * n);
  for (int i = 0; i < rows * n; i++)
    x[i] = frand(&s) * 3;
  for (int i = 0; i < n; i++)
    w[i] = 1 + frand(&s);
  for (int r = 0; r < rows; r++) {
    double ss = 0;
    for (int i = 0; i < n; i++)
      ss += (double)x[r * n + i] * x[r * n + i];
    double inv = 1 / sqrt(ss / n + 1e-6);
    for (int i = 0; i < n; i++)
      ref[r * n + i] = x[r * n + i] * inv * w[i];
  }
  struct seer_k_rmsnorm_args a = {x, w, y, n, 1e-6f};
  seer_emu_set_faults(faults);
  int rc = launch("rmsnorm", seer_k_rmsnorm_emu, (seer_dim3){(unsigned)rows, 1, 1},
                  (seer_dim3){SEER_NORM_THREADS, 1, 1}, 0, &a, seed);
  seer_emu_set_faults(0);
  double e = rc ? INFINITY : max_err(y, ref, (size_t)rows * n, 1e-3);
  free(x), free(w), free(ref);
  return e;
}

static void test_rmsnorm(void) {
  enum { R = 3, N = 1000 }; /* N is not a multiple of the block: tails */
  static float y[R * N], y2[R * N];
  CHECK_MSG(run_rmsnorm(R, N, 1, 0, y) < 1e-5, "rmsnorm: %s", err);
  for (uint64_t seed = 2; seed <= 4; seed++) {
    CHECK_MSG(run_rmsnorm(R, N, seed, 0, y2) < 1e-5, "rmsnorm seed %d: %s", (int)seed, err);
    CHECK_MSG(!memcmp(y, y2, sizeof y), "rmsnorm differs across seeds (%d)", (int)seed);
  }
  /* Negative control: without __syncthreads a warp reads the others' partial sums before they are
   * written (the emulator fills shared memory with NaN). */
  int caught = 0;
  for (uint64_t seed = 1; seed <= 4; seed++)
    caught += run_rmsnorm(R, N, seed, SEER_EMU_FAULT_NO_SYNCTHREADS, y2) > 1e-3;
  CHECK_MSG(caught == 4, "rmsnorm without barriers passed %d of 4 seeds", 4 - caught);
}

/* ---- GEMV: warp shuffles ---- */

static uint16_t f16(float f) { /* round to nearest even, normal range only (|f| < 2) */
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u, e = (u >> 23) & 0xff, man = u & 0x7fffffu;
  if (e < 103) return (uint16_t)sign; /* too small: zero */
  if (e < 113) {                      /* subnormal half */
    man |= 0x800000u;
    int shift = 126 - (int)e;
    uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((e - 112) << 10) | (man >> 13), rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return (uint16_t)(sign | h);
}
static double hf(uint16_t h) {
  int e = (h >> 10) & 0x1f, man = h & 0x3ff;
  double v = e ? ldexp(1024 + man, e - 25) : ldexp(man, -24);
  return h & 0x8000 ? -v : v;
}

static double run_gemv(int n, int k, int m, int wtype, unsigned faults) {
  uint64_t s = 11;
  size_t es = wtype == SEER_W_F32 ? 4 : 2;
  void *w = malloc(es * (size_t)n * k + 4);
  float *x = malloc(sizeof(float) * (size_t)m * k), *y = malloc(sizeof(float) * (size_t)m * n);
  float *bias = malloc(sizeof(float) * (size_t)n);
  double *ref = malloc(sizeof(double) * (size_t)m * n);
  for (int i = 0; i < n * k; i++) {
    float f = frand(&s);
    if (wtype == SEER_W_F32) ((float *)w)[i] = f;
    if (wtype == SEER_W_BF16) ((uint16_t *)w)[i] = bf16(f);
    if (wtype == SEER_W_F16) ((uint16_t *)w)[i] = f16(f / 64); /* some subnormal halves */
  }
  for (int i = 0; i < n; i++)
    bias[i] = frand(&s);
  for (int i = 0; i < m * k; i++)
    x[i] = frand(&s);
  for (int r = 0; r < m; r++)
    for (int j = 0; j < n; j++) {
      double acc = bias[j];
      for (int i = 0; i < k; i++) {
        size_t at = (size_t)j * k + i;
        double wv = wtype == SEER_W_F32    ? ((float *)w)[at]
                    : wtype == SEER_W_BF16 ? bf(((uint16_t *)w)[at])
                                           : hf(((uint16_t *)w)[at]);
        acc += wv * x[r * k + i];
      }
      ref[r * n + j] = acc;
    }
  struct seer_k_gemv_args a = {w, x, bias, y, n, k, m, wtype};
  seer_emu_set_faults(faults);
  int rc = launch("gemv", seer_k_gemv_emu,
                  (seer_dim3){(unsigned)(n + SEER_GEMV_THREADS / 32 - 1) / (SEER_GEMV_THREADS / 32),
                              (unsigned)seer_gemv_grid_y(m), 1},
                  (seer_dim3){SEER_GEMV_THREADS, 1, 1}, 0, &a, 5);
  seer_emu_set_faults(0);
  double e = rc ? INFINITY : max_err(y, ref, (size_t)m * n, 1.0);
  free(w), free(x), free(y), free(bias), free(ref);
  return e;
}

static void test_gemv(void) {
  CHECK_MSG(run_gemv(37, 300, 2, SEER_W_BF16, 0) < 1e-5, "gemv bf16 even k: %s", err);
  CHECK_MSG(run_gemv(37, 301, 1, SEER_W_BF16, 0) < 1e-5, "gemv bf16 odd k (unaligned rows): %s",
            err);
  CHECK_MSG(run_gemv(8, 64, 3, SEER_W_BF16, 0) < 1e-5, "gemv bf16 one block: %s", err);
  CHECK_MSG(run_gemv(37, 77, 2, SEER_W_F32, 0) < 1e-5, "gemv f32: %s", err);
  CHECK_MSG(run_gemv(37, 77, 2, SEER_W_F16, 0) < 1e-5, "gemv f16: %s", err);
  /* Whole 16-byte words (k a multiple of 8 halves or 4 floats), a batch past SEER_GEMV_ROWS with
   * a partial last group. */
  CHECK_MSG(run_gemv(37, 304, 5, SEER_W_BF16, 0) < 1e-5, "gemv bf16 words, 5 rows: %s", err);
  CHECK_MSG(run_gemv(37, 304, 6, SEER_W_F16, 0) < 1e-5, "gemv f16 words, 6 rows: %s", err);
  CHECK_MSG(run_gemv(37, 76, 9, SEER_W_F32, 0) < 1e-5, "gemv f32 words, 9 rows: %s", err);
  CHECK_MSG(run_gemv(9, 64, 1, SEER_W_BF16, 0) < 1e-5, "gemv bf16 words, 1 row: %s", err);
  /* Negative controls: a shuffle that does not wait for its partners; a grid missing its tail. */
  CHECK(run_gemv(37, 300, 2, SEER_W_BF16, SEER_EMU_FAULT_NO_WARP_SYNC) > 1e-3);
  CHECK(run_gemv(37, 300, 2, SEER_W_BF16, SEER_EMU_FAULT_SKIP_LAST_BLOCK) > 1e-3);
}

/* ---- tensor-core GEMM: the mma fragment layouts ---- */

/* y = x.w^T, or with accumulate y += x.w^T over a y that starts at values of its own; checked
 * against the reference for `want_accumulate` (a mismatch is the negative control). Without
 * accumulate, y starts at 1e30 so that an element the kernel misses shows. */
static double run_mma_acc(int m, int n, int k, unsigned faults, int accumulate,
                          int want_accumulate) {
  uint64_t s = 13;
  uint16_t *x = malloc(sizeof(uint16_t) * (size_t)m * k),
           *w = malloc(sizeof(uint16_t) * (size_t)n * k);
  float *y = malloc(sizeof(float) * (size_t)m * n);
  double *ref = malloc(sizeof(double) * (size_t)m * n);
  for (int i = 0; i < m * k; i++)
    x[i] = bf16(frand(&s));
  for (int i = 0; i < n * k; i++)
    w[i] = bf16(frand(&s));
  for (int i = 0; i < m * n; i++)
    y[i] = accumulate ? 4 * frand(&s) : 1e30f;
  for (int r = 0; r < m; r++)
    for (int j = 0; j < n; j++) {
      double acc = want_accumulate ? y[r * n + j] : 0;
      for (int i = 0; i < k; i++)
        acc += bf(x[r * k + i]) * bf(w[j * k + i]);
      ref[r * n + j] = acc;
    }
  struct seer_k_gemm_bf16_mma_args a = {x, w, y, m, n, k, accumulate};
  seer_emu_set_faults(faults);
  int rc = launch("gemm_mma", seer_k_gemm_bf16_mma_emu,
                  (seer_dim3){(unsigned)(n + 31) / 32, (unsigned)(m + 15) / 16, 1},
                  (seer_dim3){SEER_MMA_THREADS, 1, 1}, 0, &a, 3);
  seer_emu_set_faults(0);
  double e = rc ? INFINITY : max_err(y, ref, (size_t)m * n, 1.0);
  free(x), free(w), free(y), free(ref);
  return e;
}

static double run_mma(int m, int n, int k, unsigned faults) {
  return run_mma_acc(m, n, k, faults, 0, 0);
}

static void test_mma(void) {
  CHECK_MSG(run_mma(16, 32, 32, 0) < 1e-5, "mma whole tiles: %s", err);
  CHECK_MSG(run_mma(5, 20, 40, 0) < 1e-5, "mma tails in m, n, k: %s", err);
  CHECK_MSG(run_mma(19, 40, 16, 0) < 1e-5, "mma two row tiles: %s", err);
  CHECK_MSG(run_mma_acc(19, 40, 40, 0, 1, 1) < 1e-5, "mma accumulating onto y: %s", err);
  CHECK_MSG(run_mma_acc(5, 20, 40, 0, 1, 1) < 1e-5, "mma accumulating, tails: %s", err);
  /* Negative controls: the twin reading A through a transposed fragment map; an overwriting pass
   * checked against the accumulated sum (and the other way round). */
  CHECK(run_mma(16, 32, 32, SEER_EMU_FAULT_MMA_LAYOUT) > 1e-3);
  CHECK(run_mma_acc(19, 40, 40, 0, 0, 1) > 1e-3);
  CHECK(run_mma_acc(19, 40, 40, 0, 1, 0) > 1e-3);
}

/* ---- splitting f32 activations into bf16 hi + lo (convert.cu) ---- */

/* The CPU engine's rounding (runtime/tensor/tensor.c), which the kernel must equal bit for bit;
 * declared here because seer/tensor.h's seer_bf16_to_f32 would clash with seer_kernel.h's. */
uint16_t seer_f32_to_bf16(float f);

static float f32_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* Values that exercise the rounding: ties to even either way, values exact in bf16 (lo = 0) or in
 * 16 bits (hi + lo = x exactly), subnormals, the edge of bf16's range, infinities and NaN; then
 * random values over the whole exponent range. */
static void split_inputs(float *x, int n) {
  static const uint32_t special[] = {
      0x00000000u, 0x80000000u, 0x3f800000u, 0xbf800000u, /* 0, -0, 1, -1 */
      0x3f808000u, 0x3f818000u, 0xbf808000u,              /* ties: 1 + 2^-8 down, 1 + 3*2^-8 up */
      0x3f802000u, 0x3f80ffffu, 0x3f807fffu,              /* 1 + 2^-10 (exact in two), near ties */
      0x00800000u, 0x00000001u, 0x00012345u, 0x807fffffu, /* FLT_MIN, subnormals */
      0x7f7f7fffu, 0x7f7f8000u, 0x7f7fffffu, /* bf16's largest, a tie to inf, FLT_MAX */
      0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7f800001u, /* +-inf, NaNs */
      0x477fe000u, 0x4788b801u, 0xc2f6e979u};             /* 65504, 70000.0...1, -123.456 */
  int ns = (int)(sizeof special / sizeof special[0]);
  uint64_t s = 29;
  for (int i = 0; i < n; i++)
    x[i] = i < ns ? f32_bits(special[i]) : ldexpf(frand(&s), (int)(s >> 56) % 254 - 150);
}

/* Splits n values with `blocks` blocks (fewer than n / SEER_ELT_THREADS: the grid-stride loop) and
 * returns how many elements break a property, or -1 when the launch failed. hi and lo start as a
 * pattern no rounding gives (a signalling NaN's top half), so an element never written shows. */
static int run_split(int n, unsigned blocks, unsigned faults) {
  float *x = malloc(sizeof(float) * (size_t)n);
  uint16_t *hi = malloc(sizeof(uint16_t) * (size_t)n), *lo = malloc(sizeof(uint16_t) * (size_t)n);
  split_inputs(x, n);
  for (int i = 0; i < n; i++)
    hi[i] = lo[i] = 0x7f81u;
  struct seer_k_split_bf16_args a = {x, hi, lo, n};
  seer_emu_set_faults(faults);
  int rc = launch("split_bf16", seer_k_split_bf16_emu, (seer_dim3){blocks, 1, 1},
                  (seer_dim3){SEER_ELT_THREADS, 1, 1}, 0, &a, 7);
  seer_emu_set_faults(0);
  int bad = rc ? -1 : 0;
  for (int i = 0; i < n && !rc; i++) {
    uint16_t want_hi = seer_f32_to_bf16(x[i]);
    int finite = (want_hi & 0x7f80u) != 0x7f80u;
    uint16_t want_lo = finite ? seer_f32_to_bf16(x[i] - f32_bits((uint32_t)want_hi << 16)) : 0;
    /* hi + lo carries 16 significand bits: within 2^-16 of x, or of bf16's least subnormal. */
    double rest = fabs((double)x[i] - bf(hi[i]) - bf(lo[i]));
    int ok = hi[i] == want_hi && lo[i] == want_lo &&
             (!finite || rest <= fmax(ldexp(fabs((double)x[i]), -16), ldexp(1.0, -134)));
    if (!ok && bad < 5)
      fprintf(stderr, "split[%d]: x %a: hi %04x lo %04x, want %04x %04x\n", i, (double)x[i], hi[i],
              lo[i], want_hi, want_lo);
    bad += !ok;
  }
  free(x), free(hi), free(lo);
  return bad;
}

/* y = x.w^T for f32 x through split + two mma passes, against the product in double: within a
 * fifth of the bf16 fixtures' 2e-4, where the hi pass alone (bf16-rounded activations) misses it. x
 * has unit values with every 7th channel 20x larger, as activations with outlier channels have. */
static double run_split_gemm(int m, int n, int k, int passes) {
  uint64_t s = 31;
  float *x = malloc(sizeof(float) * (size_t)m * k), *y = malloc(sizeof(float) * (size_t)m * n);
  uint16_t *w = malloc(sizeof(uint16_t) * (size_t)n * k), *hl = malloc(4 * (size_t)m * k);
  double *ref = malloc(sizeof(double) * (size_t)m * n);
  for (int i = 0; i < m * k; i++)
    x[i] = frand(&s) * (i % 7 ? 1.0f : 20.0f);
  for (int i = 0; i < n * k; i++)
    w[i] = bf16(frand(&s) * 0.05f);
  for (int r = 0; r < m; r++)
    for (int j = 0; j < n; j++) {
      double acc = 0;
      for (int i = 0; i < k; i++)
        acc += (double)x[r * k + i] * bf(w[j * k + i]);
      ref[r * n + j] = acc;
    }
  struct seer_k_split_bf16_args sa = {x, hl, hl + (size_t)m * k, (int64_t)m * k};
  int rc = launch("split_bf16", seer_k_split_bf16_emu, (seer_dim3){4, 1, 1},
                  (seer_dim3){SEER_ELT_THREADS, 1, 1}, 0, &sa, 5);
  for (int p = 0; p < passes && !rc; p++) {
    struct seer_k_gemm_bf16_mma_args a = {hl + (size_t)p * m * k, w, y, m, n, k, p};
    rc = launch("gemm_mma", seer_k_gemm_bf16_mma_emu,
                (seer_dim3){(unsigned)(n + 31) / 32, (unsigned)(m + 15) / 16, 1},
                (seer_dim3){SEER_MMA_THREADS, 1, 1}, 0, &a, 3);
  }
  double e = rc ? INFINITY : max_err(y, ref, (size_t)m * n, 1.0);
  free(x), free(y), free(w), free(hl), free(ref);
  return e;
}

static void test_split(void) {
  int n = 0;
  CHECK_MSG((n = run_split(1000, 1, 0)) == 0, "split, one block striding: %d bad (%s)", n, err);
  CHECK_MSG((n = run_split(1025, 5, 0)) == 0, "split, a one-element tail: %d bad (%s)", n, err);
  CHECK_MSG((n = run_split(1, 1, 0)) == 0, "split, one element: %d bad (%s)", n, err);
  /* Negative control: a grid missing its last block leaves the tail unwritten. */
  CHECK(run_split(1025, 5, SEER_EMU_FAULT_SKIP_LAST_BLOCK) > 0);
  double both = run_split_gemm(19, 40, 520, 2), hi_only = run_split_gemm(19, 40, 520, 1);
  printf("split GEMM 19x40x520: hi + lo %.3g, hi alone %.3g (bf16 fixtures' tolerance 2e-4)\n",
         both, hi_only);
  CHECK_MSG(both < 4e-5, "split GEMM: %.3g (%s)", both, err);
  CHECK(hi_only > 2e-4);
}

/* ---- RoPE and the fused activation: elementwise, checked for coverage ---- */

static double run_rope(unsigned faults) {
  enum { ROWS = 3, H = 2, HD = 64 };
  int64_t pos[ROWS] = {0, 5, 1000};
  float inv[HD / 2], x[ROWS * H * HD];
  double ref[ROWS * H * HD];
  uint64_t s = 17;
  for (int i = 0; i < HD / 2; i++)
    inv[i] = powf(10000.0f, -2.0f * i / HD);
  for (int i = 0; i < ROWS * H * HD; i++)
    x[i] = frand(&s);
  for (int r = 0; r < ROWS; r++)
    for (int h = 0; h < H; h++)
      for (int i = 0; i < HD / 2; i++) {
        float ang = (float)pos[r] * inv[i]; /* the angle in f32, as HF and the CPU engine */
        double c = cos((double)ang), sn = sin((double)ang);
        const float *v = x + (r * H + h) * HD;
        ref[(r * H + h) * HD + i] = v[i] * c - v[i + HD / 2] * sn;
        ref[(r * H + h) * HD + i + HD / 2] = v[i + HD / 2] * c + v[i] * sn;
      }
  struct seer_k_rope_args a = {x, pos, inv, H, HD};
  seer_emu_set_faults(faults);
  int rc = launch("rope", seer_k_rope_emu, (seer_dim3){ROWS, 1, 1},
                  (seer_dim3){SEER_ROPE_THREADS, 1, 1}, 0, &a, 1);
  seer_emu_set_faults(0);
  return rc ? INFINITY : max_err(x, ref, ROWS * H * HD, 1.0);
}

static double run_act(int kind, unsigned faults) {
  enum { N = 1000 };
  static float g[N], u[N], o[N];
  static double ref[N];
  uint64_t s = 19;
  for (int i = 0; i < N; i++) {
    g[i] = frand(&s) * 6, u[i] = frand(&s);
    double x = g[i];
    double act = kind == SEER_ACT_SILU ? x / (1 + exp(-x))
                 : kind == SEER_ACT_GELU
                     ? 0.5 * x * (1 + erf(x / sqrt(2.0)))
                     : 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    ref[i] = act * u[i];
  }
  struct seer_k_act_mul_args a = {g, u, o, N, kind};
  seer_emu_set_faults(faults);
  int rc = launch("act_mul", seer_k_act_mul_emu, (seer_dim3){2, 1, 1},
                  (seer_dim3){SEER_ELT_THREADS, 1, 1}, 0, &a, 1);
  seer_emu_set_faults(0);
  return rc ? INFINITY : max_err(o, ref, N, 1e-2);
}

static void test_elementwise(void) {
  CHECK_MSG(run_rope(0) < 1e-5, "rope: %s", err);
  CHECK_MSG(run_act(SEER_ACT_SILU, 0) < 1e-5, "silu: %s", err);
  CHECK_MSG(run_act(SEER_ACT_GELU_TANH, 0) < 1e-5, "gelu_tanh: %s", err);
  CHECK_MSG(run_act(SEER_ACT_GELU, 0) < 1e-5, "gelu: %s", err);
  /* Negative controls: a grid whose last block does not run leaves output unwritten. */
  CHECK(run_rope(SEER_EMU_FAULT_SKIP_LAST_BLOCK) > 1e-3);
  CHECK(run_act(SEER_ACT_SILU, SEER_EMU_FAULT_SKIP_LAST_BLOCK) > 1e-3);
}

/* ---- mean along one dim: exact, the CPU's in-order double sum ---- */

/* Lanes wrong (not bit-equal to the in-order double sum, rounded once) out of outer * inner. */
static int run_mean(unsigned faults) {
  enum { O = 5, N = 37, I = 130 };
  static float x[O * N * I], out[O * I];
  uint64_t s = 23;
  for (int i = 0; i < O * N * I; i++)
    x[i] = frand(&s) * 100;
  for (int i = 0; i < O * I; i++)
    out[i] = NAN;
  struct seer_k_mean_lanes_args a = {x, out, O, N, I};
  seer_emu_set_faults(faults);
  int rc = launch("mean_lanes", seer_k_mean_lanes_emu, (seer_dim3){3, 1, 1},
                  (seer_dim3){SEER_ELT_THREADS, 1, 1}, 0, &a, 1);
  seer_emu_set_faults(0);
  if (rc) return O * I;
  int wrong = 0;
  for (int o = 0; o < O; o++)
    for (int i = 0; i < I; i++) {
      double acc = 0;
      for (int j = 0; j < N; j++)
        acc += x[(o * N + j) * I + i];
      wrong += out[o * I + i] != (float)(acc / N);
    }
  return wrong;
}

static void test_mean(void) {
  CHECK_MSG(run_mean(0) == 0, "mean_lanes: %d lanes differ (%s)", run_mean(0), err);
  /* Negative control: without the last block, 650 - 512 lanes stay unwritten. */
  CHECK(run_mean(SEER_EMU_FAULT_SKIP_LAST_BLOCK) == 5 * 130 - 2 * SEER_ELT_THREADS);
}

/* ---- decode attention over the KV cache ---- */

typedef struct attn_case {
  int64_t qi, cap, window;
  int ring;
  float softcap;
} attn_case;

/* With global set, the scores go to a global buffer instead of shared memory and the kernel also
 * writes its softmax weights: the output is copied to got, and weights_err is the weights' worst
 * error against the reference's (0 required outside [lo, qi]). */
static double weights_err;
static double run_attn_as(attn_case c, uint64_t seed, unsigned faults, int global, float *got) {
  enum { B = 2, NH = 4, NKV = 2, HD = 24 };
  int64_t pad[B] = {0, 3};
  size_t cache = (size_t)B * NKV * c.cap * HD;
  float *k = malloc(sizeof(float) * cache), *v = malloc(sizeof(float) * cache);
  float q[B * NH * HD], out[B * NH * HD];
  double ref[B * NH * HD];
  /* The weights: [B][NH][2 queries][keys], the launch's query the call's second, at position qi. */
  int64_t keys = c.qi + 1;
  float *scores = malloc(sizeof(float) * B * NH * 64),
        *w = malloc(sizeof(float) * B * NH * 2 * keys);
  double *wref = calloc((size_t)(B * NH * keys), sizeof(double));
  uint64_t s = 23;
  for (size_t i = 0; i < cache; i++)
    k[i] = frand(&s), v[i] = frand(&s);
  for (int i = 0; i < B * NH * HD; i++)
    q[i] = frand(&s) * 4;
  float scale = 1.0f / sqrtf((float)HD);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      int kvh = h / (NH / NKV);
      int64_t lo = pad[b];
      if (c.window > 0 && c.qi - c.window + 1 > lo) lo = c.qi - c.window + 1;
      if (c.ring && c.qi - c.cap + 1 > lo) lo = c.qi - c.cap + 1;
      double sc[64], mx = -INFINITY, sum = 0;
      for (int64_t j = lo; j <= c.qi; j++) {
        int64_t slot = c.ring ? j % c.cap : j;
        double d = 0;
        for (int t = 0; t < HD; t++)
          d += (double)q[(b * NH + h) * HD + t] * k[((b * NKV + kvh) * c.cap + slot) * HD + t];
        d *= scale;
        if (c.softcap > 0) d = tanh(d / c.softcap) * c.softcap;
        sc[j - lo] = d;
        mx = d > mx ? d : mx;
      }
      for (int64_t j = lo; j <= c.qi; j++)
        sum += (sc[j - lo] = exp(sc[j - lo] - mx));
      for (int64_t j = lo; j <= c.qi; j++)
        wref[(b * NH + h) * keys + j] = sc[j - lo] / sum;
      for (int t = 0; t < HD; t++) {
        double o = 0;
        for (int64_t j = lo; j <= c.qi; j++) {
          int64_t slot = c.ring ? j % c.cap : j;
          o += sc[j - lo] / sum * v[((b * NKV + kvh) * c.cap + slot) * HD + t];
        }
        ref[(b * NH + h) * HD + t] = o;
      }
    }
  /* The position as the engine passes it: a device-side step plus the token's offset. */
  int64_t step = c.qi - 1;
  struct seer_k_attn_decode_args a = {q,
                                      k,
                                      v,
                                      out,
                                      NH * HD,
                                      pad,
                                      &step,
                                      1,
                                      c.cap,
                                      c.ring,
                                      c.window,
                                      NH,
                                      NKV,
                                      HD,
                                      scale,
                                      c.softcap,
                                      global ? scores : NULL,
                                      64,
                                      global ? w : NULL,
                                      2};
  seer_emu_set_faults(faults);
  int rc = launch("attn_decode", seer_k_attn_decode_emu, (seer_dim3){NH, B, 1},
                  (seer_dim3){SEER_ATTN_THREADS, 1, 1}, global ? 0 : sizeof(float) * 64, &a, seed);
  seer_emu_set_faults(0);
  weights_err = 0;
  for (int i = 0; global && i < B * NH * keys; i++) {
    double d = fabs(w[(i / keys * 2 + 1) * keys + i % keys] - wref[i]);
    weights_err = d > weights_err || d != d ? d : weights_err;
  }
  if (got) memcpy(got, out, sizeof out);
  free(k), free(v), free(scores), free(w), free(wref);
  return rc ? INFINITY : max_err(out, ref, B * NH * HD, 1e-2);
}

static double run_attn(attn_case c, uint64_t seed, unsigned faults) {
  return run_attn_as(c, seed, faults, 0, NULL);
}

static void test_attention(void) {
  attn_case full = {20, 32, 0, 0, 0}, windowed = {40, 8, 8, 1, 0}, capped = {20, 32, 0, 0, 5.0f},
            long_seq = {60, 64, 0, 0, 0};
  for (uint64_t seed = 1; seed <= 2; seed++) {
    CHECK_MSG(run_attn(full, seed, 0) < 1e-5, "attention full: %s", err);
    CHECK_MSG(run_attn(windowed, seed, 0) < 1e-5, "attention ring window: %s", err);
    CHECK_MSG(run_attn(capped, seed, 0) < 1e-5, "attention softcap: %s", err);
  }
  /* More keys than threads in some blocks? 61 keys < 128 threads; this covers idle threads. */
  CHECK_MSG(run_attn(long_seq, 1, 0) < 1e-5, "attention 61 keys: %s", err);
  CHECK(run_attn(full, 1, SEER_EMU_FAULT_NO_SYNCTHREADS) > 1e-3);
  /* Scores in global memory (attention past what shared memory holds): the same arithmetic, so
   * the same bits; and the softmax weights attn.weights hooks read, 0 where masked. */
  attn_case cases[] = {full, windowed, capped, long_seq};
  for (int i = 0; i < 4; i++) {
    float shared_out[2 * 4 * 24], global_out[2 * 4 * 24];
    CHECK(run_attn_as(cases[i], 1, 0, 0, shared_out) < 1e-5);
    CHECK_MSG(run_attn_as(cases[i], 1, 0, 1, global_out) < 1e-5, "attention global scores: %s",
              err);
    CHECK_MSG(!memcmp(shared_out, global_out, sizeof shared_out),
              "attention case %d: global scores change the output's bits", i);
    CHECK_MSG(weights_err < 1e-6, "attention case %d: weights off by %g", i, weights_err);
  }
}

/* ---- the emulator's reports, with kernels broken on purpose ---- */

struct bad_exit_args {
  float *out;
};
SEER_KERNEL(bad_exit, 64) { /* threads leave before a barrier the others wait at */
  if (threadIdx.x < 10) return;
  __syncthreads();
  a.out[threadIdx.x] = 1;
}
struct bad_divergent_args {
  float *out;
};
SEER_KERNEL(bad_divergent, 64) {
  if (threadIdx.x & 1)
    __syncthreads();
  else
    __syncthreads();
  a.out[threadIdx.x] = 1;
}
struct bad_partial_warp_args {
  float *out;
};
SEER_KERNEL(bad_partial_warp, 40) { /* full-mask shuffle in a 8-lane warp */
  a.out[threadIdx.x] = seer_warp_sum(1.0f);
}
struct racy_args {
  float *out;
};
SEER_KERNEL(racy, 64) { /* reads a neighbour's shared slot with no barrier between */
  SEER_SHARED(float, s, 64);
  s[threadIdx.x] = (float)threadIdx.x;
  a.out[threadIdx.x] = s[(threadIdx.x + 1) % 64];
  __syncthreads();
}

static void test_reports(void) {
  float out[64];
  struct bad_exit_args e = {out};
  CHECK(launch("bad_exit", bad_exit_emu, (seer_dim3){1, 1, 1}, (seer_dim3){64, 1, 1}, 0, &e, 1) ==
        -1);
  CHECK_STR_CONTAINS(err, "deadlock: 54 thread(s) wait at __syncthreads");
  CHECK_STR_CONTAINS(err, "10 of 64 have exited");
  struct bad_divergent_args d = {out};
  CHECK(launch("bad_divergent", bad_divergent_emu, (seer_dim3){1, 1, 1}, (seer_dim3){64, 1, 1}, 0,
               &d, 1) == -1);
  CHECK_STR_CONTAINS(err, "wait at different __syncthreads");
  struct bad_partial_warp_args p = {out};
  CHECK(launch("bad_partial_warp", bad_partial_warp_emu, (seer_dim3){1, 1, 1},
               (seer_dim3){40, 1, 1}, 0, &p, 1) == -1);
  CHECK_STR_CONTAINS(err, "but its lanes are 0x000000ff");
  CHECK(launch("bad", bad_exit_emu, (seer_dim3){1, 1, 1}, (seer_dim3){2048, 1, 1}, 0, &e, 1) == -1);
  CHECK_STR_CONTAINS(err, "invalid launch");
  /* The seed changes the interleaving: a race shows as different results under different seeds. */
  struct racy_args r = {out};
  float first[64];
  int differs = 0;
  for (uint64_t seed = 1; seed <= 8; seed++) {
    CHECK(launch("racy", racy_emu, (seer_dim3){1, 1, 1}, (seer_dim3){64, 1, 1}, 0, &r, seed) == 0);
    if (seed == 1)
      memcpy(first, out, sizeof out);
    else
      differs |= memcmp(first, out, sizeof out) != 0;
  }
  CHECK_MSG(differs, "eight seeds gave the same interleaving of a racy kernel");
}

int main(void) {
  test_rmsnorm();
  test_gemv();
  test_mma();
  test_split();
  test_elementwise();
  test_mean();
  test_attention();
  test_reports();
  return check_summary();
}
