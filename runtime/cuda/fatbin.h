/* fatbin.h: the kernels nvcc compiled at build time, embedded by cmake/cuda_embed.cmake into a
 * generated C file (one fatbin per runtime/cuda/kernels/<name>.cu). A build without nvcc generates
 * an empty table. */
#ifndef SEER_CUDA_FATBIN_H
#define SEER_CUDA_FATBIN_H

#include <stddef.h>

typedef struct seer_cuda_fatbin {
  const char *name; /* the .cu file's stem */
  const unsigned char *data;
  size_t size;
} seer_cuda_fatbin;

extern const seer_cuda_fatbin seer_cuda_fatbins[]; /* ends with a {NULL, NULL, 0} row */
extern const char *const seer_cuda_fatbin_arches;  /* NULL without nvcc */
extern const int seer_cuda_fatbin_toolkit_version; /* e.g. 13000; 0 without nvcc */

#endif
