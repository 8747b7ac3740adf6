/* interrupt.c: owns the process-wide interrupt flag (see seer/interrupt.h). A sig_atomic_t keeps
 * setting it async-signal-safe; readers on worker threads only ever see 0 or 1. */
#include <signal.h>

#include "seer/interrupt.h"

static volatile sig_atomic_t interrupt_flag;

void seer_interrupt_set(void) { interrupt_flag = 1; }
void seer_interrupt_clear(void) { interrupt_flag = 0; }
int seer_interrupt_pending(void) { return interrupt_flag != 0; }

int seer_interrupt_take(void) {
  int was = interrupt_flag != 0;
  interrupt_flag = 0; /* a second interrupt in between is the same request */
  return was;
}
