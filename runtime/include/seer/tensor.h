/* Tensors: refcounted, strided views over refcounted storage (owned memory or a borrowed region
 * such as an mmap), with the CPU ops the model engine and the Lua bindings use. Dims are 0-based
 * here. */
#ifndef SEER_TENSOR_H
#define SEER_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "seer/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum seer_dtype {
  SEER_DTYPE_F32 = 0,
  SEER_DTYPE_BF16 = 1,
  SEER_DTYPE_F16 = 2,
  SEER_DTYPE_I32 = 3,
  SEER_DTYPE_I64 = 4
} seer_dtype;

/* The backend seam: every storage lives on one device. A CUDA storage (a device model's hook
 * views) holds a device address; host code reaches its values through a host shadow
 * (seer_storage_new_device). */
typedef enum seer_device { SEER_DEVICE_CPU = 0, SEER_DEVICE_CUDA = 1 } seer_device;

#define SEER_TENSOR_MAX_DIMS 4

typedef struct seer_storage seer_storage;

typedef struct seer_tensor {
  seer_dtype dtype;
  int ndim;
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  int64_t strides[SEER_TENSOR_MAX_DIMS]; /* in elements */
  int64_t offset;                        /* in elements, from the storage start */
  seer_storage *storage;
  int refcount; /* managed by seer_tensor_retain/release */
} seer_tensor;

/* ---- dtypes ---- */
size_t seer_dtype_size(seer_dtype dt);
const char *seer_dtype_name(seer_dtype dt); /* "f32", "bf16", "f16", "i32", "i64" */
/* Accepts the short names above and safetensors' "F32", "BF16", "F16", "I32", "I64". */
int seer_dtype_parse(const char *name, seer_dtype *out);
int seer_dtype_is_float(seer_dtype dt);
float seer_bf16_to_f32(uint16_t h);
uint16_t seer_f32_to_bf16(float f); /* round to nearest even, as torch does */
float seer_f16_to_f32(uint16_t h);
uint16_t seer_f32_to_f16(float f);

/* ---- storage ---- */
/* Owned, zero-filled, 64-byte aligned. */
seer_storage *seer_storage_new(size_t nbytes, seer_error *err);
/* Borrowed memory: release(ctx) runs when the last reference goes (may be NULL). */
seer_storage *seer_storage_wrap(void *data, size_t nbytes, seer_device device,
                                void (*release)(void *ctx), void *ctx, seer_error *err);
void seer_storage_retain(seer_storage *s);
void seer_storage_release(seer_storage *s);
/* Host memory. For a device storage: the shadow, downloaded if the device copy changed since, and
 * marked dirty (the caller may write); seer_storage_data_ro does not mark it. */
void *seer_storage_data(const seer_storage *s);
const void *seer_storage_data_ro(const seer_storage *s);
size_t seer_storage_nbytes(const seer_storage *s);
seer_device seer_storage_device(const seer_storage *s);

/* ---- device storages ---- */
/* The other operand of a device storage's elementwise op: host memory (a steering vector goes up
 * once), memory on the same device (another tensor of the op's scope, read where it is), or a
 * scalar (applied in double, as the host's ops apply it). */
typedef struct seer_storage_operand {
  const float *host; /* n floats of host memory, or NULL */
  uint64_t addr;     /* n floats on the device (when host is NULL); 0 for none */
  int64_t n;         /* the destination's element count, or one row of its last dim */
  double scalar;     /* when host and addr are both unset */
} seer_storage_operand;
/* The device ops' op codes: seer_binop's four, then ones only the device storages take. */
enum {
  SEER_STORAGE_OP_COPY = 4, /* in place: dst = y (copy_, or a fill with a scalar) */
  SEER_STORAGE_OP_ABS = 5,  /* out of place, unary: |x| (y unused) */
  SEER_STORAGE_OP_NEG = 6   /* out of place, unary: -x (y unused) */
};
typedef struct seer_storage_device_ops {
  int (*download)(void *ctx, void *dst, uint64_t src, size_t n, seer_error *err);
  int (*upload)(void *ctx, uint64_t dst, const void *src, size_t n, seer_error *err);
  void (*release)(void *ctx, uint64_t addr); /* frees the device memory (may be NULL) */
  /* dst[i] = dst[i] op y[i % y->n] for i < n, f32, on the device (op a seer_binop or
   * SEER_STORAGE_OP_COPY; may be NULL) */
  int (*binary_)(void *ctx, uint64_t dst, int64_t n, const seer_storage_operand *y, int op,
                 seer_error *err);
  /* out[o][i] = mean over j of src[o][j][i], src a contiguous f32 [outer][n][inner] on the device,
   * out host memory (outer * inner floats); the CPU's in-order double sum (may be NULL). */
  int (*mean)(void *ctx, uint64_t src, int64_t outer, int64_t n, int64_t inner, float *out,
              seer_error *err);
  /* out [m][n] = x [m][k] . w [n][k]^T: x f32 on the device, w and out host memory; 1 when the
   * sizes do not fit the device's kernel (the host computes it). May be NULL. */
  int (*matmul)(void *ctx, uint64_t x, int64_t m, int64_t k, const float *w, int64_t n, float *out,
                seer_error *err);
  /* *out = a new device storage of n f32 on the same device holding x[i] op y[i % y->n]; y op x
   * when swap; |x| or -x for the unary codes; computed as the CPU does. May be NULL. */
  int (*binary)(void *ctx, uint64_t x, int64_t n, const seer_storage_operand *y, int op, int swap,
                seer_storage **out, seer_error *err);
} seer_storage_device_ops;
/* A storage of nbytes at device address addr, with a host shadow of the same size (allocated now,
 * filled on first host access). ops and ctx must outlive it, or it must be detached first. */
seer_storage *seer_storage_new_device(seer_device device, uint64_t addr, size_t nbytes,
                                      const seer_storage_device_ops *ops, void *ctx,
                                      seer_error *err);
uint64_t seer_storage_device_addr(const seer_storage *s); /* 0 for host storages */
void *seer_storage_device_ctx(const seer_storage *s);     /* NULL for host storages */
/* The device copy changed (a kernel wrote it): the next host access downloads it again. */
void seer_storage_device_invalidate(seer_storage *s);
/* Uploads host writes (a dirty shadow); fails if a download had failed. 0 for host storages. */
int seer_storage_device_sync(seer_storage *s, seer_error *err);
/* Turns s into a host storage holding the device copy's values and frees the device memory now:
 * what the owner of the device memory does before it goes, for views that outlive it. */
int seer_storage_device_detach(seer_storage *s, seer_error *err);
/* a = a op b (b NULL: a op s) on the device when it can run there: a a contiguous f32 view of a
 * device storage, b f32 of a's shape or a row of a's last dim (other storage; read where it is when
 * it lives in a's scope). op a seer_binop or SEER_STORAGE_OP_COPY. Returns 1 when it cannot (the
 * caller computes on the host), 0 when done, or an error code. */
int seer_storage_device_binary_(seer_tensor *a, const seer_tensor *b, double s, int op,
                                seer_error *err);
/* d op o (o NULL: d op s; swap: o op d; the unary codes: |d|, -d) as a new device tensor of d's
 * shape, computed where d lives: d a contiguous f32 view of a device storage whose ops have binary,
 * o f32 of d's shape or a row of its last dim (read where it is when it lives in d's scope). NULL
 * with *host set when it cannot run there (the caller computes on the host); NULL with *host clear
 * on an error. */
seer_tensor *seer_storage_device_binary(const seer_tensor *d, const seer_tensor *o, double s,
                                        int op, int swap, int *host, seer_error *err);
/* The device's part of seer_tensor_reduce's mean and seer_tensor_matmul when t (a) is a contiguous
 * f32 view of a device storage whose ops have them: the big operand never leaves the device, the
 * result (a reduction or a projection) comes back into out, a host tensor of the result's shape.
 * Return 1 when they cannot run there (the caller computes on the host), 0 when done, or an error
 * code. mean: t viewed as [outer][n][inner]. matmul: a [m][k] times bt [n][k]^T (host f32). */
int seer_storage_device_mean(const seer_tensor *t, int64_t outer, int64_t n, int64_t inner,
                             seer_tensor *out, seer_error *err);
int seer_storage_device_matmul(const seer_tensor *a, int64_t m, int64_t k, const float *bt,
                               int64_t n, seer_tensor *out, seer_error *err);

/* ---- construction and lifetime ---- */
/* New contiguous zero-filled tensor. ndim may be 0 (a scalar with one element). */
seer_tensor *seer_tensor_new(seer_dtype dt, int ndim, const int64_t *shape, seer_error *err);
/* A view of storage at byte_offset; strides NULL means contiguous. Checks bounds and alignment. */
seer_tensor *seer_tensor_from_storage(seer_storage *s, size_t byte_offset, seer_dtype dt, int ndim,
                                      const int64_t *shape, const int64_t *strides,
                                      seer_error *err);
/* Copies n values from a contiguous C array of dtype src_dt into a new tensor of dtype dt. */
seer_tensor *seer_tensor_from_data(seer_dtype dt, int ndim, const int64_t *shape, const void *data,
                                   seer_dtype src_dt, seer_error *err);
seer_tensor *seer_tensor_full(seer_dtype dt, int ndim, const int64_t *shape, double value,
                              seer_error *err);
/* Standard normal samples. The generator is documented in tensor_rng.c: splitmix64(seed) seeds
 * xoshiro256**, and Box-Muller turns pairs of 53-bit uniforms into normals, so a seed gives the
 * same values on every platform. */
seer_tensor *seer_tensor_randn(seer_dtype dt, int ndim, const int64_t *shape, uint64_t seed,
                               seer_error *err);
seer_tensor *seer_tensor_retain(seer_tensor *t);
void seer_tensor_release(seer_tensor *t);

/* ---- inspection ---- */
int64_t seer_tensor_numel(const seer_tensor *t);
int seer_tensor_is_contiguous(const seer_tensor *t);
seer_device seer_tensor_device(const seer_tensor *t);
/* Pointer to element [0,...,0]. */
void *seer_tensor_data(const seer_tensor *t);
/* Element access by multi-index (ndim entries), converting through double. */
double seer_tensor_get(const seer_tensor *t, const int64_t *idx);
void seer_tensor_set(seer_tensor *t, const int64_t *idx, double v);
/* Element access by flat row-major index over the logical shape. */
double seer_tensor_get_flat(const seer_tensor *t, int64_t i);
void seer_tensor_set_flat(seer_tensor *t, int64_t i, double v);
/* Writes the tensor's values as a contiguous f32 array (n = numel). */
void seer_tensor_read_f32(const seer_tensor *t, float *out);

/* ---- views (share storage) ---- */
seer_tensor *seer_tensor_reshape(seer_tensor *t, int ndim, const int64_t *shape, seer_error *err);
seer_tensor *seer_tensor_unsqueeze(seer_tensor *t, int dim, seer_error *err);
seer_tensor *seer_tensor_squeeze(seer_tensor *t, int dim, seer_error *err);
/* Elements [start, end) along dim. */
seer_tensor *seer_tensor_slice(seer_tensor *t, int dim, int64_t start, int64_t end,
                               seer_error *err);
/* Index i along dim 0, dropping that dim (a 0-D tensor for a 1-D input). */
seer_tensor *seer_tensor_select(seer_tensor *t, int64_t i, seer_error *err);
seer_tensor *seer_tensor_transpose(seer_tensor *t, int d0, int d1, seer_error *err);
/* Dim i of the result is dim perm[i] of t (perm has t->ndim entries). select.c. */
seer_tensor *seer_tensor_permute(seer_tensor *t, const int *perm, seer_error *err);

/* ---- selection by index and mask (select.c; copies) ---- */
/* Entries idx[0..n) (0-based) of t along dim, in that order. */
seer_tensor *seer_tensor_index_select(seer_tensor *t, int dim, const int64_t *idx, int64_t n,
                                      seer_error *err);
/* mask has t's shape or its leading dims; nonzero entries pick elements (a 1-D result) or the
 * sub-tensors they cover ([count, rest of t's dims]), in row-major order. */
seer_tensor *seer_tensor_masked_select(const seer_tensor *t, const seer_tensor *mask,
                                       seer_error *err);
/* t[mask] = v, mask as for masked_select. */
int seer_tensor_masked_fill_(seer_tensor *t, const seer_tensor *mask, double v, seer_error *err);
typedef enum seer_cmpop {
  SEER_CMP_EQ,
  SEER_CMP_NE,
  SEER_CMP_LT,
  SEER_CMP_LE,
  SEER_CMP_GT,
  SEER_CMP_GE
} seer_cmpop;
/* a op b elementwise with numpy broadcasting, or a op s when b is NULL: an i32 mask of 0 and 1
 * (values compared as doubles). */
seer_tensor *seer_tensor_compare(seer_cmpop op, const seer_tensor *a, const seer_tensor *b,
                                 double s, seer_error *err);

/* ---- copies and conversion ---- */
seer_tensor *seer_tensor_clone(const seer_tensor *t, seer_error *err); /* contiguous copy */
seer_tensor *seer_tensor_to(const seer_tensor *t, seer_dtype dt, seer_error *err);
/* dst[...] = src broadcast to dst's shape. */
int seer_tensor_copy_(seer_tensor *dst, const seer_tensor *src, seer_error *err);

/* ---- elementwise (numpy broadcasting; results are f32 unless both inputs share a dtype) ---- */
typedef enum seer_binop { SEER_OP_ADD, SEER_OP_SUB, SEER_OP_MUL, SEER_OP_DIV } seer_binop;
seer_tensor *seer_tensor_binary(seer_binop op, const seer_tensor *a, const seer_tensor *b,
                                seer_error *err);
/* a = a op b, b broadcast to a's shape. */
int seer_tensor_binary_(seer_binop op, seer_tensor *a, const seer_tensor *b, seer_error *err);
/* t op s (or s op t when scalar_first). */
seer_tensor *seer_tensor_binary_scalar(seer_binop op, const seer_tensor *t, double s,
                                       int scalar_first, seer_error *err);
int seer_tensor_binary_scalar_(seer_binop op, seer_tensor *t, double s, seer_error *err);
seer_tensor *seer_tensor_abs(const seer_tensor *t, seer_error *err);
seer_tensor *seer_tensor_neg(const seer_tensor *t, seer_error *err);

/* ---- reductions: dim < 0 reduces over all elements (0-D result) ---- */
typedef enum seer_reduce {
  SEER_REDUCE_SUM,
  SEER_REDUCE_MEAN,
  SEER_REDUCE_MAX,
  SEER_REDUCE_MIN
} seer_reduce;
seer_tensor *seer_tensor_reduce(seer_reduce op, const seer_tensor *t, int dim, int keepdim,
                                seer_error *err);
/* L2 norm over all elements (dim < 0) or along dim. */
seer_tensor *seer_tensor_norm(const seer_tensor *t, int dim, int keepdim, seer_error *err);
/* t / ||t|| along dim (the last dim when dim < 0); zero vectors stay zero. */
seer_tensor *seer_tensor_normalize(const seer_tensor *t, int dim, seer_error *err);

/* ---- products ---- */
int seer_tensor_dot(const seer_tensor *a, const seer_tensor *b, double *out, seer_error *err);
int seer_tensor_cosine(const seer_tensor *a, const seer_tensor *b, double *out, seer_error *err);
/* [M,K]·[K,N], [M,K]·[K], [K]·[K,N] (and [K]·[K] gives a 0-D tensor). f32 result. */
seer_tensor *seer_tensor_matmul(const seer_tensor *a, const seer_tensor *b, seer_error *err);
seer_tensor *seer_tensor_outer(const seer_tensor *a, const seer_tensor *b, seer_error *err);

/* ---- probabilities (along dim; dim < 0 means the last dim) ---- */
seer_tensor *seer_tensor_softmax(const seer_tensor *t, int dim, seer_error *err);
seer_tensor *seer_tensor_log_softmax(const seer_tensor *t, int dim, seer_error *err);
/* Top k along the last dim: values (f32) and indices (i64), largest first, ties by lower index. */
int seer_tensor_topk(const seer_tensor *t, int64_t k, seer_tensor **values, seer_tensor **indices,
                     seer_error *err);
/* Index of the max along dim (i64 tensor), or over all elements when dim < 0 (0-D). */
seer_tensor *seer_tensor_argmax(const seer_tensor *t, int dim, seer_error *err);

/* ---- threads ---- */
/* Threads for the CPU kernels: 0 means nproc (or $SEER_THREADS). Takes effect on the next op. */
void seer_tensor_set_threads(int n);
int seer_tensor_get_threads(void);
/* The instruction-set level of the CPU kernels in use: "generic", "avx2", "avx512", "avx512bf16" or
 * "amx", chosen at first use from CPUID and the OS's XSAVE state, or lowered by $SEER_CPU. */
const char *seer_cpu_level(void);
/* The highest level this CPU and OS support, whatever $SEER_CPU says. */
const char *seer_cpu_level_best(void);

#ifdef __cplusplus
}
#endif
#endif
