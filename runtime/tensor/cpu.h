/* cpu.h: internal interface of the CPU backend (thread pool, ISA dispatch and SIMD kernels), shared
 * by the tensor ops and the model engine. Not installed. */
#ifndef SEER_TENSOR_CPU_H
#define SEER_TENSOR_CPU_H

#include <stdint.h>

#include "seer/tensor.h"

/* fn(ctx, task, thread) runs for task in [0, ntasks) across the pool; the caller's thread takes
 * part. Calls made from inside a task run serially, so kernels can nest without deadlock. */
typedef void (*seer_cpu_task_fn)(void *ctx, int64_t task, int thread);
void seer_cpu_parallel_for(int64_t ntasks, seer_cpu_task_fn fn, void *ctx);
int seer_cpu_threads(void);
/* The thread pool's adaptive spin (threadpool.c): a waiting worker's next spin in ns from its
 * current one, the gap between its wait's start and the next job's publication, and whether its
 * spin was descheduled. Exposed for tests. */
long seer_cpu_pool_next_spin(long spin_ns, int64_t gap_ns, int preempted);

/* Y[m*ldy + n] = sum_k X[m*ldx + k] * W[n*K + k] (+ bias[n]): a Linear layer with HF's [out, in]
 * weight layout. W may be f32, bf16 or f16 and is converted on the fly; accumulation is f32.
 * Runs the kernels of the ISA level in use (cpu_isa.c). */
void seer_cpu_linear(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W,
                     seer_dtype wdt, int64_t N, const float *bias, float *Y, int64_t ldy);
/* dst[i] = (float)src[i] for a contiguous run of a float dtype. */
void seer_cpu_to_f32(const void *src, seer_dtype dt, int64_t n, float *dst);

/* ---- ISA dispatch (cpu_isa.c) ---- */

/* Ordered: each level's CPUs also run every lower level's kernels. */
typedef enum {
  SEER_CPU_GENERIC,    /* portable C, any x86-64 (or other architecture) */
  SEER_CPU_AVX2,       /* AVX2 + FMA + F16C */
  SEER_CPU_AVX512,     /* AVX-512 F/BW/VL */
  SEER_CPU_AVX512BF16, /* + AVX512_BF16 (vdpbf16ps) */
  SEER_CPU_AMX,        /* + AMX-BF16 tiles, permission granted by the kernel */
  SEER_CPU_NLEVELS
} seer_cpu_level_id;

/* One level's kernels. Every entry computes in f32 from f32 activations: levels differ in speed
 * and in the order of f32 additions only (see bench/README.md, "ISA levels"). */
typedef struct seer_cpu_kernels {
  seer_cpu_level_id level;
  /* the memory-bound Linear path for few rows of X (decode) */
  void (*gemv)(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W, seer_dtype wdt,
               int64_t N, const float *bias, float *Y, int64_t ldy);
  /* the compute-bound path for many rows (prefill); -1, computing nothing, when it cannot
   * allocate its packing buffers */
  int (*gemm)(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W, seer_dtype wdt,
              int64_t N, const float *bias, float *Y, int64_t ldy);
  void (*to_f32)(const void *src, seer_dtype dt, int64_t n, float *dst);
  float (*dot)(const float *a, const float *b, int64_t n);    /* sum a[i]*b[i] */
  void (*axpy)(float a, const float *x, float *y, int64_t n); /* y[i] += a*x[i] */
} seer_cpu_kernels;

extern const seer_cpu_kernels seer_cpu_generic_kernels, seer_cpu_avx2_kernels,
    seer_cpu_avx512_kernels;

/* How far ahead, in bytes, the decode kernels prefetch the weight stream (set with the kernels).
 * The hardware prefetchers stop at every 4 KiB page, and one bf16 row of a 2048-wide Linear is a
 * page, so without this each row starts on a miss: 4096 ahead measured 1.2-1.4x decode tok/s on an
 * AVX-512 Xeon (bench/README.md, "decode prefetch"). SEER_GEMV_PREFETCH=BYTES sets it; 0 turns it
 * off. */
extern int64_t seer_cpu_gemv_prefetch;
#define SEER_GEMV_PREFETCH_DEFAULT 4096

/* The kernels in use, chosen once from CPUID, the OS's XSAVE state and SEER_CPU. */
const seer_cpu_kernels *seer_cpu_kernels_init(void);
extern const seer_cpu_kernels *seer_cpu_active;
static inline const seer_cpu_kernels *seer_cpu(void) {
  const seer_cpu_kernels *k = __atomic_load_n(&seer_cpu_active, __ATOMIC_ACQUIRE);
  return k ? k : seer_cpu_kernels_init();
}

/* The backend seam: a table of the kernels the model engine needs, one per device. */
typedef struct seer_backend {
  const char *name;
  void (*linear)(const float *X, int64_t M, int64_t K, int64_t ldx, const void *W, seer_dtype wdt,
                 int64_t N, const float *bias, float *Y, int64_t ldy);
} seer_backend;
/* NULL when the device has no backend in this build. */
const seer_backend *seer_backend_get(seer_device dev);

#endif
