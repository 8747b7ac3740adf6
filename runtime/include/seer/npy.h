/* NumPy arrays from hostile files: strict .npy parsing and .npz archives (zip files of .npy
 * members, as np.savez writes them and Gemma Scope ships its SAEs), read with libzip. */
#ifndef SEER_NPY_H
#define SEER_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "seer/error.h"
#include "seer/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parses one whole .npy file held in buf[0..len). Accepted: format versions 1.0, 2.0 and 3.0; a
 * header that is exactly a dict of 'descr', 'fortran_order' and 'shape'; descr '<f4', '<f2',
 * '<i4', '<i8' (kept) or '<f8' (rounded to f32, as nothing here computes in f64); C order; at most
 * SEER_TENSOR_MAX_DIMS dims; data exactly as long as the shape says. name is used in messages. */
int seer_npy_parse(const void *buf, size_t len, const char *name, seer_tensor **out,
                   seer_error *err);

/* Called once per array of an .npz, in archive order; fn takes over t (release it). A non-zero
 * return stops the walk and is returned by seer_npz_load. The name has its ".npy" removed. */
typedef int (*seer_npz_fn)(void *ud, const char *name, seer_tensor *t, seer_error *err);

/* Reads every member of the .npz at path. Members must be stored or deflated .npy files with
 * distinct names; their uncompressed sizes together may not pass max_bytes (what the caller is
 * prepared to hold in memory), checked before anything is inflated. */
int seer_npz_load(const char *path, uint64_t max_bytes, seer_npz_fn fn, void *ud, seer_error *err);

#ifdef __cplusplus
}
#endif
#endif
