/* rope.cu: rotary position embedding, HF rotate_half layout. Hand-written: it is fused into the
 * q/k projections' epilogue position and no library provides it. The angle is pos * inv_freq in
 * f32, then cosf/sinf, the same operations as the CPU engine (runtime/model/forward.c). */
#include "seer_kernel.h"

SEER_KERNEL(seer_k_rope, SEER_ROPE_THREADS) {
  int half = a.head_dim / 2;
  float pos = (float)a.pos[blockIdx.x];
  float *x = a.x + (int64_t)blockIdx.x * a.heads * a.head_dim;
  for (int j = threadIdx.x; j < a.heads * half; j += blockDim.x) {
    int h = j / half, i = j % half;
    float ang = pos * a.inv_freq[i];
    float c = cosf(ang), s = sinf(ang);
    float *v = x + (int64_t)h * a.head_dim;
    float p = v[i], r = v[i + half];
    v[i] = p * c - r * s;
    v[i + half] = r * c + p * s;
  }
}
