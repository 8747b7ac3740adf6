/* error.c: owns seer_error, the code-plus-message convention every runtime call uses. */
#include "seer/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int seer_errorf(seer_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

int seer_error_errno(seer_error *err, int code, int errno_value, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err->msg)
      snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errno_value));
    err->code = code;
  }
  return code;
}

int seer_error_prefix(seer_error *err, const char *fmt, ...) {
  if (!err) return SEER_EINVAL;
  char prefix[SEER_ERROR_MSG_MAX], old[SEER_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  /* Assemble by hand: the combined message is cut at the buffer size on purpose. */
  size_t n = strlen(prefix), cap = sizeof err->msg - 1;
  if (n > cap) n = cap;
  memcpy(err->msg, prefix, n);
  size_t sep = n + 2 <= cap ? 2 : cap - n;
  memcpy(err->msg + n, ": ", sep);
  n += sep;
  size_t rest = strlen(old);
  if (rest > cap - n) rest = cap - n;
  memcpy(err->msg + n, old, rest);
  err->msg[n + rest] = '\0';
  return err->code;
}
