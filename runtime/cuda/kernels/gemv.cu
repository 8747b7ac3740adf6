/* gemv.cu: decode matrix-vector products, bf16/f16/f32 weights with f32 accumulation. Hand-written because
 * at batch 1..4 the product is bound by reading the weights once; cuBLASLt's GEMM tiles waste most
 * of each tile on a single row, and it has no bf16-weight x f32-activation mode. Also the
 * tensor-core GEMM that stands in for cuBLASLt in the split bf16 GEMM of 16 rows and more. */
#include "seer_kernel.h"

/* The weights of a 16-byte word u (8 halves, or 4 floats in wv[0..3]), little-endian. Constant
 * trip counts, so nvcc keeps u and wv in registers. */
SEER_DEVICE void word_weights(const uint32_t u[4], int wtype, float wv[8]) {
  for (int j = 0; j < 4; j++) {
    if (wtype == SEER_W_F32) {
      wv[j] = seer_u32_as_f32(u[j]);
    } else if (wtype == SEER_W_BF16) {
      wv[2 * j] = seer_u32_as_f32(u[j] << 16);
      wv[2 * j + 1] = seer_u32_as_f32(u[j] & 0xffff0000u);
    } else {
      wv[2 * j] = seer_f16_to_f32((uint16_t)(u[j] & 0xffffu));
      wv[2 * j + 1] = seer_f16_to_f32((uint16_t)(u[j] >> 16));
    }
  }
}

/* One warp per output row, SEER_GEMV_ROWS rows of x per warp, so a batch of up to that many reads
 * each weight once. Lanes read the row in 16-byte words (coalesced: a warp reads 512 contiguous
 * bytes per step, which keeps enough loads in flight to approach HBM bandwidth; 4-byte words do
 * not), keep private sums, then the warp adds the 32 partial sums. Rows whose length or address
 * does not allow whole aligned words take the per-element path. */
SEER_KERNEL(seer_k_gemv, SEER_GEMV_THREADS) {
  int lane = threadIdx.x & 31;
  int row = blockIdx.x * (SEER_GEMV_THREADS / 32) + (threadIdx.x >> 5);
  int m0 = blockIdx.y * SEER_GEMV_ROWS;
  int mr = a.m - m0 < SEER_GEMV_ROWS ? a.m - m0 : SEER_GEMV_ROWS;
  /* Every lane stays to the end: the warp sums below need all 32. */
  float acc[SEER_GEMV_ROWS];
  for (int r = 0; r < SEER_GEMV_ROWS; r++)
    acc[r] = 0.0f;
  if (row < a.n) {
    int es = a.wtype == SEER_W_F32 ? 4 : 2, per = 16 / es; /* bytes per weight, weights per word */
    const char *w = (const char *)a.w + (int64_t)row * a.k * es;
    const float *x = a.x + (int64_t)m0 * a.k;
    if (a.k % per == 0 && ((uintptr_t)w & 15) == 0 && ((uintptr_t)x & 15) == 0 && a.k % 4 == 0) {
      for (int p = lane; p < a.k / per; p += 32) {
        uint32_t u[4], v[4];
        float wv[8];
        seer_load_16(w + (int64_t)p * 16, u);
        word_weights(u, a.wtype, wv);
        for (int r = 0; r < SEER_GEMV_ROWS; r++) {
          if (r >= mr) break;
          const float *xr = x + (int64_t)r * a.k + (int64_t)p * per;
          for (int h = 0; h < 8; h += 4) {
            if (h >= per) break;
            seer_load_16(xr + h, v);
            acc[r] += wv[h] * seer_u32_as_f32(v[0]) + wv[h + 1] * seer_u32_as_f32(v[1]) +
                      wv[h + 2] * seer_u32_as_f32(v[2]) + wv[h + 3] * seer_u32_as_f32(v[3]);
          }
        }
      }
    } else {
      int64_t base = (int64_t)row * a.k;
      for (int r = 0; r < mr; r++)
        for (int i = lane; i < a.k; i += 32)
          acc[r] += seer_load_w(a.w, a.wtype, base + i) * x[(int64_t)r * a.k + i];
    }
  }
  for (int r = 0; r < SEER_GEMV_ROWS; r++)
    acc[r] = seer_warp_sum(acc[r]);
  if (row < a.n && lane == 0)
    for (int r = 0; r < mr; r++)
      a.y[(int64_t)(m0 + r) * a.n + row] = acc[r] + (a.bias ? a.bias[row] : 0.0f);
}

/* A 16x16 bf16 tile element of row-major src [rows][cols], zero outside. */
SEER_DEVICE uint32_t load_pair(const uint16_t *src, int rows, int cols, int r, int c) {
  uint32_t lo = 0, hi = 0;
  if (r < rows) {
    if (c < cols) lo = src[(int64_t)r * cols + c];
    if (c + 1 < cols) hi = src[(int64_t)r * cols + c + 1];
  }
  return lo | (hi << 16);
}

/* Tensor-core GEMM for prefill and batched decode where cuBLASLt is absent: gpu.c's split GEMM runs
 * it twice, on the hi and lo bf16 parts of the activations (convert.cu), the second pass adding to
 * the first. Each warp owns a 16x8 tile of y and walks k in steps of 16 with mma.m16n8k16.
 * Fragment ownership follows the PTX ISA layout (g = lane / 4, q = lane % 4): A rows g and g+8,
 * columns 2q, 2q+1 (+8); B column g, rows 2q, 2q+1 (+8); C rows g and g+8, columns 2q, 2q+1. */
SEER_KERNEL(seer_k_gemm_bf16_mma, SEER_MMA_THREADS) {
  int lane = threadIdx.x & 31, g = lane >> 2, q = lane & 3;
  int m0 = blockIdx.y * 16, n0 = (blockIdx.x * (SEER_MMA_THREADS / 32) + (threadIdx.x >> 5)) * 8;
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  /* Warps past n still join every mma (the instruction needs the whole warp); their loads are 0. */
  for (int k0 = 0; k0 < a.k; k0 += 16) {
    uint32_t fa[4], fb[2];
    fa[0] = load_pair(a.x, a.m, a.k, m0 + g, k0 + 2 * q);
    fa[1] = load_pair(a.x, a.m, a.k, m0 + g + 8, k0 + 2 * q);
    fa[2] = load_pair(a.x, a.m, a.k, m0 + g, k0 + 2 * q + 8);
    fa[3] = load_pair(a.x, a.m, a.k, m0 + g + 8, k0 + 2 * q + 8);
    fb[0] = load_pair(a.w, a.n, a.k, n0 + g, k0 + 2 * q);
    fb[1] = load_pair(a.w, a.n, a.k, n0 + g, k0 + 2 * q + 8);
    seer_mma_bf16_16816(acc, fa, fb, acc);
  }
  for (int i = 0; i < 4; i++) {
    int r = m0 + g + (i >= 2 ? 8 : 0), c = n0 + 2 * q + (i & 1);
    if (r >= a.m || c >= a.n) continue;
    float *out = a.y + (int64_t)r * a.n + c;
    *out = a.accumulate ? *out + acc[i] : acc[i];
  }
}
