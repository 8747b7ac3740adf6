/* norm.cu: RMSNorm. Hand-written because the norm is fused with its weight and is launch-bound at
 * decode (one row); no library op matches the CPU engine's f32 order of operations. */
#include "seer_kernel.h"

/* Block-wide sum; every thread returns the same total (warp sums, then warp 0's lanes add them in
 * lane order). */
SEER_DEVICE float block_sum(float v, float *red) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = seer_warp_sum(v);
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float t = 0.0f;
  for (int i = 0; i < nwarps; i++) t += red[i];
  __syncthreads(); /* red may be reused by the caller */
  return t;
}

SEER_KERNEL(seer_k_rmsnorm, SEER_NORM_THREADS) {
  SEER_SHARED(float, red, SEER_NORM_THREADS / 32);
  const float *x = a.x + (int64_t)blockIdx.x * a.n;
  float *y = a.y + (int64_t)blockIdx.x * a.n;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < a.n; i += blockDim.x) ss += x[i] * x[i];
  float inv = seer_rsqrtf(block_sum(ss, red) / (float)a.n + a.eps);
  for (int i = threadIdx.x; i < a.n; i += blockDim.x) y[i] = x[i] * inv * a.w[i];
}
