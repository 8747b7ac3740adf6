/* ops.c: owns the generic tensor ops: broadcasting elementwise arithmetic, reductions, products,
 * softmax/topk/argmax. They favour clarity over speed; the model engine uses the kernels in cpu.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "seer/tensor.h"

/* ---- broadcasting ---- */

static int bcast_shape(const seer_tensor *a, const seer_tensor *b, int *ndim, int64_t *shape,
                       seer_error *err) {
  int n = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int i = 0; i < n; i++) {
    int ia = a->ndim - n + i, ib = b->ndim - n + i;
    int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
    if (sa != sb && sa != 1 && sb != 1)
      return seer_errorf(err, SEER_EINVAL, "shapes do not broadcast: size %lld vs %lld in dim %d",
                         (long long)sa, (long long)sb, i);
    shape[i] = sa == 1 ? sb : sa;
  }
  *ndim = n;
  return 0;
}

/* Strides of t viewed at the broadcast shape (0 where t is broadcast). */
static void bcast_strides(const seer_tensor *t, int ndim, const int64_t *shape, int64_t *st) {
  for (int i = 0; i < ndim; i++) {
    int it = t->ndim - ndim + i;
    st[i] = (it >= 0 && t->shape[it] == shape[i] && shape[i] != 1) ? t->strides[it] : 0;
  }
}

static double apply(seer_binop op, double x, double y) {
  switch (op) {
  case SEER_OP_ADD: return x + y;
  case SEER_OP_SUB: return x - y;
  case SEER_OP_MUL: return x * y;
  case SEER_OP_DIV: return x / y;
  }
  return 0;
}

/* Walks the broadcast shape, calling out[o] = f(a[ia], b[ib]) through element offsets. */
static void walk2(const seer_tensor *a, const int64_t *sa, const seer_tensor *b, const int64_t *sb,
                  seer_tensor *out, const int64_t *so, int ndim, const int64_t *shape,
                  seer_binop op, int copy_only) {
  int64_t idx[SEER_TENSOR_MAX_DIMS] = {0};
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  for (int64_t e = 0; e < n; e++) {
    int64_t oa = a ? a->offset : 0, ob = b->offset, oo = out->offset;
    for (int d = 0; d < ndim; d++) {
      if (a) oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
      oo += idx[d] * so[d];
    }
    seer_tensor fa, fb, fo;
    /* Element offsets are absolute, so read through 0-D views with the offset applied. */
    fb = *b;
    fb.ndim = 0;
    fb.offset = ob;
    fo = *out;
    fo.ndim = 0;
    fo.offset = oo;
    double y = seer_tensor_get(&fb, NULL), r;
    if (copy_only) {
      r = y;
    } else {
      fa = *a;
      fa.ndim = 0;
      fa.offset = oa;
      r = apply(op, seer_tensor_get(&fa, NULL), y);
    }
    seer_tensor_set(&fo, NULL, r);
    for (int d = ndim - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/* A device operand (a hook's view on a GPU model) of the result's shape keeps the op there: the
 * result is a device tensor. *host: it cannot (the caller computes on the host). */
static seer_tensor *device_binary(seer_binop op, const seer_tensor *a, const seer_tensor *b,
                                  int ndim, const int64_t *shape, int *host, seer_error *err) {
  int swap = seer_tensor_device(a) == SEER_DEVICE_CPU;
  const seer_tensor *d = swap ? b : a, *o = swap ? a : b;
  *host = 1;
  if (seer_tensor_device(d) == SEER_DEVICE_CPU || d->ndim != ndim ||
      memcmp(d->shape, shape, sizeof(int64_t) * (size_t)ndim) != 0)
    return NULL;
  return seer_storage_device_binary(d, o, 0, (int)op, swap, host, err);
}

seer_tensor *seer_tensor_binary(seer_binop op, const seer_tensor *a, const seer_tensor *b,
                                seer_error *err) {
  int ndim, host;
  int64_t shape[SEER_TENSOR_MAX_DIMS], sa[SEER_TENSOR_MAX_DIMS], sb[SEER_TENSOR_MAX_DIMS];
  if (bcast_shape(a, b, &ndim, shape, err)) return NULL;
  seer_tensor *dev = device_binary(op, a, b, ndim, shape, &host, err);
  if (dev || !host) return dev;
  seer_dtype dt = a->dtype == b->dtype ? a->dtype : SEER_DTYPE_F32;
  if (op == SEER_OP_DIV && !seer_dtype_is_float(dt)) dt = SEER_DTYPE_F32;
  seer_tensor *out = seer_tensor_new(dt, ndim, shape, err);
  if (!out) return NULL;
  bcast_strides(a, ndim, shape, sa);
  bcast_strides(b, ndim, shape, sb);
  walk2(a, sa, b, sb, out, out->strides, ndim, shape, op, 0);
  return out;
}

static int check_inplace(const seer_tensor *a, const seer_tensor *b, int64_t *sb, seer_error *err) {
  int ndim;
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  if (bcast_shape(a, b, &ndim, shape, err)) return err ? err->code : SEER_EINVAL;
  if (ndim != a->ndim || memcmp(shape, a->shape, sizeof(int64_t) * (size_t)ndim) != 0)
    return seer_errorf(err, SEER_EINVAL,
                       "in-place op: the right operand must broadcast to the left's shape");
  bcast_strides(b, ndim, shape, sb);
  return 0;
}

int seer_tensor_binary_(seer_binop op, seer_tensor *a, const seer_tensor *b, seer_error *err) {
  int64_t sb[SEER_TENSOR_MAX_DIMS];
  int rc = check_inplace(a, b, sb, err);
  if (rc) return rc;
  /* A device tensor (a hook's view on a GPU model) is changed where it lives when it can be. */
  if ((rc = seer_storage_device_binary_(a, b, 0, (int)op, err)) <= 0) return rc;
  /* b may alias a; copy it first so every element reads the original value. */
  seer_tensor *bc = seer_tensor_clone(b, err);
  if (!bc) return SEER_ENOMEM;
  bcast_strides(bc, a->ndim, a->shape, sb);
  walk2(a, a->strides, bc, sb, a, a->strides, a->ndim, a->shape, op, 0);
  seer_tensor_release(bc);
  return 0;
}

int seer_tensor_copy_(seer_tensor *dst, const seer_tensor *src, seer_error *err) {
  int64_t sb[SEER_TENSOR_MAX_DIMS];
  int rc = check_inplace(dst, src, sb, err);
  if (rc) return rc;
  /* A device tensor (a hook's view on a GPU model) is overwritten where it lives when it can be. */
  if ((rc = seer_storage_device_binary_(dst, src, 0, SEER_STORAGE_OP_COPY, err)) <= 0) return rc;
  seer_tensor *sc = seer_tensor_clone(src, err);
  if (!sc) return SEER_ENOMEM;
  bcast_strides(sc, dst->ndim, dst->shape, sb);
  walk2(NULL, NULL, sc, sb, dst, dst->strides, dst->ndim, dst->shape, SEER_OP_ADD, 1);
  seer_tensor_release(sc);
  return 0;
}

seer_tensor *seer_tensor_binary_scalar(seer_binop op, const seer_tensor *t, double s,
                                       int scalar_first, seer_error *err) {
  int host;
  seer_tensor *dev = seer_storage_device_binary(t, NULL, s, (int)op, scalar_first, &host, err);
  if (dev || !host) return dev;
  seer_dtype dt = seer_dtype_is_float(t->dtype) ? t->dtype : SEER_DTYPE_F32;
  if (!seer_dtype_is_float(t->dtype) && op != SEER_OP_DIV && s == floor(s)) dt = t->dtype;
  seer_tensor *out = seer_tensor_new(dt, t->ndim, t->shape, err);
  if (!out) return NULL;
  int64_t n = seer_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    double x = seer_tensor_get_flat(t, i);
    seer_tensor_set_flat(out, i, scalar_first ? apply(op, s, x) : apply(op, x, s));
  }
  return out;
}

int seer_tensor_binary_scalar_(seer_binop op, seer_tensor *t, double s, seer_error *err) {
  int rc = seer_storage_device_binary_(t, NULL, s, (int)op, err); /* an ablation's t:mul_(0) */
  if (rc <= 0) return rc;
  int64_t n = seer_tensor_numel(t);
  for (int64_t i = 0; i < n; i++)
    seer_tensor_set_flat(t, i, apply(op, seer_tensor_get_flat(t, i), s));
  return 0;
}

/* device_op: the device storages' code for f, which runs there when t is a device tensor. */
static seer_tensor *unary(const seer_tensor *t, double (*f)(double), int device_op,
                          seer_error *err) {
  int host;
  seer_tensor *dev = seer_storage_device_binary(t, NULL, 0, device_op, 0, &host, err);
  if (dev || !host) return dev;
  seer_tensor *out = seer_tensor_new(t->dtype, t->ndim, t->shape, err);
  if (!out) return NULL;
  int64_t n = seer_tensor_numel(t);
  for (int64_t i = 0; i < n; i++)
    seer_tensor_set_flat(out, i, f(seer_tensor_get_flat(t, i)));
  return out;
}

static double neg(double x) { return -x; }
seer_tensor *seer_tensor_abs(const seer_tensor *t, seer_error *err) {
  return unary(t, fabs, SEER_STORAGE_OP_ABS, err);
}
seer_tensor *seer_tensor_neg(const seer_tensor *t, seer_error *err) {
  return unary(t, neg, SEER_STORAGE_OP_NEG, err);
}

/* ---- reductions ---- */

/* Splits t around dim into [outer, n, inner] and calls f on each lane of n values. */
typedef void (*lane_fn)(const double *in, int64_t n, double *out, int64_t *nout, void *ud);

static seer_tensor *map_lanes(const seer_tensor *t, int dim, int keepdim, int64_t nout_fixed,
                              seer_dtype out_dt, lane_fn f, void *ud, seer_error *err) {
  if (dim >= t->ndim) {
    seer_errorf(err, SEER_EINVAL, "dim %d out of range for a %d-D tensor", dim, t->ndim);
    return NULL;
  }
  int64_t total = seer_tensor_numel(t);
  int64_t n, outer = 1, inner = 1;
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  int ndim;
  if (dim < 0) {
    n = total;
    ndim = 0;
  } else {
    n = t->shape[dim];
    for (int i = 0; i < dim; i++)
      outer *= t->shape[i];
    for (int i = dim + 1; i < t->ndim; i++)
      inner *= t->shape[i];
    ndim = 0;
    for (int i = 0; i < t->ndim; i++) {
      if (i != dim)
        shape[ndim++] = t->shape[i];
      else if (keepdim || nout_fixed != 1)
        shape[ndim++] = nout_fixed;
    }
    if (nout_fixed != 1) { /* shape-preserving ops keep dim in place */
      ndim = t->ndim;
      for (int i = 0; i < t->ndim; i++)
        shape[i] = i == dim ? nout_fixed : t->shape[i];
    }
  }
  if (dim < 0 && keepdim) {
    ndim = t->ndim;
    for (int i = 0; i < ndim; i++)
      shape[i] = 1;
  }
  seer_tensor *out = seer_tensor_new(out_dt, ndim, shape, err);
  double *lane = malloc(sizeof(double) * (size_t)(n ? n : 1));
  double *res = malloc(sizeof(double) * (size_t)(nout_fixed ? nout_fixed : 1));
  if (!out || !lane || !res) {
    seer_tensor_release(out);
    free(lane);
    free(res);
    if (out) seer_errorf(err, SEER_ENOMEM, "tensor: out of memory");
    return NULL;
  }
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t in = 0; in < inner; in++) {
      for (int64_t k = 0; k < n; k++)
        lane[k] = seer_tensor_get_flat(t, (o * n + k) * inner + in);
      int64_t nout = nout_fixed;
      f(lane, n, res, &nout, ud);
      for (int64_t k = 0; k < nout; k++)
        seer_tensor_set_flat(out, (o * nout + k) * inner + in, res[k]);
    }
  }
  free(lane);
  free(res);
  return out;
}

static void lane_reduce(const double *in, int64_t n, double *out, int64_t *nout, void *ud) {
  seer_reduce op = *(seer_reduce *)ud;
  double acc = op == SEER_REDUCE_MAX ? -INFINITY : op == SEER_REDUCE_MIN ? INFINITY : 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (op == SEER_REDUCE_MAX)
      acc = in[i] > acc || isnan(in[i]) ? in[i] : acc;
    else if (op == SEER_REDUCE_MIN)
      acc = in[i] < acc || isnan(in[i]) ? in[i] : acc;
    else
      acc += in[i];
  }
  if (op == SEER_REDUCE_MEAN) acc = n ? acc / (double)n : NAN;
  out[0] = acc;
}

/* A mean over a device tensor (a hook's view of a device model's activations) runs where the values
 * are, into a host result of map_lanes' shape; when it cannot, the host does it. */
static seer_tensor *device_mean(const seer_tensor *t, int dim, int keepdim, seer_error *err) {
  seer_reduce op = SEER_REDUCE_MEAN;
  int64_t outer = 1, n = seer_tensor_numel(t), inner = 1, shape[SEER_TENSOR_MAX_DIMS];
  int ndim = 0;
  if (dim >= 0) {
    n = t->shape[dim];
    for (int i = 0; i < t->ndim; i++) {
      if (i < dim) outer *= t->shape[i];
      if (i > dim) inner *= t->shape[i];
      if (i != dim || keepdim) shape[ndim++] = i == dim ? 1 : t->shape[i];
    }
  } else if (keepdim) {
    for (; ndim < t->ndim; ndim++)
      shape[ndim] = 1;
  }
  seer_tensor *out = seer_tensor_new(SEER_DTYPE_F32, ndim, shape, err);
  if (!out) return NULL;
  int rc = seer_storage_device_mean(t, outer, n, inner, out, err);
  if (rc == 1) { /* not on the device: the host's lanes */
    seer_tensor_release(out);
    return map_lanes(t, dim, keepdim, 1, SEER_DTYPE_F32, lane_reduce, &op, err);
  }
  if (rc) {
    seer_tensor_release(out);
    return NULL;
  }
  return out;
}

seer_tensor *seer_tensor_reduce(seer_reduce op, const seer_tensor *t, int dim, int keepdim,
                                seer_error *err) {
  if (dim < 0 && (op == SEER_REDUCE_MAX || op == SEER_REDUCE_MIN) && seer_tensor_numel(t) == 0) {
    seer_errorf(err, SEER_EINVAL, "max/min of an empty tensor");
    return NULL;
  }
  seer_dtype dt = (op == SEER_REDUCE_MAX || op == SEER_REDUCE_MIN) ? t->dtype : SEER_DTYPE_F32;
  if (op == SEER_REDUCE_MEAN && seer_tensor_device(t) != SEER_DEVICE_CPU && dim < t->ndim)
    return device_mean(t, dim, keepdim, err);
  return map_lanes(t, dim, keepdim, 1, dt, lane_reduce, &op, err);
}

static void lane_norm(const double *in, int64_t n, double *out, int64_t *nout, void *ud) {
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += in[i] * in[i];
  out[0] = sqrt(s);
}

seer_tensor *seer_tensor_norm(const seer_tensor *t, int dim, int keepdim, seer_error *err) {
  return map_lanes(t, dim, keepdim, 1, SEER_DTYPE_F32, lane_norm, NULL, err);
}

static void lane_normalize(const double *in, int64_t n, double *out, int64_t *nout, void *ud) {
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += in[i] * in[i];
  s = sqrt(s);
  for (int64_t i = 0; i < n; i++)
    out[i] = s > 0 ? in[i] / s : 0.0;
}

static int last_dim(const seer_tensor *t, int dim) { return dim < 0 ? t->ndim - 1 : dim; }

seer_tensor *seer_tensor_normalize(const seer_tensor *t, int dim, seer_error *err) {
  if (t->ndim == 0) {
    seer_errorf(err, SEER_EINVAL, "normalize: needs at least one dim");
    return NULL;
  }
  dim = last_dim(t, dim);
  return map_lanes(t, dim, 1, t->shape[dim], SEER_DTYPE_F32, lane_normalize, NULL, err);
}

static void lane_softmax(const double *in, int64_t n, double *out, int64_t *nout, void *ud) {
  int logp = *(int *)ud;
  double m = -INFINITY, s = 0;
  for (int64_t i = 0; i < n; i++)
    m = in[i] > m ? in[i] : m;
  for (int64_t i = 0; i < n; i++)
    s += exp(in[i] - m);
  for (int64_t i = 0; i < n; i++)
    out[i] = logp ? in[i] - m - log(s) : exp(in[i] - m) / s;
}

seer_tensor *seer_tensor_softmax(const seer_tensor *t, int dim, seer_error *err) {
  int logp = 0;
  if (t->ndim == 0) {
    seer_errorf(err, SEER_EINVAL, "softmax: needs at least one dim");
    return NULL;
  }
  dim = last_dim(t, dim);
  return map_lanes(t, dim, 1, t->shape[dim], SEER_DTYPE_F32, lane_softmax, &logp, err);
}

seer_tensor *seer_tensor_log_softmax(const seer_tensor *t, int dim, seer_error *err) {
  int logp = 1;
  if (t->ndim == 0) {
    seer_errorf(err, SEER_EINVAL, "log_softmax: needs at least one dim");
    return NULL;
  }
  dim = last_dim(t, dim);
  return map_lanes(t, dim, 1, t->shape[dim], SEER_DTYPE_F32, lane_softmax, &logp, err);
}

static void lane_argmax(const double *in, int64_t n, double *out, int64_t *nout, void *ud) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (in[i] > in[best]) best = i;
  out[0] = (double)best;
}

seer_tensor *seer_tensor_argmax(const seer_tensor *t, int dim, seer_error *err) {
  if (seer_tensor_numel(t) == 0) {
    seer_errorf(err, SEER_EINVAL, "argmax of an empty tensor");
    return NULL;
  }
  return map_lanes(t, dim, 0, 1, SEER_DTYPE_I64, lane_argmax, NULL, err);
}

typedef struct {
  int64_t k;
  int want_idx;
} topk_ud;

static void lane_topk(const double *in, int64_t n, double *out, int64_t *nout, void *ud) {
  const topk_ud *u = ud;
  /* Selection by repeated scans: k is small in practice (sampling, inspection). */
  char *used = calloc((size_t)(n ? n : 1), 1);
  for (int64_t r = 0; r < u->k; r++) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; i++)
      if (!used[i] && (best < 0 || in[i] > in[best])) best = i;
    if (best < 0) break;
    if (used) used[best] = 1;
    out[r] = u->want_idx ? (double)best : in[best];
  }
  free(used);
}

int seer_tensor_topk(const seer_tensor *t, int64_t k, seer_tensor **values, seer_tensor **indices,
                     seer_error *err) {
  if (t->ndim == 0) return seer_errorf(err, SEER_EINVAL, "topk: needs at least one dim");
  int dim = t->ndim - 1;
  if (k < 0 || k > t->shape[dim])
    return seer_errorf(err, SEER_EINVAL, "topk: k=%lld out of range for size %lld", (long long)k,
                       (long long)t->shape[dim]);
  topk_ud uv = {k, 0}, ui = {k, 1};
  *values = map_lanes(t, dim, 1, k, SEER_DTYPE_F32, lane_topk, &uv, err);
  if (!*values) return err ? err->code : SEER_ENOMEM;
  *indices = map_lanes(t, dim, 1, k, SEER_DTYPE_I64, lane_topk, &ui, err);
  if (!*indices) {
    seer_tensor_release(*values);
    *values = NULL;
    return err ? err->code : SEER_ENOMEM;
  }
  return 0;
}

/* ---- products ---- */

int seer_tensor_dot(const seer_tensor *a, const seer_tensor *b, double *out, seer_error *err) {
  int64_t n = seer_tensor_numel(a);
  if (n != seer_tensor_numel(b))
    return seer_errorf(err, SEER_EINVAL, "dot: sizes differ (%lld vs %lld)", (long long)n,
                       (long long)seer_tensor_numel(b));
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += seer_tensor_get_flat(a, i) * seer_tensor_get_flat(b, i);
  *out = s;
  return 0;
}

int seer_tensor_cosine(const seer_tensor *a, const seer_tensor *b, double *out, seer_error *err) {
  double ab, aa, bb;
  int rc = seer_tensor_dot(a, b, &ab, err);
  if (rc) return rc;
  seer_tensor_dot(a, a, &aa, err);
  seer_tensor_dot(b, b, &bb, err);
  *out = (aa > 0 && bb > 0) ? ab / (sqrt(aa) * sqrt(bb)) : 0.0;
  return 0;
}

seer_tensor *seer_tensor_matmul(const seer_tensor *a, const seer_tensor *b, seer_error *err) {
  if (a->ndim < 1 || a->ndim > 2 || b->ndim < 1 || b->ndim > 2) {
    seer_errorf(err, SEER_EINVAL, "matmul: operands must be 1-D or 2-D (got %d-D and %d-D)",
                a->ndim, b->ndim);
    return NULL;
  }
  int64_t M = a->ndim == 2 ? a->shape[0] : 1, K = a->shape[a->ndim - 1];
  int64_t Kb = b->shape[0], N = b->ndim == 2 ? b->shape[1] : 1;
  if (K != Kb) {
    seer_errorf(err, SEER_EINVAL, "matmul: inner sizes differ (%lld vs %lld)", (long long)K,
                (long long)Kb);
    return NULL;
  }
  int64_t shape[2];
  int ndim = 0;
  if (a->ndim == 2) shape[ndim++] = M;
  if (b->ndim == 2) shape[ndim++] = N;
  seer_tensor *out = seer_tensor_new(SEER_DTYPE_F32, ndim, shape, err);
  float *A = malloc(sizeof(float) * (size_t)(M * K + 1));
  float *Bt = malloc(sizeof(float) * (size_t)(N * K + 1));
  if (!out || !A || !Bt) {
    if (out) seer_errorf(err, SEER_ENOMEM, "matmul: out of memory");
    seer_tensor_release(out);
    free(A);
    free(Bt);
    return NULL;
  }
  /* The Linear kernel wants the right operand as rows of length K: transpose b into Bt[N,K]. */
  for (int64_t k = 0; k < K; k++)
    for (int64_t n = 0; n < N; n++) {
      int64_t idx[2] = {k, n};
      Bt[n * K + k] = (float)seer_tensor_get(b, idx);
    }
  /* A device left operand (a hook's activations) stays there: only Bt goes up. */
  int rc = seer_storage_device_matmul(a, M, K, Bt, N, out, err);
  if (rc == 1) {
    seer_tensor_read_f32(a, A);
    seer_cpu_linear(A, M, K, K, Bt, SEER_DTYPE_F32, N, NULL, seer_tensor_data(out), N);
    rc = 0;
  }
  free(A);
  free(Bt);
  if (rc) {
    seer_tensor_release(out);
    return NULL;
  }
  return out;
}

seer_tensor *seer_tensor_outer(const seer_tensor *a, const seer_tensor *b, seer_error *err) {
  int64_t shape[2] = {seer_tensor_numel(a), seer_tensor_numel(b)};
  seer_tensor *out = seer_tensor_new(SEER_DTYPE_F32, 2, shape, err);
  if (!out) return NULL;
  float *o = seer_tensor_data(out);
  for (int64_t i = 0; i < shape[0]; i++) {
    double x = seer_tensor_get_flat(a, i);
    for (int64_t j = 0; j < shape[1]; j++)
      o[i * shape[1] + j] = (float)(x * seer_tensor_get_flat(b, j));
  }
  return out;
}
