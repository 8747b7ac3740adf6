/* A process-wide "stop what you are doing" flag, set by an interrupt (SIGINT, or a Jupyter
 * interrupt_request) and polled by long-running C work such as the model's forward pass, which
 * returns SEER_ECANCELED when it sees it. Async-signal-safe to set. */
#ifndef SEER_INTERRUPT_H
#define SEER_INTERRUPT_H

void seer_interrupt_set(void);
void seer_interrupt_clear(void);
int seer_interrupt_pending(void);
/* Whether an interrupt is pending, clearing it: for work that stops and reports the interrupt as
 * its own error (the forward pass), so the Lua hook set by the same interrupt does not replace
 * that error with a bare "interrupted" (lua/l_jupyter.c). */
int seer_interrupt_take(void);

#endif
