/* seer/cuda.h: whether this build and this machine can run the engine on an NVIDIA GPU.
 * The driver is dlopen'ed (never linked); the kernels are a fatbin embedded at build time when nvcc
 * was found. Every failure is one sentence a user can act on (seer-lua doctor prints it). */
#ifndef SEER_CUDA_H
#define SEER_CUDA_H

#include <stddef.h>

typedef enum seer_cuda_state {
  SEER_CUDA_READY = 0,       /* driver loaded, at least one device, kernels embedded */
  SEER_CUDA_NO_LIBRARY,      /* dlopen(libcuda.so.1) failed: no NVIDIA driver installed */
  SEER_CUDA_NOT_A_DRIVER,    /* the library has no cuDriverGetVersion */
  SEER_CUDA_STUB_LIBRARY,    /* the toolkit's link stub was found instead of the driver */
  SEER_CUDA_OLD_DRIVER,      /* the driver's CUDA version is below what the kernels need */
  SEER_CUDA_MISSING_SYMBOL,  /* a driver entry point seer needs is absent */
  SEER_CUDA_INIT_FAILED,     /* cuInit failed for another reason */
  SEER_CUDA_NO_DEVICE,       /* the driver sees no GPU */
  SEER_CUDA_NO_KERNELS,      /* this build was made without nvcc: CPU only */
  SEER_CUDA_BAD_DEVICE_INDEX /* device_index is past the devices the driver sees */
} seer_cuda_state;

typedef struct seer_cuda_status {
  seer_cuda_state state;
  int driver_version;   /* e.g. 13000 for CUDA 13.0; 0 when unknown */
  int required_version; /* the least driver version the embedded kernels run on; 0 when none */
  int device_count;
  char device_name[128]; /* of the probed device_index */
  int cc_major, cc_minor;
  size_t total_mem;
  char message[512]; /* one sentence: what was found, or what is missing and what to do */
} seer_cuda_status;

/* Probe the driver (path NULL: $SEER_CUDA_LIBRARY, else libcuda.so.1) and device `device_index`.
 * Returns st->state. Each call re-probes; on success the loaded table stays for the process. */
seer_cuda_state seer_cuda_probe(const char *library, int device_index, seer_cuda_status *st);

/* Where the driver library is (library NULL: found as seer_cuda_probe finds it), as a real path in
 * out, for binding it into GPU sandboxes. Returns 0, or -1 with one
 * sentence in why. Loads the library but runs none of it beyond its constructors. */
int seer_cuda_library_path(const char *library, char *out, size_t n, char *why, size_t why_n);

/* Whether cuBLASLt loads (for the prefill GEMMs on a GPU), with one sentence in msg: its version,
 * or what is missing. Returns 1 when it does. */
int seer_cuda_cublaslt_describe(char *msg, size_t n);

/* The kernels embedded in this build: the arches of their SASS and PTX ("sm_80 ... + compute_80"),
 * or NULL when the build had no nvcc. */
const char *seer_cuda_kernel_arches(void);
/* The CUDA toolkit version the kernels were built with (e.g. 13000), 0 without kernels. */
int seer_cuda_build_version(void);

/* Names of the driver entry points the loader resolves, NULL-terminated (for tests and doctor). */
const char *const *seer_cuda_symbol_names(void);

#endif
