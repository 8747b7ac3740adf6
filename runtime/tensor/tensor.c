/* tensor.c: owns dtypes, storage lifetime, tensor construction, views and element access. */
#include "seer/tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct seer_storage {
  int refcount;
  seer_device device;
  void *data; /* host memory; for a device storage, its host shadow */
  size_t nbytes;
  int owned;
  void (*release)(void *ctx);
  void *release_ctx;
  /* Device storages (seer_storage_new_device): the device copy is the truth; host access goes
   * through the shadow in data, downloaded on first access after a device change (valid) and
   * marked dirty by any access that may write, for seer_storage_device_sync to upload. */
  const seer_storage_device_ops *dops;
  void *dctx;
  uint64_t daddr;
  int valid, dirty, failed;
};

/* ---- dtypes ---- */

size_t seer_dtype_size(seer_dtype dt) {
  switch (dt) {
  case SEER_DTYPE_F32: return 4;
  case SEER_DTYPE_BF16: return 2;
  case SEER_DTYPE_F16: return 2;
  case SEER_DTYPE_I32: return 4;
  case SEER_DTYPE_I64: return 8;
  }
  return 0;
}

const char *seer_dtype_name(seer_dtype dt) {
  switch (dt) {
  case SEER_DTYPE_F32: return "f32";
  case SEER_DTYPE_BF16: return "bf16";
  case SEER_DTYPE_F16: return "f16";
  case SEER_DTYPE_I32: return "i32";
  case SEER_DTYPE_I64: return "i64";
  }
  return "?";
}

int seer_dtype_parse(const char *name, seer_dtype *out) {
  static const struct {
    const char *a, *b;
    seer_dtype dt;
  } names[] = {{"f32", "F32", SEER_DTYPE_F32},
               {"bf16", "BF16", SEER_DTYPE_BF16},
               {"f16", "F16", SEER_DTYPE_F16},
               {"i32", "I32", SEER_DTYPE_I32},
               {"i64", "I64", SEER_DTYPE_I64},
               {"float32", "float", SEER_DTYPE_F32},
               {"bfloat16", "bfloat16", SEER_DTYPE_BF16},
               {"float16", "half", SEER_DTYPE_F16},
               {"int32", "int32", SEER_DTYPE_I32},
               {"int64", "long", SEER_DTYPE_I64}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (strcmp(name, names[i].a) == 0 || strcmp(name, names[i].b) == 0) {
      *out = names[i].dt;
      return 0;
    }
  }
  return SEER_EINVAL;
}

int seer_dtype_is_float(seer_dtype dt) {
  return dt == SEER_DTYPE_F32 || dt == SEER_DTYPE_BF16 || dt == SEER_DTYPE_F16;
}

float seer_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

uint16_t seer_f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

/* IEEE half <-> single in plain C (the library is built for any x86-64; F16C is a run-time level),
 * bit-identical to vcvtph2ps / vcvtps2ph with round-to-nearest-even. */
float seer_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0); /* NaNs come out quiet */
  } else if (exp == 0) {
    float f = ldexpf((float)man, -24); /* zero or subnormal: exact */
    return sign ? -f : f;
  } else {
    u = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}

uint16_t seer_f32_to_f16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((u >> 13) & 0x3ffu)); /* quiet NaN */
  if (u >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504: infinity */
  if (u < 0x38800000u) { /* below 2^-14: subnormal or zero; adding 0.5 rounds at 2^-24, RNE */
    float a, r;
    memcpy(&a, &u, 4);
    r = a + 0.5f;
    uint32_t ru;
    memcpy(&ru, &r, 4);
    return (uint16_t)(sign | (ru - 0x3f000000u));
  }
  u += ((uint32_t)(15 - 127) << 23) + 0xfffu + ((u >> 13) & 1u);
  return (uint16_t)(sign | (u >> 13));
}

/* ---- storage ---- */

seer_storage *seer_storage_new(size_t nbytes, seer_error *err) {
  seer_storage *s = calloc(1, sizeof *s);
  size_t alloc = (nbytes + 63) & ~(size_t)63;
  void *p = NULL;
  if (!s || posix_memalign(&p, 64, alloc ? alloc : 64) != 0) {
    free(s);
    seer_errorf(err, SEER_ENOMEM, "tensor: cannot allocate %zu bytes", nbytes);
    return NULL;
  }
  memset(p, 0, alloc ? alloc : 64);
  s->refcount = 1;
  s->device = SEER_DEVICE_CPU;
  s->data = p;
  s->nbytes = nbytes;
  s->owned = 1;
  return s;
}

seer_storage *seer_storage_wrap(void *data, size_t nbytes, seer_device device,
                                void (*release)(void *ctx), void *ctx, seer_error *err) {
  seer_storage *s = calloc(1, sizeof *s);
  if (!s) {
    seer_errorf(err, SEER_ENOMEM, "tensor: out of memory");
    return NULL;
  }
  s->refcount = 1;
  s->device = device;
  s->data = data;
  s->nbytes = nbytes;
  s->release = release;
  s->release_ctx = ctx;
  return s;
}

void seer_storage_retain(seer_storage *s) {
  if (s) __atomic_add_fetch(&s->refcount, 1, __ATOMIC_RELAXED);
}

void seer_storage_release(seer_storage *s) {
  if (!s || __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  if (s->owned) free(s->data);
  if (s->dops && s->dops->release) s->dops->release(s->dctx, s->daddr);
  if (s->release) s->release(s->release_ctx);
  free(s);
}

/* Host memory of s; for a device storage the shadow, fresh from the device and marked dirty when
 * the caller may write. A failed download leaves zeros and marks the storage failed, which
 * seer_storage_device_sync reports. */
static void *host_data(const seer_storage *cs, int writing) {
  seer_storage *s = (seer_storage *)cs;
  if (!s->dops) return s->data;
  if (!s->valid) {
    if (s->dops->download(s->dctx, s->data, s->daddr, s->nbytes, NULL) != 0) {
      memset(s->data, 0, s->nbytes);
      s->failed = 1;
    }
    s->valid = 1;
  }
  if (writing) s->dirty = 1;
  return s->data;
}

void *seer_storage_data(const seer_storage *s) { return host_data(s, 1); }
const void *seer_storage_data_ro(const seer_storage *s) { return host_data(s, 0); }

seer_storage *seer_storage_new_device(seer_device device, uint64_t addr, size_t nbytes,
                                      const seer_storage_device_ops *ops, void *ctx,
                                      seer_error *err) {
  seer_storage *s = seer_storage_new(nbytes, err);
  if (!s) return NULL;
  s->device = device;
  s->dops = ops;
  s->dctx = ctx;
  s->daddr = addr;
  return s;
}

uint64_t seer_storage_device_addr(const seer_storage *s) { return s->dops ? s->daddr : 0; }
void *seer_storage_device_ctx(const seer_storage *s) { return s->dops ? s->dctx : NULL; }

void seer_storage_device_invalidate(seer_storage *s) {
  if (s && s->dops) s->valid = s->dirty = 0;
}

int seer_storage_device_sync(seer_storage *s, seer_error *err) {
  if (!s || !s->dops) return 0;
  if (s->failed)
    return seer_errorf(err, SEER_EIO, "tensor: copying a device tensor to the host failed");
  if (!s->dirty) return 0;
  int rc = s->dops->upload(s->dctx, s->daddr, s->data, s->nbytes, err);
  if (!rc) s->dirty = 0;
  return rc;
}

int seer_storage_device_detach(seer_storage *s, seer_error *err) {
  if (!s || !s->dops) return 0;
  host_data(s, 0);
  int rc = s->failed
               ? seer_errorf(err, SEER_EIO, "tensor: copying a device tensor to the host failed")
               : 0;
  if (s->dops->release) s->dops->release(s->dctx, s->daddr);
  s->dops = NULL;
  s->dctx = NULL;
  s->daddr = 0;
  s->device = SEER_DEVICE_CPU;
  return rc;
}
size_t seer_storage_nbytes(const seer_storage *s) { return s->nbytes; }
seer_device seer_storage_device(const seer_storage *s) { return s->device; }

static const void *tensor_host_ro(const seer_tensor *t);

/* Whether b, broadcast to a's shape, is an operand the device's elementwise kernels take: f32,
 * contiguous, a's size or a row of a's last dim. */
static int device_operand(const seer_tensor *a, const seer_tensor *b) {
  if (a->dtype != SEER_DTYPE_F32 || b->dtype != SEER_DTYPE_F32 || !seer_tensor_is_contiguous(a) ||
      !seer_tensor_is_contiguous(b))
    return 0;
  int64_t n = seer_tensor_numel(a), m = seer_tensor_numel(b),
          W = a->ndim ? a->shape[a->ndim - 1] : 1;
  int row = m == W && b->ndim >= 1 && b->shape[b->ndim - 1] == W;
  for (int d = 0; row && d < b->ndim - 1; d++)
    row = b->shape[d] == 1;
  return m == n || row; /* other broadcasts: on the host */
}

/* y for an op on dst's device: a scalar (b NULL), b's device memory when b lives in dst's scope
 * (same ctx: the same device; its host writes go up first), else b's host values (downloaded
 * first when b is on another device). */
static int device_operand_of(const seer_storage *dst, const seer_tensor *b, double s,
                             seer_storage_operand *y, seer_error *err) {
  memset(y, 0, sizeof *y);
  y->scalar = s;
  if (!b) return 0;
  seer_storage *bs = b->storage;
  y->n = seer_tensor_numel(b);
  if (bs->dops && bs->dctx == dst->dctx) {
    y->addr = bs->daddr + (uint64_t)b->offset * 4;
    return seer_storage_device_sync(bs, err);
  }
  y->host = (const float *)tensor_host_ro(b);
  return 0;
}

int seer_storage_device_binary_(seer_tensor *a, const seer_tensor *b, double s, int op,
                                seer_error *err) {
  seer_storage *st = a->storage;
  /* b in a's own storage could overlap what the kernel writes: on the host, which copies b. */
  if (!st->dops || !st->dops->binary_ || (b && (b->storage == st || !device_operand(a, b))) ||
      a->dtype != SEER_DTYPE_F32 || !seer_tensor_is_contiguous(a))
    return 1;
  int rc = seer_storage_device_sync(st, err); /* host writes first, in order */
  seer_storage_operand y;
  if (!rc) rc = device_operand_of(st, b, s, &y, err);
  if (rc) return rc;
  rc = st->dops->binary_(st->dctx, st->daddr + (uint64_t)a->offset * 4, seer_tensor_numel(a), &y,
                         op, err);
  seer_storage_device_invalidate(st);
  return rc;
}

/* A device storage's op (has_op: its ops have it) can take t: contiguous, f32, not empty. */
static int device_op_fits(const seer_tensor *t, int has_op) {
  return has_op && t->dtype == SEER_DTYPE_F32 && seer_tensor_is_contiguous(t) &&
         seer_tensor_numel(t) > 0;
}

seer_tensor *seer_storage_device_binary(const seer_tensor *d, const seer_tensor *o, double s,
                                        int op, int swap, int *host, seer_error *err) {
  seer_storage *st = d->storage;
  *host = 1;
  if (!device_op_fits(d, st->dops && st->dops->binary) || (o && !device_operand(d, o))) return NULL;
  *host = 0;
  if (seer_storage_device_sync(st, err)) return NULL; /* host writes first */
  seer_storage_operand y;
  if (device_operand_of(st, o, s, &y, err)) return NULL;
  seer_storage *out = NULL;
  int rc = st->dops->binary(st->dctx, st->daddr + (uint64_t)d->offset * 4, seer_tensor_numel(d), &y,
                            op, swap, &out, err);
  if (rc) return NULL;
  seer_tensor *t = seer_tensor_from_storage(out, 0, SEER_DTYPE_F32, d->ndim, d->shape, NULL, err);
  seer_storage_release(out);
  return t;
}

int seer_storage_device_mean(const seer_tensor *t, int64_t outer, int64_t n, int64_t inner,
                             seer_tensor *out, seer_error *err) {
  seer_storage *s = t->storage;
  if (!device_op_fits(t, s->dops && s->dops->mean) || out->dtype != SEER_DTYPE_F32 ||
      seer_tensor_numel(out) != outer * inner)
    return 1;
  int rc = seer_storage_device_sync(s, err); /* host writes first */
  if (rc) return rc;
  return s->dops->mean(s->dctx, s->daddr + (uint64_t)t->offset * 4, outer, n, inner,
                       seer_tensor_data(out), err);
}

int seer_storage_device_matmul(const seer_tensor *a, int64_t m, int64_t k, const float *bt,
                               int64_t n, seer_tensor *out, seer_error *err) {
  seer_storage *s = a->storage;
  if (!device_op_fits(a, s->dops && s->dops->matmul) || out->dtype != SEER_DTYPE_F32 ||
      seer_tensor_numel(out) != m * n)
    return 1;
  int rc = seer_storage_device_sync(s, err);
  if (rc) return rc;
  return s->dops->matmul(s->dctx, s->daddr + (uint64_t)a->offset * 4, m, k, bt, n,
                         seer_tensor_data(out), err);
}

/* ---- construction ---- */

static int check_shape(int ndim, const int64_t *shape, int64_t *numel, seer_error *err) {
  if (ndim < 0 || ndim > SEER_TENSOR_MAX_DIMS)
    return seer_errorf(err, SEER_EINVAL, "tensor: %d dims given, at most %d are supported", ndim,
                       SEER_TENSOR_MAX_DIMS);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return seer_errorf(err, SEER_EINVAL, "tensor: negative size in dim %d", i);
    if (shape[i] && n > INT64_MAX / 8 / shape[i])
      return seer_errorf(err, SEER_EINVAL, "tensor: shape too large");
    n *= shape[i];
  }
  *numel = n;
  return 0;
}

static void set_contiguous_strides(seer_tensor *t) {
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    t->strides[i] = s;
    s *= t->shape[i];
  }
}

static seer_tensor *tensor_alloc_header(seer_dtype dt, int ndim, const int64_t *shape) {
  seer_tensor *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->dtype = dt;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    t->shape[i] = shape[i];
  set_contiguous_strides(t);
  t->refcount = 1;
  return t;
}

seer_tensor *seer_tensor_new(seer_dtype dt, int ndim, const int64_t *shape, seer_error *err) {
  int64_t n = 0;
  if (check_shape(ndim, shape, &n, err)) return NULL;
  if (!seer_dtype_size(dt)) {
    seer_errorf(err, SEER_EINVAL, "tensor: unknown dtype %d", (int)dt);
    return NULL;
  }
  seer_tensor *t = tensor_alloc_header(dt, ndim, shape);
  if (!t) {
    seer_errorf(err, SEER_ENOMEM, "tensor: out of memory");
    return NULL;
  }
  t->storage = seer_storage_new((size_t)n * seer_dtype_size(dt), err);
  if (!t->storage) {
    free(t);
    return NULL;
  }
  return t;
}

seer_tensor *seer_tensor_from_storage(seer_storage *s, size_t byte_offset, seer_dtype dt, int ndim,
                                      const int64_t *shape, const int64_t *strides,
                                      seer_error *err) {
  int64_t n = 0;
  if (check_shape(ndim, shape, &n, err)) return NULL;
  size_t es = seer_dtype_size(dt);
  if (!es) {
    seer_errorf(err, SEER_EINVAL, "tensor: unknown dtype %d", (int)dt);
    return NULL;
  }
  if (byte_offset % es != 0 || ((uintptr_t)s->data % es) != 0 || (s->daddr % es) != 0) {
    seer_errorf(err, SEER_EINVAL, "tensor: data at byte offset %zu is not aligned for %s",
                byte_offset, seer_dtype_name(dt));
    return NULL;
  }
  seer_tensor *t = tensor_alloc_header(dt, ndim, shape);
  if (!t) {
    seer_errorf(err, SEER_ENOMEM, "tensor: out of memory");
    return NULL;
  }
  if (strides)
    for (int i = 0; i < ndim; i++)
      t->strides[i] = strides[i];
  t->offset = (int64_t)(byte_offset / es);
  /* The furthest element reached must lie inside the storage. */
  int64_t hi = t->offset, lo = t->offset;
  for (int i = 0; i < ndim && n; i++) {
    if (t->strides[i] >= 0)
      hi += t->strides[i] * (shape[i] - 1);
    else
      lo += t->strides[i] * (shape[i] - 1);
  }
  if (n && (lo < 0 || (size_t)(hi + 1) * es > s->nbytes)) {
    free(t);
    seer_errorf(err, SEER_EINVAL, "tensor: view exceeds its storage (%zu bytes)", s->nbytes);
    return NULL;
  }
  seer_storage_retain(s);
  t->storage = s;
  return t;
}

seer_tensor *seer_tensor_from_data(seer_dtype dt, int ndim, const int64_t *shape, const void *data,
                                   seer_dtype src_dt, seer_error *err) {
  seer_tensor *t = seer_tensor_new(dt, ndim, shape, err);
  if (!t) return NULL;
  int64_t n = seer_tensor_numel(t);
  if (dt == src_dt) {
    memcpy(seer_tensor_data(t), data, (size_t)n * seer_dtype_size(dt));
    return t;
  }
  seer_tensor src = *t;
  src.dtype = src_dt;
  src.offset = 0;
  seer_storage tmp = {.refcount = 1,
                      .device = SEER_DEVICE_CPU,
                      .data = (void *)data,
                      .nbytes = (size_t)n * seer_dtype_size(src_dt)};
  src.storage = &tmp;
  for (int64_t i = 0; i < n; i++)
    seer_tensor_set_flat(t, i, seer_tensor_get_flat(&src, i));
  return t;
}

seer_tensor *seer_tensor_full(seer_dtype dt, int ndim, const int64_t *shape, double value,
                              seer_error *err) {
  seer_tensor *t = seer_tensor_new(dt, ndim, shape, err);
  if (!t || value == 0.0) return t;
  int64_t n = seer_tensor_numel(t);
  for (int64_t i = 0; i < n; i++)
    seer_tensor_set_flat(t, i, value);
  return t;
}

seer_tensor *seer_tensor_retain(seer_tensor *t) {
  if (t) __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
  return t;
}

void seer_tensor_release(seer_tensor *t) {
  if (!t || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  seer_storage_release(t->storage);
  free(t);
}

/* ---- inspection ---- */

int64_t seer_tensor_numel(const seer_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

int seer_tensor_is_contiguous(const seer_tensor *t) {
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->strides[i] != s) return 0;
    s *= t->shape[i];
  }
  return 1;
}

seer_device seer_tensor_device(const seer_tensor *t) { return t->storage->device; }

void *seer_tensor_data(const seer_tensor *t) {
  return (char *)host_data(t->storage, 1) + (size_t)t->offset * seer_dtype_size(t->dtype);
}

static const void *tensor_host_ro(const seer_tensor *t) {
  return (const char *)host_data(t->storage, 0) + (size_t)t->offset * seer_dtype_size(t->dtype);
}

static double load_elem(const void *base, seer_dtype dt, int64_t i) {
  switch (dt) {
  case SEER_DTYPE_F32: return ((const float *)base)[i];
  case SEER_DTYPE_BF16: return seer_bf16_to_f32(((const uint16_t *)base)[i]);
  case SEER_DTYPE_F16: return seer_f16_to_f32(((const uint16_t *)base)[i]);
  case SEER_DTYPE_I32: return ((const int32_t *)base)[i];
  case SEER_DTYPE_I64: return (double)((const int64_t *)base)[i];
  }
  return 0;
}

static void store_elem(void *base, seer_dtype dt, int64_t i, double v) {
  switch (dt) {
  case SEER_DTYPE_F32: ((float *)base)[i] = (float)v; break;
  case SEER_DTYPE_BF16: ((uint16_t *)base)[i] = seer_f32_to_bf16((float)v); break;
  case SEER_DTYPE_F16: ((uint16_t *)base)[i] = seer_f32_to_f16((float)v); break;
  case SEER_DTYPE_I32:
    ((int32_t *)base)[i] = isfinite(v) && fabs(v) < 2147483648.0 ? (int32_t)v : 0;
    break;
  case SEER_DTYPE_I64:
    ((int64_t *)base)[i] = isfinite(v) && fabs(v) < 9.2e18 ? (int64_t)v : 0;
    break;
  }
}

static int64_t flat_to_offset(const seer_tensor *t, int64_t i) {
  int64_t off = t->offset;
  for (int d = t->ndim - 1; d >= 0; d--) {
    int64_t n = t->shape[d];
    off += (i % n) * t->strides[d];
    i /= n;
  }
  return off;
}

double seer_tensor_get(const seer_tensor *t, const int64_t *idx) {
  int64_t off = t->offset;
  for (int d = 0; d < t->ndim; d++)
    off += idx[d] * t->strides[d];
  return load_elem(host_data(t->storage, 0), t->dtype, off);
}

void seer_tensor_set(seer_tensor *t, const int64_t *idx, double v) {
  int64_t off = t->offset;
  for (int d = 0; d < t->ndim; d++)
    off += idx[d] * t->strides[d];
  store_elem(host_data(t->storage, 1), t->dtype, off, v);
}

double seer_tensor_get_flat(const seer_tensor *t, int64_t i) {
  return load_elem(host_data(t->storage, 0), t->dtype, flat_to_offset(t, i));
}

void seer_tensor_set_flat(seer_tensor *t, int64_t i, double v) {
  store_elem(host_data(t->storage, 1), t->dtype, flat_to_offset(t, i), v);
}

void seer_tensor_read_f32(const seer_tensor *t, float *out) {
  int64_t n = seer_tensor_numel(t);
  if (t->dtype == SEER_DTYPE_F32 && seer_tensor_is_contiguous(t)) {
    memcpy(out, tensor_host_ro(t), (size_t)n * 4);
    return;
  }
  for (int64_t i = 0; i < n; i++)
    out[i] = (float)seer_tensor_get_flat(t, i);
}

/* ---- views ---- */

static seer_tensor *view_of(seer_tensor *t) {
  seer_tensor *v = malloc(sizeof *v);
  if (!v) return NULL;
  *v = *t;
  v->refcount = 1;
  seer_storage_retain(t->storage);
  return v;
}

seer_tensor *seer_tensor_reshape(seer_tensor *t, int ndim, const int64_t *shape, seer_error *err) {
  int64_t want[SEER_TENSOR_MAX_DIMS], n;
  if (ndim < 0 || ndim > SEER_TENSOR_MAX_DIMS) {
    seer_errorf(err, SEER_EINVAL, "reshape: %d dims given, at most %d are supported", ndim,
                SEER_TENSOR_MAX_DIMS);
    return NULL;
  }
  int infer = -1;
  int64_t known = 1, total = seer_tensor_numel(t);
  for (int i = 0; i < ndim; i++) {
    want[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0) {
        seer_errorf(err, SEER_EINVAL, "reshape: only one dim may be -1");
        return NULL;
      }
      infer = i;
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known > 0) want[infer] = total / known;
  if (check_shape(ndim, want, &n, err)) return NULL;
  if (n != total) {
    seer_errorf(err, SEER_EINVAL, "reshape: cannot view %lld elements as %lld", (long long)total,
                (long long)n);
    return NULL;
  }
  seer_tensor *base = t;
  if (!seer_tensor_is_contiguous(t)) {
    base = seer_tensor_clone(t, err);
    if (!base) return NULL;
  }
  seer_tensor *v = view_of(base);
  if (base != t) seer_tensor_release(base);
  if (!v) {
    seer_errorf(err, SEER_ENOMEM, "tensor: out of memory");
    return NULL;
  }
  v->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    v->shape[i] = want[i];
  set_contiguous_strides(v);
  return v;
}

seer_tensor *seer_tensor_unsqueeze(seer_tensor *t, int dim, seer_error *err) {
  if (t->ndim >= SEER_TENSOR_MAX_DIMS || dim < 0 || dim > t->ndim) {
    seer_errorf(err, SEER_EINVAL, "unsqueeze: dim %d out of range for a %d-D tensor", dim, t->ndim);
    return NULL;
  }
  seer_tensor *v = view_of(t);
  if (!v) {
    seer_errorf(err, SEER_ENOMEM, "tensor: out of memory");
    return NULL;
  }
  for (int i = t->ndim; i > dim; i--) {
    v->shape[i] = t->shape[i - 1];
    v->strides[i] = t->strides[i - 1];
  }
  v->shape[dim] = 1;
  v->strides[dim] = dim < t->ndim ? t->strides[dim] * t->shape[dim] : 1;
  v->ndim = t->ndim + 1;
  return v;
}

seer_tensor *seer_tensor_squeeze(seer_tensor *t, int dim, seer_error *err) {
  if (dim < 0 || dim >= t->ndim || t->shape[dim] != 1) {
    seer_errorf(err, SEER_EINVAL, "squeeze: dim %d is not a size-1 dim", dim);
    return NULL;
  }
  seer_tensor *v = view_of(t);
  if (!v) {
    seer_errorf(err, SEER_ENOMEM, "tensor: out of memory");
    return NULL;
  }
  for (int i = dim; i < t->ndim - 1; i++) {
    v->shape[i] = t->shape[i + 1];
    v->strides[i] = t->strides[i + 1];
  }
  v->ndim = t->ndim - 1;
  return v;
}

seer_tensor *seer_tensor_slice(seer_tensor *t, int dim, int64_t start, int64_t end,
                               seer_error *err) {
  if (dim < 0 || dim >= t->ndim) {
    seer_errorf(err, SEER_EINVAL, "slice: dim %d out of range for a %d-D tensor", dim, t->ndim);
    return NULL;
  }
  if (start < 0 || end > t->shape[dim] || start > end) {
    seer_errorf(err, SEER_EINVAL, "slice: range [%lld, %lld) out of bounds for size %lld",
                (long long)start, (long long)end, (long long)t->shape[dim]);
    return NULL;
  }
  seer_tensor *v = view_of(t);
  if (!v) {
    seer_errorf(err, SEER_ENOMEM, "tensor: out of memory");
    return NULL;
  }
  v->offset += start * t->strides[dim];
  v->shape[dim] = end - start;
  return v;
}

seer_tensor *seer_tensor_select(seer_tensor *t, int64_t i, seer_error *err) {
  if (t->ndim < 1 || i < 0 || i >= t->shape[0]) {
    seer_errorf(err, SEER_EINVAL, "index %lld out of range", (long long)i);
    return NULL;
  }
  seer_tensor *v = view_of(t);
  if (!v) {
    seer_errorf(err, SEER_ENOMEM, "tensor: out of memory");
    return NULL;
  }
  v->offset += i * t->strides[0];
  for (int d = 0; d < t->ndim - 1; d++) {
    v->shape[d] = t->shape[d + 1];
    v->strides[d] = t->strides[d + 1];
  }
  v->ndim = t->ndim - 1;
  return v;
}

seer_tensor *seer_tensor_transpose(seer_tensor *t, int d0, int d1, seer_error *err) {
  if (d0 < 0 || d1 < 0 || d0 >= t->ndim || d1 >= t->ndim) {
    seer_errorf(err, SEER_EINVAL, "transpose: dims out of range");
    return NULL;
  }
  seer_tensor *v = view_of(t);
  if (!v) {
    seer_errorf(err, SEER_ENOMEM, "tensor: out of memory");
    return NULL;
  }
  v->shape[d0] = t->shape[d1];
  v->shape[d1] = t->shape[d0];
  v->strides[d0] = t->strides[d1];
  v->strides[d1] = t->strides[d0];
  return v;
}

/* ---- copies ---- */

seer_tensor *seer_tensor_to(const seer_tensor *t, seer_dtype dt, seer_error *err) {
  seer_tensor *out = seer_tensor_new(dt, t->ndim, t->shape, err);
  if (!out) return NULL;
  int64_t n = seer_tensor_numel(t);
  if (dt == t->dtype && seer_tensor_is_contiguous(t)) {
    memcpy(seer_tensor_data(out), tensor_host_ro(t), (size_t)n * seer_dtype_size(dt));
  } else if (dt == SEER_DTYPE_F32) {
    seer_tensor_read_f32(t, seer_tensor_data(out));
  } else if (dt == t->dtype) {
    /* Byte copies keep every value exact, i64 beyond 2^53 included. */
    size_t es = seer_dtype_size(dt);
    const char *src = host_data(t->storage, 0);
    char *dst = seer_tensor_data(out);
    for (int64_t i = 0; i < n; i++)
      memcpy(dst + (size_t)i * es, src + flat_to_offset(t, i) * es, es);
  } else if (!seer_dtype_is_float(dt) || !seer_dtype_is_float(t->dtype)) {
    for (int64_t i = 0; i < n; i++)
      seer_tensor_set_flat(out, i, seer_tensor_get_flat(t, i));
  } else {
    for (int64_t i = 0; i < n; i++)
      store_elem(seer_tensor_data(out), dt, i, (float)seer_tensor_get_flat(t, i));
  }
  return out;
}

seer_tensor *seer_tensor_clone(const seer_tensor *t, seer_error *err) {
  return seer_tensor_to(t, t->dtype, err);
}
