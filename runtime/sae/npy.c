/* npy.c: owns the strict .npy parser. A .npy file is a magic string, a version, a header that is a
 * Python dict literal ({'descr': '<f4', 'fortran_order': False, 'shape': (64, 256), }) padded with
 * spaces to a newline, then the raw array. The header comes from a download, so it is parsed as a
 * tiny fixed grammar (never evaluated), every number is bounded, and the data must be exactly as
 * long as the shape says. */
#include <stdlib.h>
#include <string.h>

#include "seer/npy.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c reads little-endian arrays by copying; add byte swapping for this target"
#endif

#define NPY_MAX_DIM ((int64_t)1 << 40)

typedef struct hdr {
  const char *p, *end;
  const char *name;
  seer_error *err;
} hdr;

static int bad(hdr *h, const char *what) {
  return seer_errorf(h->err, SEER_EFORMAT,
                     "%s: malformed .npy header (%s); the file is corrupt or not a NumPy array",
                     h->name, what);
}

static void skip_ws(hdr *h) {
  while (h->p < h->end && *h->p == ' ')
    h->p++;
}

/* A quoted string without escapes into out[cap]. */
static int quoted(hdr *h, char *out, size_t cap) {
  if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return bad(h, "expected a quoted string");
  char q = *h->p++;
  size_t n = 0;
  while (h->p < h->end && *h->p != q) {
    if (*h->p == '\\') return bad(h, "escapes in strings are not accepted");
    if (n + 1 >= cap) return bad(h, "string too long");
    out[n++] = *h->p++;
  }
  if (h->p >= h->end) return bad(h, "unterminated string");
  h->p++;
  out[n] = 0;
  return 0;
}

static int literal(hdr *h, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(h->end - h->p) < n || memcmp(h->p, word, n) != 0) return 0;
  h->p += n;
  return 1;
}

static int dim(hdr *h, int64_t *out) {
  if (h->p >= h->end || *h->p < '0' || *h->p > '9') return bad(h, "expected a dimension");
  int64_t v = 0;
  while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
    v = v * 10 + (*h->p++ - '0');
    if (v > NPY_MAX_DIM) return bad(h, "dimension too large");
  }
  *out = v;
  return 0;
}

/* (), (n,), (a, b), (a, b,) ... */
static int shape_tuple(hdr *h, int64_t *shape, int *ndim) {
  if (h->p >= h->end || *h->p != '(') return bad(h, "shape must be a tuple");
  h->p++;
  *ndim = 0;
  int trailing_comma = 0;
  for (;;) {
    skip_ws(h);
    if (h->p < h->end && *h->p == ')') break;
    if (*ndim == SEER_TENSOR_MAX_DIMS)
      return seer_errorf(h->err, SEER_ENOTSUP, "%s: arrays of more than %d dims are not supported",
                         h->name, SEER_TENSOR_MAX_DIMS);
    int rc = dim(h, &shape[(*ndim)++]);
    if (rc) return rc;
    skip_ws(h);
    trailing_comma = 0;
    if (h->p < h->end && *h->p == ',') {
      h->p++;
      trailing_comma = 1;
    } else if (h->p < h->end && *h->p == ')') {
      break;
    } else {
      return bad(h, "expected ',' or ')' in shape");
    }
  }
  h->p++; /* ')' */
  if (*ndim == 1 && !trailing_comma) return bad(h, "a 1-element shape needs its trailing comma");
  return 0;
}

typedef struct descr_kind {
  const char *descr;
  seer_dtype dtype;
  size_t itemsize;
} descr_kind;

/* '<f8' is read and rounded to f32: SAEs and probes never need f64 here, and tensors have no f64.
 */
static const descr_kind kinds[] = {{"<f4", SEER_DTYPE_F32, 4},
                                   {"<f2", SEER_DTYPE_F16, 2},
                                   {"<i4", SEER_DTYPE_I32, 4},
                                   {"<i8", SEER_DTYPE_I64, 8},
                                   {"<f8", SEER_DTYPE_F32, 8}};

int seer_npy_parse(const void *buf, size_t len, const char *name, seer_tensor **out,
                   seer_error *err) {
  *out = NULL;
  const unsigned char *b = buf;
  if (!name) name = "array";
  if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
    return seer_errorf(err, SEER_EFORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", name);
  unsigned major = b[6], minor = b[7];
  size_t hlen, hstart;
  if (major == 1 && minor == 0) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    hstart = 10;
  } else if ((major == 2 || major == 3) && minor == 0) {
    if (len < 12) return seer_errorf(err, SEER_EFORMAT, "%s: truncated .npy header", name);
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    hstart = 12;
  } else {
    return seer_errorf(err, SEER_ENOTSUP,
                       "%s: .npy format version %u.%u is not supported (1.0-3.0)", name, major,
                       minor);
  }
  if (hlen == 0 || hlen > len - hstart)
    return seer_errorf(err, SEER_EFORMAT,
                       "%s: .npy header length %zu runs past the file (%zu bytes)", name, hlen,
                       len);
  hdr h = {(const char *)b + hstart, (const char *)b + hstart + hlen - 1, name, err};
  if (*h.end != '\n') return bad(&h, "it does not end with a newline");
  for (const char *c = h.p; c < h.end; c++)
    if (*c < 0x20 || *c > 0x7e) return bad(&h, "a byte that is not printable ASCII");
  char descr[16] = "";
  int fortran = -1, have_descr = 0, have_shape = 0, ndim = 0, rc;
  int64_t shape[SEER_TENSOR_MAX_DIMS] = {0};
  skip_ws(&h);
  if (h.p >= h.end || *h.p != '{') return bad(&h, "expected '{'");
  h.p++;
  for (;;) {
    skip_ws(&h);
    if (h.p < h.end && *h.p == '}') break;
    char key[32];
    if ((rc = quoted(&h, key, sizeof key))) return rc;
    skip_ws(&h);
    if (h.p >= h.end || *h.p != ':') return bad(&h, "expected ':'");
    h.p++;
    skip_ws(&h);
    if (strcmp(key, "descr") == 0 && !have_descr) {
      if ((rc = quoted(&h, descr, sizeof descr))) return rc;
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0 && fortran < 0) {
      if (literal(&h, "False"))
        fortran = 0;
      else if (literal(&h, "True"))
        fortran = 1;
      else
        return bad(&h, "fortran_order must be True or False");
    } else if (strcmp(key, "shape") == 0 && !have_shape) {
      if ((rc = shape_tuple(&h, shape, &ndim))) return rc;
      have_shape = 1;
    } else {
      return bad(&h, "a key other than descr, fortran_order and shape, or a repeated key");
    }
    skip_ws(&h);
    if (h.p < h.end && *h.p == ',') {
      h.p++;
    } else if (!(h.p < h.end && *h.p == '}')) {
      return bad(&h, "expected ',' or '}'");
    }
  }
  h.p++; /* '}' */
  skip_ws(&h);
  if (h.p != h.end) return bad(&h, "text after the dict");
  if (!have_descr || fortran < 0 || !have_shape)
    return bad(&h, "descr, fortran_order and shape are all required");
  if (fortran)
    return seer_errorf(err, SEER_ENOTSUP,
                       "%s: Fortran-order arrays are not supported; save it with "
                       "np.ascontiguousarray first",
                       name);
  const descr_kind *kind = NULL;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(descr, kinds[i].descr) == 0) kind = &kinds[i];
  if (!kind)
    return seer_errorf(err, SEER_ENOTSUP,
                       "%s: dtype '%s' is not supported (little-endian f4, f2, f8, i4, i8 are)",
                       name, descr);
  uint64_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] != 0 && numel > UINT64_MAX / (uint64_t)shape[i] / kind->itemsize)
      return bad(&h, "the shape overflows");
    numel *= (uint64_t)shape[i];
  }
  size_t data_off = hstart + hlen, have = len - data_off;
  if (numel * kind->itemsize != have)
    return seer_errorf(err, SEER_EFORMAT,
                       "%s: the shape needs %llu bytes of data but the file holds %zu; it is "
                       "truncated or corrupt",
                       name, (unsigned long long)(numel * kind->itemsize), have);
  seer_tensor *t = seer_tensor_new(kind->dtype, ndim, shape, err);
  if (!t) return err ? err->code : SEER_ENOMEM;
  const unsigned char *src = b + data_off;
  if (strcmp(kind->descr, "<f8") == 0) {
    float *d = seer_tensor_data(t);
    for (uint64_t i = 0; i < numel; i++) {
      double v;
      memcpy(&v, src + i * 8, 8);
      d[i] = (float)v;
    }
  } else if (numel) {
    memcpy(seer_tensor_data(t), src, (size_t)numel * kind->itemsize);
  }
  *out = t;
  return 0;
}
