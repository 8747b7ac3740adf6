/* elementwise.cu: the gated MLP's act(gate) * up (fused so the intermediate is read once), the
 * residual add, a LoRA side path's scaled add, in-place and out-of-place ops on hook tensors, the
 * logit softcap and the embedding gather. No library fuses these; each is a few lines and
 * launch-bound at decode. The formulas are the CPU engine's (runtime/model/forward.c, lora.c). */
#include "seer_kernel.h"

SEER_DEVICE float act(float x, int kind) {
  if (kind == SEER_ACT_SILU) return x / (1.0f + expf(-x));
  if (kind == SEER_ACT_GELU_TANH)
    return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
  return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
}

SEER_KERNEL(seer_k_act_mul, SEER_ELT_THREADS) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += stride)
    a.out[i] = act(a.gate[i], a.act) * a.up[i];
}

SEER_KERNEL(seer_k_add, SEER_ELT_THREADS) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += stride)
    a.x[i] += a.y[i];
}

SEER_KERNEL(seer_k_add_scaled, SEER_ELT_THREADS) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += stride)
    a.y[i] += seer_fmul_rn(a.x[i], a.s);
}

/* In double, rounded once to f32, as the CPU's ops compute: for two floats that is the f32 result
 * (double has room for the exact sum or product), and a scalar need not be an f32. */
SEER_DEVICE double binop(double l, double r, int op) {
  return op == SEER_BIN_ADD   ? l + r
         : op == SEER_BIN_SUB ? l - r
         : op == SEER_BIN_MUL ? l * r
         : op == SEER_BIN_DIV ? l / r
                              : r; /* SEER_BIN_COPY */
}

SEER_KERNEL(seer_k_binary_rows, SEER_ELT_THREADS) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += stride) {
    double y = a.y ? (double)a.y[i % a.ylen] : a.s;
    a.x[i] = (float)binop(a.x[i], y, a.op);
  }
}

SEER_KERNEL(seer_k_binary_out, SEER_ELT_THREADS) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += stride) {
    float x = a.x[i];
    if (a.op == SEER_BIN_ABS || a.op == SEER_BIN_NEG) { /* sign-bit ops, exact for every float */
      a.out[i] = a.op == SEER_BIN_ABS ? fabsf(x) : -x;
      continue;
    }
    double y = a.y ? (double)a.y[i % a.ylen] : a.s;
    a.out[i] = (float)(a.swap ? binop(y, x, a.op) : binop(x, y, a.op));
  }
}

SEER_KERNEL(seer_k_softcap, SEER_ELT_THREADS) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += stride)
    a.x[i] = tanhf(a.x[i] / a.cap) * a.cap;
}

SEER_KERNEL(seer_k_embed, SEER_ELT_THREADS) {
  int64_t row = (int64_t)a.tok[blockIdx.x] * a.h;
  float *out = a.out + (int64_t)blockIdx.x * a.h;
  for (int i = threadIdx.x; i < a.h; i += blockDim.x) {
    float v = seer_load_w(a.table, a.wtype, row + i);
    out[i] = a.scale != 1.0f ? v * a.scale : v;
  }
}
