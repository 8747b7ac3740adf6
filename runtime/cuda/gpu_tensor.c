/* gpu_tensor.c: device storages of a seer_gpu's memory (gpu.h: seer_gpu_storage_ops, and a forward
 * call's seer_gpu_scope), what hooks on a device model get: copies through the GPU's staging, and
 * the ops a steering, ablation or probing hook reaches for running where the activations are.
 * In-place elementwise ops (add_ sub_ mul_ div_ with a tensor or a scalar, copy_) change the device
 * copy; out-of-place ones (+ - * /, abs, neg) make a device tensor of the scope; a second operand
 * of the same scope is read where it is; mean and matmul leave the operand there and bring back
 * only their (small) result. */
#include <stdlib.h>

#include "gpu.h"

static int storage_download(void *ctx, void *dst, uint64_t src, size_t n, seer_error *err) {
  return seer_gpu_download(ctx, dst, src, n, err);
}
static int storage_upload(void *ctx, uint64_t dst, const void *src, size_t n, seer_error *err) {
  return seer_gpu_upload(ctx, dst, src, n, err);
}
static void storage_release(void *ctx, uint64_t addr) { seer_gpu_free(ctx, addr); }

/* Grid-stride kernels: enough blocks for n, at most 4096. */
static unsigned stride_blocks(int64_t n) {
  int64_t b = (n + SEER_ELT_THREADS - 1) / SEER_ELT_THREADS;
  return (unsigned)(b < 1 ? 1 : b > 4096 ? 4096 : b);
}

/* y's values on the device: host memory goes up once into *tmp (a steering vector: one row; the
 * caller frees it once the launch that reads it is done), device memory is read where it is, a
 * scalar has none (NULL). */
static int operand_on_device(seer_gpu *g, const seer_storage_operand *y, const float **dy,
                             uint64_t *tmp, seer_error *err) {
  *dy = NULL;
  *tmp = 0;
  if (y->addr) *dy = (const float *)(uintptr_t)y->addr;
  if (!y->host) return 0;
  size_t bytes = sizeof(float) * (size_t)y->n;
  int rc = seer_gpu_alloc(g, bytes, tmp, err);
  if (!rc) rc = seer_gpu_upload(g, *tmp, y->host, bytes, err);
  *dy = (const float *)(uintptr_t)*tmp;
  return rc;
}

/* A launch that read a temporary operand is waited for before the memory goes back. */
static int free_operand(seer_gpu *g, uint64_t tmp, int rc, seer_error *err) {
  if (!tmp) return rc;
  if (!rc) rc = seer_gpu_sync(g, err);
  seer_gpu_free(g, tmp);
  return rc;
}

static int storage_binary(void *ctx, uint64_t dst, int64_t n, const seer_storage_operand *y, int op,
                          seer_error *err) {
  seer_gpu *g = ctx;
  const float *dy;
  uint64_t tmp;
  int rc = operand_on_device(g, y, &dy, &tmp, err);
  struct seer_k_binary_rows_args a = {(float *)(uintptr_t)dst, dy, n, y->n, y->scalar, op};
  if (!rc)
    rc = seer_gpu_launch(g, SEER_GPU_seer_k_binary_rows, stride_blocks(n), 1, 1, SEER_ELT_THREADS,
                         0, &a, err);
  return free_operand(g, tmp, rc, err);
}

static int storage_mean(void *ctx, uint64_t src, int64_t outer, int64_t n, int64_t inner,
                        float *out, seer_error *err) {
  seer_gpu *g = ctx;
  int64_t lanes = outer * inner;
  uint64_t dout = 0;
  int rc = seer_gpu_alloc(g, sizeof(float) * (size_t)lanes, &dout, err);
  struct seer_k_mean_lanes_args a = {(const float *)(uintptr_t)src, (float *)(uintptr_t)dout, outer,
                                     n, inner};
  if (!rc)
    rc = seer_gpu_launch(g, SEER_GPU_seer_k_mean_lanes, stride_blocks(lanes), 1, 1,
                         SEER_ELT_THREADS, 0, &a, err);
  if (!rc) rc = seer_gpu_download(g, out, dout, sizeof(float) * (size_t)lanes, err);
  seer_gpu_free(g, dout);
  return rc;
}

/* x [m][k] . w [n][k]^T through the decode GEMV with f32 weights: w (a probe or a few directions)
 * goes up, the product comes back. */
static int storage_matmul(void *ctx, uint64_t x, int64_t m, int64_t k, const float *w, int64_t n,
                          float *out, seer_error *err) {
  seer_gpu *g = ctx;
  /* the GEMV's grid and int sizes */
  if (seer_gemv_grid_y(m) > 65535 || k > INT32_MAX || n > INT32_MAX) return 1;
  uint64_t dw = 0, dy = 0;
  int rc = seer_gpu_alloc(g, sizeof(float) * (size_t)(n * k), &dw, err);
  if (!rc) rc = seer_gpu_alloc(g, sizeof(float) * (size_t)(m * n), &dy, err);
  if (!rc) rc = seer_gpu_upload(g, dw, w, sizeof(float) * (size_t)(n * k), err);
  struct seer_k_gemv_args a = {(const void *)(uintptr_t)dw,
                               (const float *)(uintptr_t)x,
                               NULL,
                               (float *)(uintptr_t)dy,
                               (int)n,
                               (int)k,
                               (int)m,
                               SEER_W_F32};
  if (!rc)
    rc = seer_gpu_launch(g, SEER_GPU_seer_k_gemv,
                         (unsigned)((n + SEER_GEMV_THREADS / 32 - 1) / (SEER_GEMV_THREADS / 32)),
                         (unsigned)seer_gemv_grid_y(m), 1, SEER_GEMV_THREADS, 0, &a, err);
  if (!rc) rc = seer_gpu_download(g, out, dy, sizeof(float) * (size_t)(m * n), err);
  seer_gpu_free(g, dy);
  seer_gpu_free(g, dw);
  return rc;
}

_Static_assert((int)SEER_OP_ADD == SEER_BIN_ADD && (int)SEER_OP_SUB == SEER_BIN_SUB &&
                   (int)SEER_OP_MUL == SEER_BIN_MUL && (int)SEER_OP_DIV == SEER_BIN_DIV &&
                   (int)SEER_STORAGE_OP_COPY == SEER_BIN_COPY &&
                   (int)SEER_STORAGE_OP_ABS == SEER_BIN_ABS &&
                   (int)SEER_STORAGE_OP_NEG == SEER_BIN_NEG,
               "the elementwise kernels take seer_binop's and the device storages' codes");

/* No out-of-place ops here: nothing would turn their results into host copies before the GPU goes
 * (seer_gpu_scope's storages have them). */
const seer_storage_device_ops *seer_gpu_storage_ops(void) {
  static const seer_storage_device_ops ops = {storage_download,
                                              storage_upload,
                                              storage_release,
                                              storage_binary,
                                              storage_mean,
                                              storage_matmul,
                                              NULL};
  return &ops;
}

/* ---- a forward call's device tensors ---- */

/* The storages of one scope have it as their ctx: views over memory its owner keeps (release
 * leaves it) and the results of out-of-place ops (memory of their own, freed with them), which the
 * scope tracks so that its end can turn the ones still held into host copies. */
struct seer_gpu_scope {
  seer_gpu *g;
  seer_storage **made; /* one reference each */
  size_t n, cap;
};

static int scope_download(void *ctx, void *dst, uint64_t src, size_t n, seer_error *err) {
  return storage_download(((seer_gpu_scope *)ctx)->g, dst, src, n, err);
}
static int scope_upload(void *ctx, uint64_t dst, const void *src, size_t n, seer_error *err) {
  return storage_upload(((seer_gpu_scope *)ctx)->g, dst, src, n, err);
}
static void scope_release(void *ctx, uint64_t addr) {
  storage_release(((seer_gpu_scope *)ctx)->g, addr);
}
static int scope_binary_(void *ctx, uint64_t dst, int64_t n, const seer_storage_operand *y, int op,
                         seer_error *err) {
  return storage_binary(((seer_gpu_scope *)ctx)->g, dst, n, y, op, err);
}
static int scope_mean(void *ctx, uint64_t src, int64_t outer, int64_t n, int64_t inner, float *out,
                      seer_error *err) {
  return storage_mean(((seer_gpu_scope *)ctx)->g, src, outer, n, inner, out, err);
}
static int scope_matmul(void *ctx, uint64_t x, int64_t m, int64_t k, const float *w, int64_t n,
                        float *out, seer_error *err) {
  return storage_matmul(((seer_gpu_scope *)ctx)->g, x, m, k, w, n, out, err);
}
static int scope_binary(void *ctx, uint64_t x, int64_t n, const seer_storage_operand *y, int op,
                        int swap, seer_storage **out, seer_error *err);

static const seer_storage_device_ops scope_view_ops = {
    scope_download, scope_upload, NULL, scope_binary_, scope_mean, scope_matmul, scope_binary};
static const seer_storage_device_ops scope_result_ops = {
    scope_download, scope_upload, scope_release, scope_binary_,
    scope_mean,     scope_matmul, scope_binary};

/* The result goes into memory of its own; y is read where it is, goes up once from the host (a
 * steering vector), or is a scalar. */
static int scope_binary(void *ctx, uint64_t x, int64_t n, const seer_storage_operand *y, int op,
                        int swap, seer_storage **out, seer_error *err) {
  seer_gpu_scope *sc = ctx;
  seer_gpu *g = sc->g;
  *out = NULL;
  if (sc->n == sc->cap) {
    size_t cap = sc->cap ? 2 * sc->cap : 8;
    seer_storage **m = realloc(sc->made, cap * sizeof *m);
    if (!m) return seer_errorf(err, SEER_ENOMEM, "cuda: out of memory");
    sc->made = m, sc->cap = cap;
  }
  uint64_t dout = 0, tmp = 0;
  const float *dy = NULL;
  int rc = seer_gpu_alloc(g, sizeof(float) * (size_t)n, &dout, err);
  if (!rc) rc = operand_on_device(g, y, &dy, &tmp, err);
  struct seer_k_binary_out_args a = {
      (const float *)(uintptr_t)x, dy, (float *)(uintptr_t)dout, n, y->n, y->scalar, op, swap};
  if (!rc)
    rc = seer_gpu_launch(g, SEER_GPU_seer_k_binary_out, stride_blocks(n), 1, 1, SEER_ELT_THREADS, 0,
                         &a, err);
  rc = free_operand(g, tmp, rc, err);
  if (!rc && !(*out = seer_storage_new_device(SEER_DEVICE_CUDA, dout, sizeof(float) * (size_t)n,
                                              &scope_result_ops, sc, err)))
    rc = err ? err->code : SEER_ENOMEM;
  if (rc) {
    seer_gpu_free(g, dout);
    return rc;
  }
  seer_storage_retain(*out);
  sc->made[sc->n++] = *out;
  return 0;
}

seer_gpu_scope *seer_gpu_scope_new(seer_gpu *g, seer_error *err) {
  seer_gpu_scope *s = calloc(1, sizeof *s);
  if (!s) seer_errorf(err, SEER_ENOMEM, "cuda: out of memory");
  if (s) s->g = g;
  return s;
}

seer_storage *seer_gpu_scope_view(seer_gpu_scope *s, uint64_t addr, size_t nbytes,
                                  seer_error *err) {
  return seer_storage_new_device(SEER_DEVICE_CUDA, addr, nbytes, &scope_view_ops, s, err);
}

int seer_gpu_scope_end(seer_gpu_scope *s, seer_error *err) {
  if (!s) return 0;
  int rc = 0;
  for (size_t i = 0; i < s->n; i++) {
    int drc = seer_storage_device_detach(s->made[i], rc ? NULL : err);
    if (!rc) rc = drc;
    seer_storage_release(s->made[i]);
  }
  free(s->made);
  free(s);
  return rc;
}
