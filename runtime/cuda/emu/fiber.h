/* fiber.h: the emulator's context switch. On x86-64 a hand-written switch saves only the
 * callee-saved registers (no system call: the emulator switches twice per
 * thread per barrier, millions of times in the parity suite); elsewhere ucontext. */
#ifndef SEER_CUDA_EMU_FIBER_H
#define SEER_CUDA_EMU_FIBER_H

#include <stddef.h>

#if defined(__x86_64__)
typedef struct seer_fiber {
  void *sp;
} seer_fiber;
#else
#include <ucontext.h>
typedef struct seer_fiber {
  ucontext_t uc;
} seer_fiber;
#endif

/* Prepares f to run entry() on [stack, stack + size) at its first switch; entry never returns. */
void seer_fiber_init(seer_fiber *f, void *stack, size_t size, void (*entry)(void));
/* Saves the running context into from and resumes to. */
void seer_fiber_switch(seer_fiber *from, seer_fiber *to);

#endif
