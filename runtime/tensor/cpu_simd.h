/* cpu_simd.h: AVX2 helpers shared by the CPU kernels (weight loads in any float dtype as f32,
 * horizontal sums). Internal; header-only so each kernel inlines them. */
#ifndef SEER_TENSOR_CPU_SIMD_H
#define SEER_TENSOR_CPU_SIMD_H

#include <immintrin.h>

#include "cpu.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* 8 consecutive elements of a weight row at index k, as f32. */
ALWAYS_INLINE __m256 load8(const void *w, seer_dtype dt, int64_t k) {
  if (dt == SEER_DTYPE_F32) return _mm256_loadu_ps((const float *)w + k);
  __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + k));
  if (dt == SEER_DTYPE_BF16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}

ALWAYS_INLINE float load1(const void *w, seer_dtype dt, int64_t k) {
  if (dt == SEER_DTYPE_F32) return ((const float *)w)[k];
  uint16_t h = ((const uint16_t *)w)[k];
  return dt == SEER_DTYPE_BF16 ? seer_bf16_to_f32(h) : seer_f16_to_f32(h);
}

ALWAYS_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

#endif
