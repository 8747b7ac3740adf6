/* seer_kernel.h: what every kernel file includes. The kernels are written once, in the subset of
 * CUDA C++ that is also C, and build two ways:
 *   nvcc:            real CUDA (extern "C" __global__ entry points, warp intrinsics, inline PTX);
 *   cc -DSEER_EMU:   host C run by the grid emulator (runtime/cuda/emu), so CI checks their
 *                    indexing, reductions and tails on machines without a GPU.
 * Kernels use only: SEER_KERNEL, threadIdx/blockIdx/blockDim/gridDim (.x .y .z), __syncthreads,
 * SEER_SHFL_XOR_F32 / SEER_SHFL_IDX_F32, SEER_SHARED, SEER_DYNAMIC_SHARED, seer_mma_bf16_16816,
 * seer_load_16, seer_bf16_to_f32, seer_f32_to_bf16_rn, seer_fmul_rn and the float math of
 * <math.h>. */
#ifndef SEER_KERNEL_H
#define SEER_KERNEL_H

#include "kernels.h"

#define SEER_FULL_MASK 0xffffffffu
#define SEER_STR2(x) #x
#define SEER_STR(x) SEER_STR2(x)
#define SEER_SITE __FILE__ ":" SEER_STR(__LINE__)

#ifdef SEER_EMU
/* ---------------- host C for the emulator ---------------- */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../emu/emu.h"

#define SEER_DEVICE static inline
#define SEER_RESTRICT restrict
#define threadIdx (seer_emu_thread_idx())
#define blockIdx (seer_emu_block_idx())
#define blockDim (seer_emu_block_dim())
#define gridDim (seer_emu_grid_dim())
#define __syncthreads() seer_emu_syncthreads(SEER_SITE)
/* A kernel's entry takes its argument struct by value on the device; here a wrapper of the shape
 * the emulator calls unpacks it. */
#define SEER_KERNEL(name, threads)                                                                 \
  static void name##_body(const struct name##_args a);                                             \
  void name##_emu(const void *p) { name##_body(*(const struct name##_args *)p); }                  \
  static void name##_body(const struct name##_args a)
#define SEER_SHARED(type, var, count)                                                              \
  static const char var##_key;                                                                     \
  type *var = (type *)seer_emu_shared(&var##_key, sizeof(type) * (count), SEER_SITE)
#define SEER_DYNAMIC_SHARED(type, var) type *var = (type *)seer_emu_dynamic_shared()

SEER_DEVICE float seer_u32_as_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
SEER_DEVICE uint32_t seer_f32_as_u32(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
SEER_DEVICE float SEER_SHFL_XOR_F32(float v, int lane_mask) {
  return seer_u32_as_f32(
      seer_emu_shfl(SEER_FULL_MASK, seer_f32_as_u32(v), lane_mask, SEER_EMU_SHFL_XOR, "shfl_xor"));
}
SEER_DEVICE float SEER_SHFL_IDX_F32(float v, int src) {
  return seer_u32_as_f32(
      seer_emu_shfl(SEER_FULL_MASK, seer_f32_as_u32(v), src, SEER_EMU_SHFL_IDX, "shfl_idx"));
}
SEER_DEVICE float seer_rsqrtf(float x) { return 1.0f / sqrtf(x); }
/* 16 aligned bytes as four words (one 128-bit load on the device). */
SEER_DEVICE void seer_load_16(const void *p, uint32_t v[4]) { memcpy(v, p, 16); }
/* The host build contracts nothing (no FMA in its baseline instruction set). */
SEER_DEVICE float seer_fmul_rn(float x, float y) { return x * y; }
SEER_DEVICE void seer_mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2],
                                     const float c[4]) {
  seer_emu_mma_bf16_16816(d, a, b, c, "mma.m16n8k16");
}

#else
/* ---------------- CUDA ---------------- */
#include <stdint.h>

#define SEER_DEVICE static __device__ __forceinline__
#define SEER_RESTRICT __restrict__
#define SEER_KERNEL(name, threads)                                                                 \
  extern "C" __global__ void __launch_bounds__(threads) name(const struct name##_args a)
#define SEER_SHARED(type, var, count)                                                              \
  __shared__ type var##_storage[count];                                                            \
  type *var = var##_storage
#define SEER_DYNAMIC_SHARED(type, var)                                                             \
  extern __shared__ __align__(16) unsigned char seer_dynamic_smem_[];                              \
  type *var = (type *)seer_dynamic_smem_

SEER_DEVICE float seer_u32_as_f32(uint32_t u) { return __uint_as_float(u); }
SEER_DEVICE uint32_t seer_f32_as_u32(float f) { return __float_as_uint(f); }
SEER_DEVICE float SEER_SHFL_XOR_F32(float v, int lane_mask) {
  return __shfl_xor_sync(SEER_FULL_MASK, v, lane_mask);
}
SEER_DEVICE float SEER_SHFL_IDX_F32(float v, int src) {
  return __shfl_sync(SEER_FULL_MASK, v, src);
}
SEER_DEVICE float seer_rsqrtf(float x) { return 1.0f / sqrtf(x); }
SEER_DEVICE void seer_load_16(const void *p, uint32_t v[4]) {
  uint4 u = *(const uint4 *)p;
  v[0] = u.x, v[1] = u.y, v[2] = u.z, v[3] = u.w;
}
/* A product rounded on its own: nvcc would otherwise fuse it with a following add into an FMA. */
SEER_DEVICE float seer_fmul_rn(float x, float y) { return __fmul_rn(x, y); }
/* Tensor cores, sm_80+: D = A*B + C on a 16x8x16 tile, bf16 inputs, f32 accumulators. */
SEER_DEVICE void seer_mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2],
                                     const float c[4]) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
               "{%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]),
                 "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
#endif

/* bf16 is the top half of an f32: widening is a shift, exact on both sides. */
SEER_DEVICE float seer_bf16_to_f32(uint16_t h) { return seer_u32_as_f32((uint32_t)h << 16); }

/* f32 to bf16, round to nearest even (NaN stays a quiet NaN): the CPU engine's seer_f32_to_bf16
 * (runtime/tensor/tensor.c) bit for bit, written out so both builds share it. */
SEER_DEVICE uint16_t seer_f32_to_bf16_rn(float f) {
  uint32_t u = seer_f32_as_u32(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* IEEE half to f32 (exact), written out so both builds share it. */
SEER_DEVICE float seer_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (e == 0) { /* zero or subnormal: man * 2^-24 */
    float f = (float)man * 5.9604644775390625e-8f;
    return sign ? -f : f;
  }
  if (e == 31) return seer_u32_as_f32(sign | 0x7f800000u | (man << 13));
  return seer_u32_as_f32(sign | ((e + 112u) << 23) | (man << 13));
}

/* Element i of a weight array stored as wtype (kernels.h's SEER_W_*). */
SEER_DEVICE float seer_load_w(const void *w, int wtype, int64_t i) {
  if (wtype == SEER_W_F32) return ((const float *)w)[i];
  uint16_t h = ((const uint16_t *)w)[i];
  return wtype == SEER_W_BF16 ? seer_bf16_to_f32(h) : seer_f16_to_f32(h);
}

/* Sum over the 32 lanes of a warp; every lane gets the total (butterfly, same order everywhere). */
SEER_DEVICE float seer_warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1)
    v += SEER_SHFL_XOR_F32(v, o);
  return v;
}
SEER_DEVICE float seer_warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf(v, SEER_SHFL_XOR_F32(v, o));
  return v;
}

#endif
