/* fuzz_safetensors.c: the strict safetensors reader on hostile files. The first input byte picks
 * the target: even, the rest is one .safetensors file (seer_st_open); odd, the rest is a
 * model.safetensors.index.json over two valid shards (seer_st_open_dir). Whatever opens is read in
 * full, so an extent the validator let through that lies outside the mapping is caught by ASan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "seer/safetensors.h"
#include "seer/tensor.h"

static char dir[64];

static void write_file(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
}

/* Two shards with two tensors each, as seer_st_save writes them. */
static void make_shards(void) {
  snprintf(dir, sizeof dir, "/tmp/seer-fuzz-st-XXXXXX");
  if (!mkdtemp(dir)) abort();
  seer_error err = {0};
  for (int s = 1; s <= 2; s++) {
    int64_t shape[2] = {2, 3};
    seer_tensor *a = seer_tensor_new(SEER_DTYPE_F32, 2, shape, &err);
    seer_tensor *b = seer_tensor_new(SEER_DTYPE_BF16, 1, shape, &err);
    if (!a || !b) abort();
    char names[2][32], path[128];
    snprintf(names[0], sizeof names[0], "layer.%d.weight", s);
    snprintf(names[1], sizeof names[1], "layer.%d.bias", s);
    const char *n[2] = {names[0], names[1]};
    const seer_tensor *t[2] = {a, b};
    snprintf(path, sizeof path, "%s/model-0000%d-of-00002.safetensors", dir, s);
    if (seer_st_save(path, 2, n, t, &err)) abort();
    seer_tensor_release(a);
    seer_tensor_release(b);
  }
}

static void read_all(seer_safetensors *st) {
  seer_error err = {0};
  for (size_t i = 0; i < seer_st_count(st); i++) {
    const seer_st_info *info = seer_st_info_at(st, i);
    seer_tensor *t = seer_st_get(st, info->name, &err);
    if (!t) continue;
    const volatile unsigned char *p = seer_tensor_data(t);
    unsigned sum = 0;
    for (size_t k = 0; k < info->nbytes; k++)
      sum += p[k];
    (void)sum;
    seer_tensor_release(t);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!dir[0]) make_shards();
  if (size < 1) return 0;
  seer_error err = {0};
  seer_safetensors *st = NULL;
  char path[128];
  if (data[0] % 2 == 0) {
    snprintf(path, sizeof path, "%s/single.safetensors", dir);
    write_file(path, data + 1, size - 1);
    if (seer_st_open(path, &st, &err) == 0) read_all(st);
  } else {
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_file(path, data + 1, size - 1);
    if (seer_st_open_dir(dir, &st, &err) == 0) read_all(st);
    unlink(path);
  }
  seer_st_close(st);
  return 0;
}
