/* Error reporting for the C runtime: every fallible call returns a negative code and, when the
 * caller passes a seer_error, a message that names the thing that failed and what to do about it.
 */
#ifndef SEER_ERROR_H
#define SEER_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  SEER_OK = 0,
  SEER_EINVAL = -1,   /* bad argument from the caller */
  SEER_EIO = -2,      /* OS-level failure (errno is in the message) */
  SEER_ENOMEM = -3,   /* allocation failed */
  SEER_EFORMAT = -4,  /* malformed input file or frame */
  SEER_ENOTSUP = -5,  /* valid but not implemented or not supported here */
  SEER_ESTATE = -6,   /* object is in the wrong state for this call (closed, not started, ...) */
  SEER_ETIMEOUT = -7, /* deadline passed */
  SEER_ECANCELED = -8 /* operation cancelled */
};

#define SEER_ERROR_MSG_MAX 1024

typedef struct seer_error {
  int code;
  char msg[SEER_ERROR_MSG_MAX];
} seer_error;

/* Records code and a printf-style message in err (which may be NULL) and returns code. */
int seer_errorf(seer_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like seer_errorf, appending ": <strerror(errno_value)>". */
int seer_error_errno(seer_error *err, int code, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prepends "prefix: " to an existing message, for adding context while an error propagates up. */
int seer_error_prefix(seer_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
