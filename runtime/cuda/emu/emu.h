/* emu.h: the grid emulator's interface. Under -DSEER_EMU the kernels in runtime/cuda/kernels/ (.cu)
 * compile as host C; seer_kernel.h maps threadIdx, __syncthreads, warp shuffles, shared memory and
 * the tensor-core instruction onto these functions. Each CUDA thread of a block runs as a fiber
 * (ucontext); barriers and shuffles are the only switch points, and a seed picks which waiting
 * fiber runs next, so different seeds give different legal interleavings. A launch that cannot
 * finish (a barrier some threads never reach, a shuffle with lanes missing) fails with a report. */
#ifndef SEER_CUDA_EMU_H
#define SEER_CUDA_EMU_H

#include <stddef.h>
#include <stdint.h>

typedef struct seer_dim3 {
  unsigned x, y, z;
} seer_dim3;

typedef void (*seer_emu_entry)(const void *args);

/* Fault injection for negative controls: a test sets one, runs a kernel, and shows that its parity
 * check fails. Thread-local, like the launch state. */
enum {
  SEER_EMU_FAULT_NO_SYNCTHREADS = 1u << 0, /* __syncthreads returns without waiting */
  SEER_EMU_FAULT_MMA_LAYOUT = 1u << 1,     /* the mma twin reads A with rows and columns swapped */
  SEER_EMU_FAULT_NO_WARP_SYNC = 1u << 2,   /* shuffles read their partners' slots without waiting */
  SEER_EMU_FAULT_SKIP_LAST_BLOCK = 1u << 3, /* the grid's last block does not run (tail coverage) */
};
void seer_emu_set_faults(unsigned faults);

/* Runs entry(args) over the grid, one block at a time. Returns 0, or -1 with a one-sentence report
 * in err (deadlock, divergent barrier, shuffle mask mismatch, shared memory overflow). */
int seer_emu_launch(const char *name, seer_emu_entry entry, seer_dim3 grid, seer_dim3 block,
                    size_t dynamic_smem, const void *args, uint64_t seed, char *err, size_t errlen);

/* ---- used by the kernels through seer_kernel.h ---- */
seer_dim3 seer_emu_thread_idx(void);
seer_dim3 seer_emu_block_idx(void);
seer_dim3 seer_emu_block_dim(void);
seer_dim3 seer_emu_grid_dim(void);
void seer_emu_syncthreads(const char *site);
uint32_t seer_emu_shfl(uint32_t mask, uint32_t v, int src_or_delta, int mode, const char *site);
enum { SEER_EMU_SHFL_IDX, SEER_EMU_SHFL_XOR, SEER_EMU_SHFL_DOWN, SEER_EMU_SHFL_UP };
void *seer_emu_shared(const void *key, size_t bytes, const char *site);
void *seer_emu_dynamic_shared(void);
/* mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, modelled on the PTX ISA fragment layout. */
void seer_emu_mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4],
                             const char *site);

/* The emulated entry point of every kernel in kernels.h: <name>_emu(const void *args). */
#include "../kernels/kernels.h"
#define SEER_EMU_DECLARE(name, threads) void name##_emu(const void *args);
SEER_CUDA_KERNEL_LIST(SEER_EMU_DECLARE)
#undef SEER_EMU_DECLARE

#endif
