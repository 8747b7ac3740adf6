/* gpu.h: one opened GPU for the engine, either a real device through the driver table or the grid
 * emulator (SEER_CUDA_EMULATE=1), behind the same calls. Device addresses are uint64_t; under the
 * emulator they are host pointers. Kernels are named by the ids of kernels.h's list. */
#ifndef SEER_CUDA_GPU_H
#define SEER_CUDA_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "seer/error.h"
#include "seer/tensor.h"

typedef enum seer_gpu_kernel {
#define SEER_GPU_KERNEL_ID(name, threads) SEER_GPU_##name,
  SEER_CUDA_KERNEL_LIST(SEER_GPU_KERNEL_ID)
#undef SEER_GPU_KERNEL_ID
      SEER_GPU_KERNEL_COUNT
} seer_gpu_kernel;

typedef struct seer_gpu seer_gpu;

/* Opens GPU `index`; emulate runs the kernels on the CPU through the grid emulator instead.
 * Without a usable driver, the error is the probe's one sentence (seer/cuda.h). */
int seer_gpu_open(int index, int emulate, seer_gpu **out, seer_error *err);
void seer_gpu_close(seer_gpu *g);
int seer_gpu_emulated(const seer_gpu *g);

int seer_gpu_alloc(seer_gpu *g, size_t bytes, uint64_t *ptr, seer_error *err);
void seer_gpu_free(seer_gpu *g, uint64_t ptr);
/* Host<->device copies, through the GPU's two pinned staging buffers in turns (gpu.c); both return
 * when the copy is done. */
int seer_gpu_upload(seer_gpu *g, uint64_t dst, const void *src, size_t n, seer_error *err);
int seer_gpu_download(seer_gpu *g, void *dst, uint64_t src, size_t n, seer_error *err);
/* An upload whose source is produced chunk by chunk straight into the staging buffer: fill(ctx,
 * buf, off, len) writes bytes [off, off + len) of it into buf (len a multiple of 8 but for the
 * last chunk): a conversion needs no copy of its own. */
typedef void (*seer_gpu_fill)(void *ctx, void *buf, size_t off, size_t len);
int seer_gpu_upload_fill(seer_gpu *g, uint64_t dst, size_t n, seer_gpu_fill fill, void *ctx,
                         seer_error *err);
/* Chunks copied through the staging buffers so far (tests: the staged path ran). */
uint64_t seer_gpu_staged_chunks(const seer_gpu *g);
/* Host-to-device copies so far, each upload one however many chunks (tests: a decode step's inputs
 * go up in one copy). */
uint64_t seer_gpu_uploads(const seer_gpu *g);
int seer_gpu_copy(seer_gpu *g, uint64_t dst, uint64_t src, size_t n, seer_error *err);
int seer_gpu_zero(seer_gpu *g, uint64_t dst, size_t n, seer_error *err); /* n multiple of 4 */
/* Waits for the work queued so far (timing). */
int seer_gpu_sync(seer_gpu *g, seer_error *err);
/* Launches kernel k with its argument struct (copied at launch). Work is ordered on one stream;
 * seer_gpu_download waits for it. */
int seer_gpu_launch(seer_gpu *g, seer_gpu_kernel k, unsigned gx, unsigned gy, unsigned gz,
                    unsigned threads, size_t smem, const void *args, seer_error *err);

/* CUDA graphs: the launches and device-to-device copies queued between capture_begin and
 * capture_end become one graph that graph_launch replays on the stream, with the arguments they had
 * at capture (device memory they point at may change between replays: that is how a decode step's
 * position reaches a replayed graph). On a device, the driver's stream capture (thread-local
 * mode); under the emulator, a list of the recorded launches and copies, replayed in order. While
 * capturing, allocation, host<->device copies and waits are refused with an error (on a device
 * they would break the capture), so both paths catch them. capture_abort ends a failed capture. */
typedef struct seer_gpu_graph seer_gpu_graph;
int seer_gpu_capture_begin(seer_gpu *g, seer_error *err);
int seer_gpu_capture_end(seer_gpu *g, seer_gpu_graph **out, seer_error *err);
void seer_gpu_capture_abort(seer_gpu *g);
int seer_gpu_graph_launch(seer_gpu *g, seer_gpu_graph *gr, seer_error *err);
void seer_gpu_graph_free(seer_gpu *g, seer_gpu_graph *gr);
/* Graph replays so far (tests: decode steps ran as graphs). */
uint64_t seer_gpu_graph_replays(const seer_gpu *g);

/* Device storages of this GPU's memory (ctx: the seer_gpu; gpu_tensor.c): copies, freeing, in-place
 * elementwise ops, mean and matmul, for hook views of a device model's activations. */
const seer_storage_device_ops *seer_gpu_storage_ops(void);
/* A forward call's device tensors (gpu_tensor.c): views over memory the caller keeps (the device
 * engine's workspace; releasing or detaching one leaves the memory), with the ops above and
 * out-of-place elementwise ops whose results are device tensors of the scope. Ending the scope
 * turns every result into a host copy and frees its device memory, so a result a hook keeps is
 * still readable after the call (and after the model is gone); the caller detaches its views. */
typedef struct seer_gpu_scope seer_gpu_scope;
seer_gpu_scope *seer_gpu_scope_new(seer_gpu *g, seer_error *err);
seer_storage *seer_gpu_scope_view(seer_gpu_scope *s, uint64_t addr, size_t nbytes, seer_error *err);
int seer_gpu_scope_end(seer_gpu_scope *s, seer_error *err);
/* Kernels launched so far (tests: an op ran on the device); and of kernel k alone (tests: which
 * path a GEMM took), launches replayed in graphs included in both. */
uint64_t seer_gpu_launches(const seer_gpu *g);
uint64_t seer_gpu_kernel_launches(const seer_gpu *g, seer_gpu_kernel k);

/* cuBLASLt GEMMs (runtime/cuda/cublaslt.h), on a real device when the library loaded: the least
 * rows worth sending to it, or 0 when it is not there (the emulator never has it). */
int seer_gpu_gemm_rows(const seer_gpu *g);
/* y [rows][n] = x [rows][k] . w [n][k]^T, f32 in and out, f32 accumulation. */
int seer_gpu_gemm_f32(seer_gpu *g, uint64_t x, int64_t rows, int64_t k, uint64_t w, int64_t n,
                      uint64_t y, seer_error *err);
/* y [rows][n] = x [rows][k] . w [n][k]^T for bf16 w, x and y f32, on tensor cores and within the
 * fixtures' tolerance: x splits into hi = bf16(x) and lo = bf16(x - hi) in ws (the split kernel,
 * kernels/convert.cu), then y = w.hi + w.lo, bf16 products exact in f32, f32 accumulation; on
 * cuBLASLt when it is loaded (and has an algorithm for the shape), else seer's tensor-core kernel,
 * so the emulator runs it too. ws holds seer_gpu_split_gemm_bytes(rows, k) bytes, 256-aligned: the
 * caller's, so that the call allocates nothing and can be captured in a graph. */
int seer_gpu_gemm_bf16_split(seer_gpu *g, uint64_t x, int64_t rows, int64_t k, uint64_t w,
                             int64_t n, uint64_t y, uint64_t ws, seer_error *err);
size_t seer_gpu_split_gemm_bytes(int64_t rows, int64_t k);
/* The least rows worth the split GEMM rather than the GEMV (SEER_CUBLASLT_MIN_ROWS, 16 by default);
 * never 0, since seer's kernel stands in for cuBLASLt. */
int seer_gpu_split_gemm_rows(const seer_gpu *g);

#endif
