/* cpu.h: internal interface of the CPU backend (thread pool and SIMD kernels), shared by the tensor
 * ops and the model engine. Not installed. */
#ifndef SEER_TENSOR_CPU_H
#define SEER_TENSOR_CPU_H

#include <stdint.h>

#include "seer/tensor.h"

/* fn(ctx, task, thread) runs for task in [0, ntasks) across the pool; the caller's thread takes
 * part. Calls made from inside a task run serially, so kernels can nest without deadlock. */
typedef void (*seer_cpu_task_fn)(void *ctx, int64_t task, int thread);
void seer_cpu_parallel_for(int64_t ntasks, seer_cpu_task_fn fn, void *ctx);
int seer_cpu_threads(void);

/* Y[m*ldy + n] = sum_k X[m*ldx + k] * W[n*K + k] (+ bias[n]): a Linear layer with HF's [out, in]
 * weight layout. W may be f32, bf16 or f16 and is converted on the fly; accumulation is f32. */
void seer_cpu_linear(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W,
                     seer_dtype wdt, int64_t N, const float *bias, float *Y, int64_t ldy);
/* The same product for many rows (M >= 8 or so) as a packed GEMM; returns -1, computing nothing,
 * when it cannot allocate its packing buffers. */
int seer_cpu_gemm(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W, seer_dtype wdt,
                  int64_t N, const float *bias, float *Y, int64_t ldy);
/* dst[i] = (float)src[i] for a contiguous run of a float dtype. */
void seer_cpu_to_f32(const void *src, seer_dtype dt, int64_t n, float *dst);

/* The backend seam: a table of the kernels the model engine needs, one per device. */
typedef struct seer_backend {
  const char *name;
  void (*linear)(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W, seer_dtype wdt,
                 int64_t N, const float *bias, float *Y, int64_t ldy);
} seer_backend;
/* NULL when the device has no backend in this build. */
const seer_backend *seer_backend_get(seer_device dev);

#endif
