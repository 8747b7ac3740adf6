/* jinja_error.c: how evaluation reports a failure (a template line, or the memory bound that ran
 * out). Its own file so that the evaluator, the operators, the builtins and the filters all depend
 * on it without depending on each other in a cycle: jinja_eval.c calls into jinja_builtins.c and
 * jinja_filters.c, and none of those call back into jinja_eval.c. */
#include "jinja_internal.h"

#include <stdarg.h>
#include <stdio.h>

int jerr(jctx *c, int line, const char *fmt, ...) {
  char msg[SEER_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return seer_errorf(c->err, SEER_EINVAL, "template line %d: %s", line, msg);
}

int joom(jctx *c) {
  if (c->a->over)
    return seer_errorf(c->err, SEER_ENOMEM,
                       "template: needs more than %zu MiB of memory; it is hostile or runs away",
                       JINJA_MAX_BYTES >> 20);
  return seer_errorf(c->err, SEER_ENOMEM, "template: out of memory");
}
