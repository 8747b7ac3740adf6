/* A growable byte buffer, the one the codecs, file helpers and protocol writers share. */
#ifndef SEER_BUF_H
#define SEER_BUF_H

#include <stddef.h>

typedef struct seer_buf {
  char *data;
  size_t len;
  size_t cap;
} seer_buf;

#define SEER_BUF_INIT                                                                              \
  { 0, 0, 0 }

/* All return 0, or SEER_ENOMEM with the buffer unchanged. */
int seer_buf_reserve(seer_buf *b, size_t extra);
int seer_buf_append(seer_buf *b, const void *data, size_t len);
int seer_buf_appendc(seer_buf *b, char c);
int seer_buf_appends(seer_buf *b, const char *s);
int seer_buf_printf(seer_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Leaves a NUL after the data without counting it, so data can be used as a C string. */
int seer_buf_terminate(seer_buf *b);
void seer_buf_free(seer_buf *b);

#endif
