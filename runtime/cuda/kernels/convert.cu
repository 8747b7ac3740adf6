/* convert.cu: f32 activations as two bf16 parts, so that GEMMs with bf16 weights can run on tensor
 * cores (bf16 x bf16 products, f32 accumulation) without leaving the fixtures' tolerance. Rounding
 * the activations to bf16 alone misses it 59-86x (bench/README.md, "split x = hi + lo"); with
 * x = hi + lo, hi = bf16(x), lo = bf16(x - hi), the pair keeps 16 of x's 24 significand bits, every
 * product stays exact in f32, and W.hi + W.lo measured 0.10-0.17x the tolerance. */
#include "seer_kernel.h"

/* x - hi is exact in f32: hi is x rounded to 8 significand bits, so the remainder is a multiple of
 * x's last place no larger than half of hi's, which fits in 16 bits. lo is then the remainder
 * rounded once. Where hi is not finite (x infinite or NaN, or past bf16's largest finite value),
 * lo is 0: x - hi would be NaN and turn every product with an infinite x into NaN. */
SEER_KERNEL(seer_k_split_bf16, SEER_ELT_THREADS) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += stride) {
    float x = a.x[i];
    uint16_t hi = seer_f32_to_bf16_rn(x);
    a.hi[i] = hi;
    a.lo[i] = (hi & 0x7f80u) == 0x7f80u ? 0 : seer_f32_to_bf16_rn(x - seer_bf16_to_f32(hi));
  }
}
