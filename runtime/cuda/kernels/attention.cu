/* attention.cu: attention over the device KV cache (decode steps, and prefills one query per
 * block). Hand-written: cuDNN/flash kernels do not cover the CPU engine's exact semantics together
 * (ring-buffer sliding windows, Gemma's tanh softcap before the mask, per-row left padding), and at
 * decode the work is one pass over the cache. Scores go to shared memory (global memory past what
 * it holds) so the softmax is exact (max, then sum), as on the CPU. */
#include "seer_kernel.h"

SEER_DEVICE float block_reduce(float v, float *red, int is_max) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = is_max ? seer_warp_max(v) : seer_warp_sum(v);
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float t = red[0];
  for (int i = 1; i < nwarps; i++) t = is_max ? fmaxf(t, red[i]) : t + red[i];
  __syncthreads();
  return t;
}

SEER_KERNEL(seer_k_attn_decode, SEER_ATTN_THREADS) {
  SEER_SHARED(float, red, SEER_ATTN_THREADS / 32);
  SEER_DYNAMIC_SHARED(float, shared_scores);
  int h = blockIdx.x, b = blockIdx.y, hd = a.head_dim;
  int kvh = h / (a.heads / a.kv_heads);
  int64_t t = a.t + blockIdx.z;
  int64_t qi = *a.step + t, lo = a.pad[b];
  if (a.window > 0 && qi - a.window + 1 > lo) lo = qi - a.window + 1;
  if (a.ring && qi - a.cap + 1 > lo) lo = qi - a.cap + 1;
  int64_t n = qi + 1 - lo;
  int64_t row = (int64_t)b * a.row_stride + ((int64_t)blockIdx.z * a.heads + h) * hd;
  const float *q = a.q + row;
  float *out = a.out + row;
  const float *kbase = a.k + ((int64_t)b * a.kv_heads + kvh) * a.cap * hd;
  const float *vbase = a.v + ((int64_t)b * a.kv_heads + kvh) * a.cap * hd;
  /* Past what shared memory holds, the scores live in global memory; the arithmetic is the same. */
  float *p = shared_scores;
  if (a.scores)
    p = a.scores + (((int64_t)b * a.heads + h) * gridDim.z + blockIdx.z) * a.scores_stride;
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    int64_t pos = lo + j, slot = a.ring ? pos % a.cap : pos;
    const float *kk = kbase + slot * hd;
    float s = 0.0f;
    for (int d = 0; d < hd; d++) s += q[d] * kk[d];
    s *= a.scale;
    if (a.softcap > 0.0f) s = tanhf(s / a.softcap) * a.softcap;
    p[j] = s;
    mx = fmaxf(mx, s);
  }
  mx = block_reduce(mx, red, 1);
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    float e = expf(p[j] - mx);
    p[j] = e;
    sum += e;
  }
  float inv = 1.0f / block_reduce(sum, red, 0);
  /* p[] is complete: block_reduce's barriers ordered every write above before these reads. */
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.0f;
    for (int64_t j = 0; j < n; j++) {
      int64_t pos = lo + j, slot = a.ring ? pos % a.cap : pos;
      o += p[j] * inv * vbase[slot * hd + d];
    }
    out[d] = n > 0 ? o : 0.0f;
  }
  /* The weights P·V used, laid out as forward.c gives attn.weights hooks: every key position of
   * the call, 0 outside [lo, qi] (masked, padding, past the window, or a padding query's row). */
  if (a.weights) {
    int64_t keys = *a.step + a.queries;
    float *w = a.weights + (((int64_t)b * a.heads + h) * a.queries + t) * keys;
    for (int64_t j = threadIdx.x; j < keys; j += blockDim.x)
      w[j] = j >= lo && j <= qi ? p[j - lo] * inv : 0.0f;
  }
}

SEER_KERNEL(seer_k_kv_store, SEER_ATTN_THREADS) {
  int b = blockIdx.x, n = a.kv_heads * a.head_dim;
  int64_t t = a.t + blockIdx.y;
  int64_t qi = *a.step + t, slot = a.ring ? qi % a.cap : qi;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    int h = j / a.head_dim, d = j % a.head_dim;
    int64_t dst = (((int64_t)b * a.kv_heads + h) * a.cap + slot) * a.head_dim + d;
    int64_t src = (int64_t)b * a.row_stride + (int64_t)blockIdx.y * n + j;
    a.kc[dst] = a.k[src];
    a.vc[dst] = a.v[src];
  }
}
