/* reduce.cu: the mean of a hook tensor along one dim, on the device. Hand-written because the
 * result must equal the CPU's seer_tensor_reduce bit for bit (a probe computed in a hook must not
 * depend on where the model runs): that is a double sum in order, which no library reduction
 * promises. */
#include "seer_kernel.h"

/* One thread per lane, each summing its n values in order j = 0..n-1 in double and rounding once,
 * as runtime/tensor/ops.c does. Hook tensors have hundreds to thousands of lanes, enough threads
 * to fill the launch; an in-order sum cannot be split across threads without changing it. */
SEER_KERNEL(seer_k_mean_lanes, SEER_ELT_THREADS) {
  int64_t lanes = a.outer * a.inner, stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t l = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; l < lanes; l += stride) {
    int64_t o = l / a.inner, i = l % a.inner;
    const float *p = a.x + o * a.n * a.inner + i;
    double acc = 0.0;
    for (int64_t j = 0; j < a.n; j++)
      acc += (double)p[j * a.inner];
    a.out[l] = (float)(acc / (double)a.n);
  }
}
