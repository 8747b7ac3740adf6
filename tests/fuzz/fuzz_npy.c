/* fuzz_npy.c: the strict .npy parser and the .npz reader (libzip underneath) on hostile bytes. The
 * first input byte picks the target: even, the rest is one .npy held in memory (seer_npy_parse);
 * odd, the rest is written out as an .npz (seer_npz_load, 64 MiB bound). Every array that parses is
 * read in full, so a shape the validator let through that outruns its data is caught by ASan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seer/npy.h"

static char path[64];

static void touch_all(seer_tensor *t) {
  const volatile unsigned char *p = seer_tensor_data(t);
  size_t n = (size_t)seer_tensor_numel(t) * seer_dtype_size(t->dtype);
  unsigned sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += p[i];
  (void)sum;
}

static int each(void *ud, const char *name, seer_tensor *t, seer_error *err) {
  (void)ud, (void)name, (void)err;
  touch_all(t);
  seer_tensor_release(t);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  seer_error err = {0};
  if (data[0] % 2 == 0) {
    seer_tensor *t = NULL;
    if (seer_npy_parse(data + 1, size - 1, "fuzz.npy", &t, &err) == 0) {
      touch_all(t);
      seer_tensor_release(t);
    }
    return 0;
  }
  if (!path[0]) {
    snprintf(path, sizeof path, "/tmp/seer-fuzz-npz-%d.npz", (int)getpid());
  }
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1) abort();
  fclose(f);
  seer_npz_load(path, (uint64_t)64 << 20, each, NULL, &err);
  unlink(path);
  return 0;
}
