/* safetensors: a strict mmap reader (single files and sharded model directories) and a streaming
 * writer. Tensors handed out borrow the mapping, which stays alive until the last one is released.
 */
#ifndef SEER_SAFETENSORS_H
#define SEER_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "seer/error.h"
#include "seer/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Headers larger than this are refused before any allocation. */
#define SEER_ST_MAX_HEADER (100u * 1000u * 1000u)

typedef struct seer_safetensors seer_safetensors;

typedef struct seer_st_info {
  const char *name;
  const char *file; /* path of the file that holds it */
  seer_dtype dtype;
  int ndim;
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  size_t nbytes;
} seer_st_info;

/* Opens one .safetensors file, validating the header and every tensor's extent. */
int seer_st_open(const char *path, seer_safetensors **out, seer_error *err);
/* Opens a model directory: model.safetensors.index.json and its shards, or model.safetensors. */
int seer_st_open_dir(const char *dir, seer_safetensors **out, seer_error *err);
void seer_st_close(seer_safetensors *st);

size_t seer_st_count(const seer_safetensors *st);
/* Info for tensor i in [0, count), in file order (shards in index order). */
const seer_st_info *seer_st_info_at(const seer_safetensors *st, size_t i);
const seer_st_info *seer_st_find(const seer_safetensors *st, const char *name);
/* Total bytes of the files opened. */
size_t seer_st_file_bytes(const seer_safetensors *st);
/* A view over the mapped data, or an aligned copy when the file's offsets leave it misaligned.
 * Returns NULL with SEER_EINVAL naming the tensor when it does not exist. */
seer_tensor *seer_st_get(seer_safetensors *st, const char *name, seer_error *err);

/* ---- writing ---- */
typedef struct seer_st_entry {
  const char *name;
  seer_dtype dtype;
  int ndim;
  int64_t shape[SEER_TENSOR_MAX_DIMS];
} seer_st_entry;

/* Produces bytes [offset, offset+nbytes) of tensor i into dst; calls come in file order. */
typedef int (*seer_st_fill_fn)(void *ud, size_t i, size_t offset, void *dst, size_t nbytes,
                               seer_error *err);
/* Writes a safetensors file (header padded to 8 bytes, tensors in the given order) streaming the
 * data in chunks, so files larger than memory can be produced. */
int seer_st_write(const char *path, size_t n, const seer_st_entry *entries, seer_st_fill_fn fill,
                  void *ud, seer_error *err);
/* Writes whole tensors (any strides, any dtype) under the given names. */
int seer_st_save(const char *path, size_t n, const char *const *names,
                 const seer_tensor *const *tensors, seer_error *err);

#ifdef __cplusplus
}
#endif
#endif
