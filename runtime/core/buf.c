/* buf.c: owns seer_buf growth policy (doubling, NUL-terminable). */
#include "seer/buf.h"
#include "seer/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int seer_buf_reserve(seer_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return SEER_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) {
    if (cap > ((size_t)-1) / 2) return SEER_ENOMEM;
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (!p) return SEER_ENOMEM;
  b->data = p;
  b->cap = cap;
  return SEER_OK;
}

int seer_buf_append(seer_buf *b, const void *data, size_t len) {
  if (seer_buf_reserve(b, len)) return SEER_ENOMEM;
  if (len) memcpy(b->data + b->len, data, len);
  b->len += len;
  return SEER_OK;
}

int seer_buf_appendc(seer_buf *b, char c) { return seer_buf_append(b, &c, 1); }

int seer_buf_appends(seer_buf *b, const char *s) { return seer_buf_append(b, s, strlen(s)); }

int seer_buf_printf(seer_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return SEER_EINVAL;
  if (seer_buf_reserve(b, (size_t)n)) return SEER_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return SEER_OK;
}

int seer_buf_terminate(seer_buf *b) {
  if (seer_buf_reserve(b, 0)) return SEER_ENOMEM;
  b->data[b->len] = '\0';
  return SEER_OK;
}

void seer_buf_free(seer_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
