/* weights_mem.h: the memory behind a weight file (a huge-page-advised mapping or a copy in
 * anonymous huge pages) and the SEER_WEIGHTS policy; see weights_mem.c. */
#ifndef SEER_WEIGHTS_MEM_H
#define SEER_WEIGHTS_MEM_H

#include <stddef.h>

#include "seer/error.h"
#include "seer/safetensors.h"

typedef enum { SEER_WEIGHTS_AUTO, SEER_WEIGHTS_MAP, SEER_WEIGHTS_COPY } seer_weights_policy;

typedef struct seer_weights_mem {
  void *base;
  size_t len; /* what to munmap */
  int copied; /* 1: anonymous copy; 0: file mapping */
} seer_weights_mem;

/* The policy from SEER_WEIGHTS (unset: auto); SEER_EINVAL naming the value when unknown. */
int seer_weights_policy_get(seer_weights_policy *out, seer_error *err);
/* Bytes [0, size) of fd, mapped or copied per policy. size 0 gives base NULL. */
int seer_weights_place(int fd, size_t size, const char *path, seer_weights_policy policy,
                       seer_weights_mem *out, seer_error *err);
void seer_weights_release(seer_weights_mem *m);
/* seer_st_open_dir with the placement given rather than read from SEER_WEIGHTS (a device model's
 * weights are read once, for the upload: they stay mapped). */
int seer_st_open_dir_placed(const char *dir, seer_weights_policy policy, seer_safetensors **out,
                            seer_error *err);

#endif
