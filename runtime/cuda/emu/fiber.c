/* fiber.c: see fiber.h. */
#include "fiber.h"

#include <stdint.h>

#if defined(__x86_64__)
/* seer_emu_fiber_swap(void **save_sp, void *load_sp): pushes the callee-saved registers on the
 * current stack, stores rsp, loads the other stack and pops its. The MXCSR and x87 control words
 * are not switched: no kernel changes rounding modes, and ldmxcsr costs more than the rest. */
__asm__(".text\n"
        ".p2align 4\n"
        ".type seer_emu_fiber_swap,@function\n"
        "seer_emu_fiber_swap:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size seer_emu_fiber_swap, .-seer_emu_fiber_swap\n");
void seer_emu_fiber_swap(void **save_sp, void *load_sp);

void seer_fiber_init(seer_fiber *f, void *stack, size_t size, void (*entry)(void)) {
  uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
  uint64_t *sp = (uint64_t *)top;
  *--sp = 0;                  /* entry's return address: never used; keeps the ABI alignment */
  *--sp = (uintptr_t)entry;   /* where the first switch's ret lands */
  for (int i = 0; i < 6; i++) /* rbp rbx r12 r13 r14 r15 */
    *--sp = 0;
  f->sp = sp;
}

void seer_fiber_switch(seer_fiber *from, seer_fiber *to) { seer_emu_fiber_swap(&from->sp, to->sp); }

#else

/* getcontext returns twice; kept out of line so that callers' variables are not at risk. */
__attribute__((noinline)) void seer_fiber_init(seer_fiber *f, void *stack, size_t size,
                                               void (*entry)(void)) {
  getcontext(&f->uc);
  f->uc.uc_stack.ss_sp = stack;
  f->uc.uc_stack.ss_size = size;
  f->uc.uc_link = NULL;
  makecontext(&f->uc, entry, 0);
}

void seer_fiber_switch(seer_fiber *from, seer_fiber *to) { swapcontext(&from->uc, &to->uc); }

#endif
