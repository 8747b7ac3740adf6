/* Device tensors (seer_storage_new_device over seer_gpu_storage_ops) on the grid emulator: host
 * reads download lazily, host writes go back before a device op, and in-place ops with a
 * same-shaped or row-broadcast operand run as a kernel (the launch count says so) with the host's
 * values; other broadcasts fall back to the host. Out-of-place ops on a scope's views (what a
 * device model's hooks get) give device tensors with the host's values bit for bit, host copies
 * once the scope ends. mean equals the CPU's bit for bit along every dim, matmul agrees with it to
 * f32 rounding, both as kernels. Ablations' in-place scalar ops, copy_, abs and neg run there too,
 * and an operand of the same scope is read in place. Copies go through staging buffers made tiny
 * here, so every copy is chunked. What hooks on a device model get. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gpu.h"

static seer_gpu *g;

/* A [2][3][4] device tensor holding 0.5 * i. */
static seer_tensor *device_tensor(seer_storage **st) {
  seer_error err = {0};
  uint64_t p = 0;
  float host[24];
  for (int i = 0; i < 24; i++)
    host[i] = 0.5f * (float)i;
  CHECK(seer_gpu_alloc(g, sizeof host, &p, &err) == 0);
  CHECK(seer_gpu_upload(g, p, host, sizeof host, &err) == 0);
  *st = seer_storage_new_device(SEER_DEVICE_CUDA, p, sizeof host, seer_gpu_storage_ops(), g, &err);
  CHECK(*st != NULL);
  int64_t shape[3] = {2, 3, 4};
  seer_tensor *t = seer_tensor_from_storage(*st, 0, SEER_DTYPE_F32, 3, shape, NULL, &err);
  CHECK(t != NULL && seer_tensor_device(t) == SEER_DEVICE_CUDA);
  return t;
}

static void test_row_broadcast_on_device(void) {
  seer_error err = {0};
  seer_storage *st;
  seer_tensor *t = device_tensor(&st);
  float row[4] = {1, -2, 3, 0.25f};
  int64_t w = 4;
  seer_tensor *v = seer_tensor_from_data(SEER_DTYPE_F32, 1, &w, row, SEER_DTYPE_F32, &err);
  /* A host write first: the device op must see it. */
  seer_tensor_set_flat(t, 5, 100.0);
  uint64_t before = seer_gpu_launches(g);
  CHECK(seer_tensor_binary_(SEER_OP_ADD, t, v, &err) == 0);
  CHECK_MSG(seer_gpu_launches(g) == before + 1, "add_ ran on the host (%llu launches)",
            (unsigned long long)(seer_gpu_launches(g) - before));
  for (int i = 0; i < 24; i++) {
    float want = (i == 5 ? 100.0f : 0.5f * (float)i) + row[i % 4];
    CHECK_MSG(seer_tensor_get_flat(t, i) == want, "element %d: %g, want %g", i,
              seer_tensor_get_flat(t, i), want);
  }
  /* Same-shaped operand, on the device too. */
  seer_tensor *c = seer_tensor_clone(t, &err);
  before = seer_gpu_launches(g);
  CHECK(seer_tensor_binary_(SEER_OP_SUB, t, c, &err) == 0);
  CHECK(seer_gpu_launches(g) == before + 1);
  for (int i = 0; i < 24; i++)
    CHECK(seer_tensor_get_flat(t, i) == 0.0);
  seer_tensor_release(c);
  seer_tensor_release(v);
  seer_tensor_release(t);
  seer_storage_release(st);
}

static void test_other_broadcast_on_host(void) {
  seer_error err = {0};
  seer_storage *st;
  seer_tensor *t = device_tensor(&st);
  /* [3][1] broadcasts along the middle dim; its numel equals no row, so the host does it. */
  float col[3] = {10, 20, 30};
  int64_t shape[2] = {3, 1};
  seer_tensor *v = seer_tensor_from_data(SEER_DTYPE_F32, 2, shape, col, SEER_DTYPE_F32, &err);
  uint64_t before = seer_gpu_launches(g);
  CHECK(seer_tensor_binary_(SEER_OP_MUL, t, v, &err) == 0);
  CHECK(seer_gpu_launches(g) == before);
  for (int i = 0; i < 24; i++)
    CHECK(seer_tensor_get_flat(t, i) == 0.5f * (float)i * col[i / 4 % 3]);
  /* The host result reaches the device on sync, and a detached storage keeps the values. */
  CHECK(seer_storage_device_sync(st, &err) == 0);
  seer_storage_device_invalidate(st);
  CHECK(seer_tensor_get_flat(t, 23) == 0.5f * 23 * 30);
  CHECK(seer_storage_device_detach(st, &err) == 0);
  CHECK(seer_tensor_device(t) == SEER_DEVICE_CPU && seer_tensor_get_flat(t, 7) == 0.5f * 7 * 20);
  seer_tensor_release(v);
  seer_tensor_release(t);
  seer_storage_release(st);
}

/* Whether t holds exactly ref's values, bit for bit (signed zeros included; a NaN matches any NaN,
 * since IEEE leaves an arithmetic NaN's sign and payload open and GPUs give one canonical NaN),
 * read without marking a device tensor's host copy written. */
static int same_values(const seer_tensor *t, const seer_tensor *ref) {
  if (seer_tensor_numel(t) != seer_tensor_numel(ref)) return 0;
  for (int64_t i = 0; i < seer_tensor_numel(ref); i++) {
    float x = (float)seer_tensor_get_flat(t, i), y = (float)seer_tensor_get_flat(ref, i);
    if (memcmp(&x, &y, sizeof x) && !(isnan(x) && isnan(y))) {
      fprintf(stderr, "element %lld: %a, want %a\n", (long long)i, x, y);
      return 0;
    }
  }
  return 1;
}

/* A [2][3][4] view of a scope over device memory *p holding host's 24 values, as a device model's
 * hooks get one; the caller detaches *st and frees *p. */
static seer_tensor *scope_tensor(seer_gpu_scope *scope, const float host[24], uint64_t *p,
                                 seer_storage **st) {
  seer_error err = {0};
  size_t bytes = sizeof(float) * 24;
  CHECK(seer_gpu_alloc(g, bytes, p, &err) == 0);
  CHECK(seer_gpu_upload(g, *p, host, bytes, &err) == 0);
  *st = seer_gpu_scope_view(scope, *p, bytes, &err);
  int64_t shape[3] = {2, 3, 4};
  return seer_tensor_from_storage(*st, 0, SEER_DTYPE_F32, 3, shape, NULL, &err);
}

/* Out-of-place ops on a view of a scope (what a device model's hooks get): each is one kernel whose
 * result is a device tensor of the scope, holding the host's values bit for bit (the scalar 0.1 is
 * not an f32: the kernel computes in double as the host does); the scope's end makes a result kept
 * past it a host copy. */
static void test_out_of_place_on_device(void) {
  seer_error err = {0};
  seer_gpu_scope *scope = seer_gpu_scope_new(g, &err);
  CHECK(scope != NULL);
  float host[24];
  for (int i = 0; i < 24; i++)
    host[i] = 0.5f * (float)i - 3.0f;
  uint64_t p = 0;
  seer_storage *st;
  int64_t w = 4;
  seer_tensor *t = scope_tensor(scope, host, &p, &st);
  CHECK(t != NULL);
  seer_tensor_set_flat(t, 5, 100.0);            /* a host write first: the kernels must see it */
  seer_tensor *th = seer_tensor_clone(t, &err); /* the host's operand */
  float row[4] = {1, -2, 3, 0.25f};
  seer_tensor *v = seer_tensor_from_data(SEER_DTYPE_F32, 1, &w, row, SEER_DTYPE_F32, &err);
  seer_tensor *same = seer_tensor_randn(SEER_DTYPE_F32, 3, t->shape, 7, &err);
  struct {
    const char *what;
    seer_tensor *dev, *ref;
  } cases[6];
  uint64_t before = seer_gpu_launches(g);
  cases[0].what = "t + row", cases[0].dev = seer_tensor_binary(SEER_OP_ADD, t, v, &err);
  cases[0].ref = seer_tensor_binary(SEER_OP_ADD, th, v, &err);
  cases[1].what = "same - t", cases[1].dev = seer_tensor_binary(SEER_OP_SUB, same, t, &err);
  cases[1].ref = seer_tensor_binary(SEER_OP_SUB, same, th, &err);
  cases[2].what = "t * 0.1", cases[2].dev = seer_tensor_binary_scalar(SEER_OP_MUL, t, 0.1, 0, &err);
  cases[2].ref = seer_tensor_binary_scalar(SEER_OP_MUL, th, 0.1, 0, &err);
  cases[3].what = "0.1 / t", cases[3].dev = seer_tensor_binary_scalar(SEER_OP_DIV, t, 0.1, 1, &err);
  cases[3].ref = seer_tensor_binary_scalar(SEER_OP_DIV, th, 0.1, 1, &err);
  cases[4].what = "t / same", cases[4].dev = seer_tensor_binary(SEER_OP_DIV, t, same, &err);
  cases[4].ref = seer_tensor_binary(SEER_OP_DIV, th, same, &err);
  /* A result is a device tensor too: ops on it stay there. */
  cases[5].what = "(t * 0.1) - (t + row)";
  cases[5].dev = seer_tensor_binary(SEER_OP_SUB, cases[2].dev, cases[0].dev, &err);
  cases[5].ref = seer_tensor_binary(SEER_OP_SUB, cases[2].ref, cases[0].ref, &err);
  unsigned long long launched = seer_gpu_launches(g) - before;
  CHECK_MSG(launched == 6, "%llu kernel launches for 6 out-of-place ops", launched);
  for (int i = 0; i < 6; i++) {
    CHECK_MSG(cases[i].dev && seer_tensor_device(cases[i].dev) == SEER_DEVICE_CUDA,
              "%s: not a device tensor", cases[i].what);
    CHECK_MSG(cases[i].dev && cases[i].ref && same_values(cases[i].dev, cases[i].ref),
              "%s: the device's values differ from the host's", cases[i].what);
  }
  /* A [3][1] operand broadcasts along the middle dim: the host computes it, a host tensor. */
  int64_t cshape[2] = {3, 1};
  seer_tensor *col = seer_tensor_from_data(SEER_DTYPE_F32, 2, cshape, row, SEER_DTYPE_F32, &err);
  before = seer_gpu_launches(g);
  seer_tensor *hostr = seer_tensor_binary(SEER_OP_MUL, t, col, &err);
  CHECK(hostr && seer_tensor_device(hostr) == SEER_DEVICE_CPU && seer_gpu_launches(g) == before);
  /* Kept past the scope: a host copy with the same values; the others go with it. */
  seer_tensor *kept = seer_tensor_retain(cases[3].dev);
  for (int i = 0; i < 6; i++)
    seer_tensor_release(cases[i].dev);
  CHECK(seer_storage_device_detach(st, &err) == 0); /* the view, as the device engine does */
  CHECK(seer_gpu_scope_end(scope, &err) == 0);
  CHECK_MSG(seer_tensor_device(kept) == SEER_DEVICE_CPU, "a result kept past its scope is still "
                                                         "on the device");
  CHECK(same_values(kept, cases[3].ref));
  seer_tensor_release(kept);
  for (int i = 0; i < 6; i++)
    seer_tensor_release(cases[i].ref);
  seer_tensor_release(hostr), seer_tensor_release(col), seer_tensor_release(same);
  seer_tensor_release(v), seer_tensor_release(th), seer_tensor_release(t);
  seer_storage_release(st);
  seer_gpu_free(g, p);
}

/* What an ablation or a sign flip reaches for, on a scope's view: in-place ops with a scalar
 * (mul_(0.1): the scalar applied in double, as on the host), copy_ from a host tensor or a row,
 * and abs/neg, each one kernel with the host's values bit for bit (-0.0 and a NaN among them). A
 * second operand of the same scope (a result of an earlier op) is read where it is: no upload. */
static void test_ablation_ops_on_device(void) {
  seer_error err = {0};
  seer_gpu_scope *scope = seer_gpu_scope_new(g, &err);
  CHECK(scope != NULL);
  float host[24];
  for (int i = 0; i < 24; i++)
    host[i] = 0.37f * (float)i - 4.0f;
  host[3] = -0.0f, host[11] = NAN;
  uint64_t p = 0;
  seer_storage *st;
  int64_t w = 4;
  seer_tensor *t = scope_tensor(scope, host, &p, &st);
  seer_tensor *th = seer_tensor_clone(t, &err);
  CHECK(t && th && seer_tensor_device(th) == SEER_DEVICE_CPU);

  /* abs and neg: out of place, device tensors of the scope. */
  uint64_t before = seer_gpu_launches(g);
  seer_tensor *a = seer_tensor_abs(t, &err), *ah = seer_tensor_abs(th, &err);
  seer_tensor *n = seer_tensor_neg(t, &err), *nh = seer_tensor_neg(th, &err);
  CHECK_MSG(seer_gpu_launches(g) - before == 2, "%llu kernel launches for abs and neg",
            (unsigned long long)(seer_gpu_launches(g) - before));
  CHECK_MSG(a && seer_tensor_device(a) == SEER_DEVICE_CUDA && same_values(a, ah),
            "abs: not the host's values on the device");
  CHECK_MSG(n && seer_tensor_device(n) == SEER_DEVICE_CUDA && same_values(n, nh),
            "neg: not the host's values on the device");

  /* A second operand of the scope is read in place: a launch, no upload. */
  uint64_t ups = seer_gpu_uploads(g);
  before = seer_gpu_launches(g);
  seer_tensor *s = seer_tensor_binary(SEER_OP_ADD, a, n, &err);
  seer_tensor *sh = seer_tensor_binary(SEER_OP_ADD, ah, nh, &err);
  CHECK_MSG(seer_gpu_uploads(g) == ups, "|t| + -t: %llu uploads of a device operand",
            (unsigned long long)(seer_gpu_uploads(g) - ups));
  CHECK(seer_gpu_launches(g) - before == 1);
  CHECK_MSG(s && seer_tensor_device(s) == SEER_DEVICE_CUDA && same_values(s, sh),
            "|t| + -t: the device's values differ from the host's");

  /* In place with a scalar (0.1 is not an f32) and with a device operand of the scope. */
  before = seer_gpu_launches(g);
  ups = seer_gpu_uploads(g);
  CHECK(seer_tensor_binary_scalar_(SEER_OP_MUL, t, 0.1, &err) == 0);
  CHECK(seer_tensor_binary_scalar_(SEER_OP_MUL, th, 0.1, &err) == 0);
  CHECK(seer_tensor_binary_scalar_(SEER_OP_SUB, t, 1e-3, &err) == 0);
  CHECK(seer_tensor_binary_scalar_(SEER_OP_SUB, th, 1e-3, &err) == 0);
  CHECK(seer_tensor_binary_(SEER_OP_ADD, t, s, &err) == 0);
  CHECK(seer_tensor_binary_(SEER_OP_ADD, th, sh, &err) == 0);
  CHECK_MSG(seer_gpu_launches(g) - before == 3 && seer_gpu_uploads(g) == ups,
            "in-place ops: %llu launches and %llu uploads, want 3 and 0",
            (unsigned long long)(seer_gpu_launches(g) - before),
            (unsigned long long)(seer_gpu_uploads(g) - ups));
  CHECK_MSG(same_values(t, th), "in-place scalar ops: the device's values differ from the host's");

  /* copy_: a row broadcast, then a same-shaped host tensor; one launch each. */
  float row[4] = {1, -2, 3, 0.25f};
  seer_tensor *v = seer_tensor_from_data(SEER_DTYPE_F32, 1, &w, row, SEER_DTYPE_F32, &err);
  before = seer_gpu_launches(g);
  CHECK(seer_tensor_copy_(t, v, &err) == 0);
  CHECK(seer_gpu_launches(g) - before == 1);
  for (int i = 0; i < 24; i++)
    CHECK_MSG(seer_tensor_get_flat(t, i) == row[i % 4], "copy_ of a row: element %d is %g", i,
              seer_tensor_get_flat(t, i));
  before = seer_gpu_launches(g);
  CHECK(seer_tensor_copy_(t, nh, &err) == 0);
  CHECK(seer_gpu_launches(g) - before == 1);
  CHECK_MSG(same_values(t, nh), "copy_ of a host tensor: values differ");
  /* An operand in t's own storage is copied on the host first (it could overlap the write). */
  seer_tensor *half = seer_tensor_slice(t, 0, 0, 1, &err);
  seer_tensor *other = seer_tensor_slice(t, 0, 1, 2, &err);
  before = seer_gpu_launches(g);
  CHECK(half && other && seer_tensor_copy_(half, other, &err) == 0);
  CHECK(seer_gpu_launches(g) == before);
  for (int i = 0; i < 12; i++) {
    float x = (float)seer_tensor_get_flat(t, i), y = (float)seer_tensor_get_flat(t, 12 + i);
    CHECK_MSG(!memcmp(&x, &y, sizeof x), "self copy_: element %d", i);
  }

  seer_tensor_release(half), seer_tensor_release(other), seer_tensor_release(v);
  seer_tensor_release(s), seer_tensor_release(sh), seer_tensor_release(a), seer_tensor_release(ah);
  seer_tensor_release(n), seer_tensor_release(nh);
  CHECK(seer_storage_device_detach(st, &err) == 0);
  CHECK(seer_gpu_scope_end(scope, &err) == 0);
  seer_tensor_release(th), seer_tensor_release(t);
  seer_storage_release(st);
  seer_gpu_free(g, p);
}

/* A device tensor of shape with randn values, and a host copy of it. */
static seer_tensor *device_randn(int ndim, const int64_t *shape, uint64_t seed, seer_storage **st,
                                 seer_tensor **host) {
  seer_error err = {0};
  *host = seer_tensor_randn(SEER_DTYPE_F32, ndim, shape, seed, &err);
  CHECK(*host != NULL);
  size_t bytes = sizeof(float) * (size_t)seer_tensor_numel(*host);
  uint64_t p = 0;
  CHECK(seer_gpu_alloc(g, bytes, &p, &err) == 0);
  CHECK(seer_gpu_upload(g, p, seer_tensor_data(*host), bytes, &err) == 0);
  *st = seer_storage_new_device(SEER_DEVICE_CUDA, p, bytes, seer_gpu_storage_ops(), g, &err);
  seer_tensor *t = seer_tensor_from_storage(*st, 0, SEER_DTYPE_F32, ndim, shape, NULL, &err);
  CHECK(t != NULL);
  return t;
}

static void test_mean_matches_cpu(void) {
  seer_error err = {0};
  seer_storage *st;
  seer_tensor *host;
  int64_t shape[3] = {2, 7, 33};
  seer_tensor *t = device_randn(3, shape, 7, &st, &host);
  seer_tensor_set_flat(t, 40, 1e6); /* a host write the device op must see */
  seer_tensor_set_flat(host, 40, 1e6);
  for (int dim = -1; dim < 3; dim++)
    for (int keep = 0; keep < 2; keep++) {
      uint64_t before = seer_gpu_launches(g);
      seer_tensor *d = seer_tensor_reduce(SEER_REDUCE_MEAN, t, dim, keep, &err);
      seer_tensor *c = seer_tensor_reduce(SEER_REDUCE_MEAN, host, dim, keep, &err);
      CHECK(d && c);
      if (!d || !c) continue;
      CHECK_MSG(seer_gpu_launches(g) == before + 1, "mean dim %d ran on the host", dim);
      CHECK(seer_tensor_device(d) == SEER_DEVICE_CPU && d->ndim == c->ndim);
      for (int i = 0; i < c->ndim; i++)
        CHECK(d->shape[i] == c->shape[i]);
      int64_t n = seer_tensor_numel(c);
      CHECK(seer_tensor_numel(d) == n);
      for (int64_t i = 0; i < n; i++)
        CHECK_MSG(seer_tensor_get_flat(d, i) == seer_tensor_get_flat(c, i),
                  "mean dim %d keepdim %d [%lld]: device %.9g, cpu %.9g", dim, keep, (long long)i,
                  seer_tensor_get_flat(d, i), seer_tensor_get_flat(c, i));
      seer_tensor_release(d);
      seer_tensor_release(c);
    }
  /* A strided view is not the kernel's layout: the host does it, with the same values. */
  seer_tensor *tr = seer_tensor_transpose(t, 1, 2, &err);
  uint64_t before = seer_gpu_launches(g);
  seer_tensor *d = seer_tensor_reduce(SEER_REDUCE_MEAN, tr, 2, 0, &err);
  CHECK(d && seer_gpu_launches(g) == before);
  seer_tensor_release(d);
  seer_tensor_release(tr);
  seer_tensor_release(host);
  seer_tensor_release(t);
  seer_storage_release(st);
}

/* The device GEMV and the CPU's Linear kernel add in different orders: both must sit within f32
 * rounding of the exact (double) product, |error| <= k * eps * sum |a_i b_i|. */
static void test_matmul_matches_cpu(void) {
  seer_error err = {0};
  seer_storage *st;
  seer_tensor *host;
  int64_t ashape[2] = {5, 70}, bshape[2] = {70, 9}, vshape[1] = {70};
  seer_tensor *a = device_randn(2, ashape, 11, &st, &host);
  seer_tensor *b = seer_tensor_randn(SEER_DTYPE_F32, 2, bshape, 12, &err);
  seer_tensor *v = seer_tensor_randn(SEER_DTYPE_F32, 1, vshape, 13, &err);
  const seer_tensor *rights[2] = {b, v};
  for (int r = 0; r < 2; r++) {
    const seer_tensor *rb = rights[r];
    uint64_t before = seer_gpu_launches(g);
    seer_tensor *d = seer_tensor_matmul(a, rb, &err);
    seer_tensor *c = seer_tensor_matmul(host, rb, &err);
    CHECK(d && c);
    if (!d || !c) continue;
    CHECK_MSG(seer_gpu_launches(g) == before + 1, "matmul ran on the host");
    CHECK(d->ndim == c->ndim && seer_tensor_numel(d) == seer_tensor_numel(c));
    int64_t N = rb->ndim == 2 ? rb->shape[1] : 1, K = 70;
    for (int64_t m = 0; m < 5; m++)
      for (int64_t n = 0; n < N; n++) {
        double exact = 0, mag = 0;
        for (int64_t k = 0; k < K; k++) {
          double x = seer_tensor_get_flat(host, m * K + k),
                 y = seer_tensor_get_flat(rb, rb->ndim == 2 ? k * N + n : k);
          exact += x * y;
          mag += fabs(x * y);
        }
        double tol = (double)K * 1.2e-7 * mag, dv = seer_tensor_get_flat(d, m * N + n),
               cv = seer_tensor_get_flat(c, m * N + n);
        CHECK_MSG(fabs(dv - exact) <= tol && fabs(cv - exact) <= tol,
                  "matmul [%lld][%lld]: device %.9g, cpu %.9g, exact %.9g", (long long)m,
                  (long long)n, dv, cv, exact);
      }
    seer_tensor_release(d);
    seer_tensor_release(c);
  }
  /* A wrong inner size is the CPU op's error, device or not. */
  int64_t wshape[1] = {69};
  seer_tensor *w = seer_tensor_full(SEER_DTYPE_F32, 1, wshape, 1.0, &err);
  seer_error e2 = {0};
  CHECK(seer_tensor_matmul(a, w, &e2) == NULL);
  CHECK_STR_CONTAINS(e2.msg, "inner sizes differ");
  seer_tensor_release(w);
  seer_tensor_release(v);
  seer_tensor_release(b);
  seer_tensor_release(host);
  seer_tensor_release(a);
  seer_storage_release(st);
}

/* Every copy above went through the staging buffers in chunks (40 bytes here), tails included. */
static void test_staged_copies(void) {
  seer_error err = {0};
  unsigned char src[1000], back[1000];
  for (int i = 0; i < 1000; i++)
    src[i] = (unsigned char)(i * 7 + 3);
  uint64_t p = 0, before = seer_gpu_staged_chunks(g);
  CHECK(seer_gpu_alloc(g, sizeof src, &p, &err) == 0);
  for (size_t n = 0; n <= 1000; n += 123) {
    memset(back, 0, sizeof back);
    CHECK(seer_gpu_upload(g, p, src, n, &err) == 0);
    CHECK(seer_gpu_download(g, back, p, n, &err) == 0);
    CHECK_MSG(!memcmp(src, back, n), "%zu bytes came back changed", n);
  }
  /* 0, 123, ..., 984 bytes up and down in 40-byte chunks. */
  uint64_t chunks = 0;
  for (size_t n = 0; n <= 1000; n += 123)
    chunks += 2 * ((n + 39) / 40);
  CHECK_MSG(seer_gpu_staged_chunks(g) - before == chunks, "%llu chunks, want %llu",
            (unsigned long long)(seer_gpu_staged_chunks(g) - before), (unsigned long long)chunks);
  seer_gpu_free(g, p);
}

int main(void) {
  seer_error err = {0};
  setenv("SEER_CUDA_STAGING_BYTES", "40", 1);
  /* The grid emulator, unless SEER_CUDA_EMULATE=0 asks for GPU 0 (tools/cuda_check.sh). */
  const char *emu = getenv("SEER_CUDA_EMULATE");
  int emulate = !emu || strcmp(emu, "0") != 0;
  CHECK_MSG(seer_gpu_open(0, emulate, &g, &err) == 0, "%s", err.msg);
  if (!g) return check_summary();
  printf("device tensors on %s\n", emulate ? "the grid emulator" : "GPU 0");
  test_row_broadcast_on_device();
  test_other_broadcast_on_host();
  test_out_of_place_on_device();
  test_ablation_ops_on_device();
  test_mean_matches_cpu();
  test_matmul_matches_cpu();
  test_staged_copies();
  seer_gpu_close(g);
  return check_summary();
}
