/* select.c: picking parts of a tensor by position, index list or mask, and the comparisons that
 * make masks: permute (a view), index_select, masked_select, masked_fill_ and compare. Written on
 * the public tensor API (views, copy_, element access), so they work for every dtype and for
 * strided inputs; they are for analysis code, not the engine's hot path. */
#include <string.h>

#include "seer/tensor.h"

/* A view sharing t's storage, with t's shape and strides (transposing a dim with itself). */
static seer_tensor *same_view(seer_tensor *t, seer_error *err) {
  if (t->ndim == 0) return seer_tensor_reshape(t, 0, NULL, err);
  return seer_tensor_transpose(t, 0, 0, err);
}

seer_tensor *seer_tensor_permute(seer_tensor *t, const int *perm, seer_error *err) {
  int seen[SEER_TENSOR_MAX_DIMS] = {0};
  for (int i = 0; i < t->ndim; i++) {
    if (perm[i] < 0 || perm[i] >= t->ndim || seen[perm[i]]) {
      seer_errorf(err, SEER_EINVAL, "permute: the dims must be a permutation of 0..%d",
                  t->ndim - 1);
      return NULL;
    }
    seen[perm[i]] = 1;
  }
  seer_tensor *v = same_view(t, err);
  if (!v) return NULL;
  for (int i = 0; i < t->ndim; i++) {
    v->shape[i] = t->shape[perm[i]];
    v->strides[i] = t->strides[perm[i]];
  }
  return v;
}

seer_tensor *seer_tensor_index_select(seer_tensor *t, int dim, const int64_t *idx, int64_t n,
                                      seer_error *err) {
  if (dim < 0 || dim >= t->ndim) {
    seer_errorf(err, SEER_EINVAL, "index_select: dim %d out of range for %d dims", dim, t->ndim);
    return NULL;
  }
  for (int64_t k = 0; k < n; k++)
    if (idx[k] < 0 || idx[k] >= t->shape[dim]) {
      seer_errorf(err, SEER_EINVAL, "index_select: index %lld out of range for size %lld",
                  (long long)idx[k], (long long)t->shape[dim]);
      return NULL;
    }
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  memcpy(shape, t->shape, sizeof shape);
  shape[dim] = n;
  seer_tensor *out = seer_tensor_new(t->dtype, t->ndim, shape, err);
  if (!out) return NULL;
  for (int64_t k = 0; k < n; k++) {
    seer_tensor *src = seer_tensor_slice(t, dim, idx[k], idx[k] + 1, err);
    seer_tensor *dst = src ? seer_tensor_slice(out, dim, k, k + 1, err) : NULL;
    int rc = dst ? seer_tensor_copy_(dst, src, err) : -1;
    seer_tensor_release(src);
    seer_tensor_release(dst);
    if (rc) {
      seer_tensor_release(out);
      return NULL;
    }
  }
  return out;
}

/* The mask must have t's leading dims (all of them, or fewer); *inner is the number of elements
 * of t each mask entry covers. */
static int check_mask(const char *fn, const seer_tensor *t, const seer_tensor *mask, int64_t *inner,
                      seer_error *err) {
  int ok = mask->ndim >= 1 && mask->ndim <= t->ndim;
  for (int i = 0; ok && i < mask->ndim; i++)
    ok = mask->shape[i] == t->shape[i];
  if (!ok)
    return seer_errorf(err, SEER_EINVAL,
                       "%s: the mask's shape must be the tensor's shape or its leading dims", fn);
  *inner = 1;
  for (int i = mask->ndim; i < t->ndim; i++)
    *inner *= t->shape[i];
  return 0;
}

seer_tensor *seer_tensor_masked_select(const seer_tensor *t, const seer_tensor *mask,
                                       seer_error *err) {
  int64_t inner, count = 0, lead = seer_tensor_numel(mask);
  if (check_mask("masked_select", t, mask, &inner, err)) return NULL;
  for (int64_t i = 0; i < lead; i++)
    count += seer_tensor_get_flat(mask, i) != 0;
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  int ndim = 1 + t->ndim - mask->ndim;
  shape[0] = count;
  for (int i = mask->ndim; i < t->ndim; i++)
    shape[1 + i - mask->ndim] = t->shape[i];
  seer_tensor *out = seer_tensor_new(t->dtype, ndim, shape, err);
  if (!out) return NULL;
  seer_tensor *c = seer_tensor_clone(t, err); /* contiguous, so each entry's block is a run */
  if (!c) {
    seer_tensor_release(out);
    return NULL;
  }
  size_t block = (size_t)inner * seer_dtype_size(t->dtype);
  const char *src = seer_tensor_data(c);
  char *dst = seer_tensor_data(out);
  for (int64_t i = 0; i < lead; i++)
    if (seer_tensor_get_flat(mask, i) != 0) {
      memcpy(dst, src + (size_t)i * block, block);
      dst += block;
    }
  seer_tensor_release(c);
  return out;
}

int seer_tensor_masked_fill_(seer_tensor *t, const seer_tensor *mask, double v, seer_error *err) {
  int64_t inner;
  int rc = check_mask("masked_fill_", t, mask, &inner, err);
  if (rc) return rc;
  int64_t lead = seer_tensor_numel(mask);
  for (int64_t i = 0; i < lead; i++)
    if (seer_tensor_get_flat(mask, i) != 0)
      for (int64_t j = 0; j < inner; j++)
        seer_tensor_set_flat(t, i * inner + j, v);
  return 0;
}

static int cmp(seer_cmpop op, double a, double b) {
  switch (op) {
  case SEER_CMP_EQ: return a == b;
  case SEER_CMP_NE: return a != b;
  case SEER_CMP_LT: return a < b;
  case SEER_CMP_LE: return a <= b;
  case SEER_CMP_GT: return a > b;
  case SEER_CMP_GE: return a >= b;
  }
  return 0;
}

/* Element of x at out's multi-index idx under numpy broadcasting (x's dims align to the right). */
static double bcast_get(const seer_tensor *x, int out_ndim, const int64_t *idx) {
  int64_t xi[SEER_TENSOR_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) {
    int od = out_ndim - x->ndim + d;
    xi[d] = x->shape[d] == 1 ? 0 : idx[od];
  }
  return seer_tensor_get(x, xi);
}

seer_tensor *seer_tensor_compare(seer_cmpop op, const seer_tensor *a, const seer_tensor *b,
                                 double s, seer_error *err) {
  int ndim = a->ndim;
  int64_t shape[SEER_TENSOR_MAX_DIMS];
  memcpy(shape, a->shape, sizeof shape);
  if (b) {
    ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < ndim; d++) {
      int ia = d - (ndim - a->ndim), ib = d - (ndim - b->ndim);
      int64_t na = ia >= 0 ? a->shape[ia] : 1, nb = ib >= 0 ? b->shape[ib] : 1;
      if (na != nb && na != 1 && nb != 1) {
        seer_errorf(err, SEER_EINVAL, "compare: shapes do not broadcast (dim %d: %lld vs %lld)",
                    d + 1, (long long)na, (long long)nb);
        return NULL;
      }
      shape[d] = na == 1 ? nb : na;
    }
  }
  seer_tensor *out = seer_tensor_new(SEER_DTYPE_I32, ndim, shape, err);
  if (!out) return NULL;
  int32_t *o = seer_tensor_data(out);
  int64_t n = seer_tensor_numel(out), idx[SEER_TENSOR_MAX_DIMS] = {0};
  for (int64_t i = 0; i < n; i++) {
    int64_t r = i;
    for (int d = ndim - 1; d >= 0; d--) {
      idx[d] = r % shape[d];
      r /= shape[d];
    }
    double x = bcast_get(a, ndim, idx), y = b ? bcast_get(b, ndim, idx) : s;
    o[i] = cmp(op, x, y);
  }
  return out;
}
