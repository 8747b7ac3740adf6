/* gemv.cu: decode matrix-vector products, bf16 weights with f32 accumulation. Hand-written because
 * at batch 1..4 the product is bound by reading the weights once; cuBLASLt's GEMM tiles waste most
 * of each tile on a single row, and it has no bf16-weight x f32-activation mode. Also the
 * tensor-core GEMM that stands in for cuBLASLt in the split bf16 GEMM of 16 rows and more. */
#include "seer_kernel.h"

/* One warp per output row: lanes read the row in 2-element words (coalesced), keep a private sum,
 * then the warp adds the 32 partial sums. f32 and f16 weights take the per-element path. */
SEER_KERNEL(seer_k_gemv, SEER_GEMV_THREADS) {
  int lane = threadIdx.x & 31;
  int row = blockIdx.x * (SEER_GEMV_THREADS / 32) + (threadIdx.x >> 5);
  int m = blockIdx.y;
  /* Every lane stays to the end: the warp sum below needs all 32. */
  float acc = 0.0f;
  if (row < a.n) {
    int64_t base = (int64_t)row * a.k;
    const float *x = a.x + (int64_t)m * a.k;
    const uint16_t *w = (const uint16_t *)a.w + base;
    if (a.wtype == SEER_W_BF16 && ((uintptr_t)w & 3) == 0) {
      const uint32_t *w2 = (const uint32_t *)w;
      for (int p = lane; p < a.k / 2; p += 32) {
        uint32_t u = w2[p];
        acc += seer_u32_as_f32(u << 16) * x[2 * p] +
               seer_u32_as_f32(u & 0xffff0000u) * x[2 * p + 1];
      }
      if ((a.k & 1) && lane == 0) acc += seer_bf16_to_f32(w[a.k - 1]) * x[a.k - 1];
    } else {
      for (int i = lane; i < a.k; i += 32) acc += seer_load_w(a.w, a.wtype, base + i) * x[i];
    }
  }
  acc = seer_warp_sum(acc);
  if (row < a.n && lane == 0) a.y[(int64_t)m * a.n + row] = acc + (a.bias ? a.bias[row] : 0.0f);
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
