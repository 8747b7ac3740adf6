/* cublaslt.h: cuBLASLt, dlopen'ed like the driver (runtime/cuda/cublaslt.c), for the prefill GEMMs
 * on a real GPU. One table of entry points; the types and constants seer passes are declared here
 * (tests/c/test_cublaslt_loader.c checks them against cublasLt.h when the toolkit is installed),
 * so a build without the toolkit still has the loader. */
#ifndef SEER_CUDA_CUBLASLT_H
#define SEER_CUDA_CUBLASLT_H

#include <stddef.h>
#include <stdint.h>

#include "dlib.h"

typedef struct seer_lt_heuristic { /* cublasLtMatmulHeuristicResult_t */
  uint64_t algo[8];
  size_t workspace_size;
  int state;
  float waves;
  int reserved[4];
} seer_lt_heuristic;

enum {
  SEER_LT_COMPUTE_32F = 68, /* CUBLAS_COMPUTE_32F: f32 FMA (bf16 inputs: exact products), no TF32 */
  SEER_LT_R_32F = 0,        /* CUDA_R_32F */
  SEER_LT_R_16BF = 14,      /* CUDA_R_16BF */
  SEER_LT_DESC_TRANSA = 3,  /* CUBLASLT_MATMUL_DESC_TRANSA */
  SEER_LT_DESC_TRANSB = 4,  /* CUBLASLT_MATMUL_DESC_TRANSB */
  SEER_LT_OP_N = 0,         /* CUBLAS_OP_N */
  SEER_LT_OP_T = 1,         /* CUBLAS_OP_T */
  SEER_LT_PREF_WORKSPACE = 1, /* CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES */
  /* CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_{A,B,C,D}_BYTES: the heuristic assumes 256 unless told. */
  SEER_LT_PREF_ALIGN_A = 5,
  SEER_LT_PREF_ALIGN_B = 6,
  SEER_LT_PREF_ALIGN_C = 7,
  SEER_LT_PREF_ALIGN_D = 8
};

/* X(field, symbol, return, params): one row per entry point. */
#define SEER_LT_SYMBOLS(X)                                                                         \
  X(get_version, "cublasLtGetVersion", size_t, (void))                                             \
  X(create, "cublasLtCreate", int, (void **h))                                                     \
  X(destroy, "cublasLtDestroy", int, (void *h))                                                    \
  X(desc_create, "cublasLtMatmulDescCreate", int, (void **d, int compute, int scale_type))         \
  X(desc_destroy, "cublasLtMatmulDescDestroy", int, (void *d))                                     \
  X(desc_set, "cublasLtMatmulDescSetAttribute", int,                                               \
    (void *d, int attr, const void *buf, size_t n))                                                \
  X(layout_create, "cublasLtMatrixLayoutCreate", int,                                              \
    (void **l, int type, uint64_t rows, uint64_t cols, int64_t ld))                                \
  X(layout_destroy, "cublasLtMatrixLayoutDestroy", int, (void *l))                                 \
  X(pref_create, "cublasLtMatmulPreferenceCreate", int, (void **p))                                \
  X(pref_destroy, "cublasLtMatmulPreferenceDestroy", int, (void *p))                               \
  X(pref_set, "cublasLtMatmulPreferenceSetAttribute", int,                                         \
    (void *p, int attr, const void *buf, size_t n))                                                \
  X(heuristic, "cublasLtMatmulAlgoGetHeuristic", int,                                              \
    (void *h, void *op, void *a, void *b, void *c, void *d, void *pref, int requested,             \
     seer_lt_heuristic *results, int *returned))                                                   \
  X(matmul, "cublasLtMatmul", int,                                                                 \
    (void *h, void *op, const void *alpha, const void *A, void *Adesc, const void *B, void *Bdesc, \
     const void *beta, const void *C, void *Cdesc, void *D, void *Ddesc, const void *algo,         \
     void *workspace, size_t workspace_size, void *stream))

typedef struct seer_lt_api {
  SEER_LT_SYMBOLS(SEER_DLIB_FIELD)
} seer_lt_api;

typedef enum seer_lt_state {
  SEER_LT_READY = 0,
  SEER_LT_NO_LIBRARY,     /* dlopen failed */
  SEER_LT_NOT_CUBLASLT,   /* no cublasLtGetVersion */
  SEER_LT_OLD,            /* older than the toolkit the kernels were built with */
  SEER_LT_MISSING_SYMBOL, /* an entry point seer needs is absent */
} seer_lt_state;

typedef struct seer_lt_status {
  seer_lt_state state;
  size_t version; /* cublasLtGetVersion(): major*10000 + minor*100 + patch */
  char message[512];
} seer_lt_status;

/* Loads cuBLASLt (library NULL: $SEER_CUBLASLT_LIBRARY, else libcublasLt.so.<the kernels' CUDA
 * major>, else libcublasLt.so) and resolves the table. On READY, *api (when api is not NULL) is
 * valid for the process. Each failure is one sentence in st->message. */
seer_lt_state seer_lt_probe(const char *library, seer_lt_status *st, const seer_lt_api **api);
/* The names of the entry points resolved, NULL-terminated (tests). */
const char *const *seer_lt_symbol_names(void);

#endif
