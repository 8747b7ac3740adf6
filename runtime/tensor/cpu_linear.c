/* cpu_linear.c: owns the CPU Linear entry (X·Wᵀ with f32/bf16/f16 weights, f32 accumulation): it
 * routes few rows of X to the level's memory-bound gemv and many rows to its packed GEMM, using
 * the kernels cpu_isa.c chose; and the CPU entry of the backend table. Portable C. */
#include "cpu.h"

void seer_cpu_to_f32(const void *src, seer_dtype dt, int64_t n, float *dst) {
  seer_cpu()->to_f32(src, dt, n, dst);
}

void seer_cpu_linear(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W,
                     seer_dtype wdt, int64_t N, const float *bias, float *Y, int64_t ldy) {
  if (M <= 0 || N <= 0) return;
  const seer_cpu_kernels *k = seer_cpu();
  /* Few rows are memory-bound (stream W once); many are compute-bound. The gemv path is also the
   * fallback when the GEMM cannot get its packing buffers. */
  if (M >= 8 && k->gemm(X, M, K, ldx, W, wdt, N, bias, Y, ldy) == 0) return;
  k->gemv(X, M, K, ldx, W, wdt, N, bias, Y, ldy);
}

static const seer_backend cpu_backend = {"cpu", seer_cpu_linear};

const seer_backend *seer_backend_get(seer_device dev) {
  return dev == SEER_DEVICE_CPU ? &cpu_backend : NULL;
}
