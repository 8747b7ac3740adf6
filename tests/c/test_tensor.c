/* Tensors: views sharing storage, dtype conversion, broadcasting arithmetic, reductions, products,
 * probabilities, the deterministic RNG, and the SIMD Linear kernel against a naive reference. */
#include <math.h>
#include <stdlib.h>

#include "../../runtime/tensor/cpu.h"
#include "check.h"
#include "seer/tensor.h"

static seer_error err;

static seer_tensor *vec(int n, const float *v) {
  int64_t s[1] = {n};
  return seer_tensor_from_data(SEER_DTYPE_F32, 1, s, v, SEER_DTYPE_F32, &err);
}

static void test_views(void) {
  int64_t s[2] = {2, 3};
  seer_tensor *t = seer_tensor_new(SEER_DTYPE_F32, 2, s, &err);
  for (int i = 0; i < 6; i++)
    seer_tensor_set_flat(t, i, i);
  CHECK(seer_storage_nbytes(t->storage) == 6 * sizeof(float));
  CHECK(seer_storage_device(t->storage) == SEER_DEVICE_CPU);
  seer_tensor *row = seer_tensor_select(t, 1, &err);
  CHECK(row->ndim == 1 && seer_tensor_get_flat(row, 0) == 3);
  CHECK(row->storage == t->storage && row->offset == 3);
  seer_tensor_set_flat(row, 2, 42); /* shares storage */
  CHECK(seer_tensor_get_flat(t, 5) == 42);
  seer_tensor *col = seer_tensor_slice(t, 1, 1, 2, &err);
  CHECK(col->shape[0] == 2 && col->shape[1] == 1 && seer_tensor_get_flat(col, 1) == 4);
  CHECK(!seer_tensor_is_contiguous(col));
  int64_t ns[2] = {3, -1};
  seer_tensor *r = seer_tensor_reshape(t, 2, ns, &err);
  CHECK(r && r->shape[1] == 2 && seer_tensor_get_flat(r, 5) == 42);
  seer_tensor *u = seer_tensor_unsqueeze(t, 0, &err);
  CHECK(u->ndim == 3 && u->shape[0] == 1 && seer_tensor_get_flat(u, 4) == 4);
  CHECK(seer_tensor_slice(t, 1, 2, 5, &err) == NULL);
  CHECK_STR_CONTAINS(err.msg, "out of bounds");
  seer_tensor *tt = seer_tensor_transpose(t, 0, 1, &err);
  seer_tensor *c = seer_tensor_clone(tt, &err);
  CHECK(seer_tensor_is_contiguous(c) && seer_tensor_get_flat(c, 1) == 3);
  seer_tensor_release(row), seer_tensor_release(col), seer_tensor_release(r);
  seer_tensor_release(u), seer_tensor_release(tt), seer_tensor_release(c);
  seer_tensor_release(t);
}

static void test_dtypes(void) {
  CHECK(seer_f32_to_bf16(1.0f) == 0x3f80);
  CHECK(seer_bf16_to_f32(seer_f32_to_bf16(1.00390625f)) == 1.0f); /* ties to even */
  CHECK(seer_f16_to_f32(seer_f32_to_f16(0.333333f)) == 0.333251953125f);
  float v[3] = {1.5f, -2.25f, 1e9f};
  seer_tensor *t = vec(3, v);
  seer_tensor *h = seer_tensor_to(t, SEER_DTYPE_BF16, &err);
  seer_tensor *i = seer_tensor_to(t, SEER_DTYPE_I64, &err);
  CHECK(h->dtype == SEER_DTYPE_BF16 && seer_tensor_get_flat(h, 1) == -2.25);
  CHECK(seer_tensor_get_flat(i, 0) == 1 && seer_tensor_get_flat(i, 2) == 1e9);
  seer_dtype dt;
  CHECK(seer_dtype_parse("bf16", &dt) == 0 && dt == SEER_DTYPE_BF16);
  CHECK(seer_dtype_parse("q4", &dt) != 0);
  seer_tensor_release(t), seer_tensor_release(h), seer_tensor_release(i);
}

static void test_arith(void) {
  int64_t s[2] = {2, 3};
  seer_tensor *a = seer_tensor_new(SEER_DTYPE_F32, 2, s, &err);
  for (int i = 0; i < 6; i++)
    seer_tensor_set_flat(a, i, i + 1);
  float bv[3] = {10, 20, 30};
  seer_tensor *b = vec(3, bv);
  seer_tensor *c = seer_tensor_binary(SEER_OP_ADD, a, b, &err); /* [2,3] + [3] */
  CHECK(c && c->shape[0] == 2 && seer_tensor_get_flat(c, 4) == 25);
  int64_t cs[2] = {2, 1};
  seer_tensor *col = seer_tensor_new(SEER_DTYPE_F32, 2, cs, &err);
  seer_tensor_set_flat(col, 1, 2);
  seer_tensor *d = seer_tensor_binary(SEER_OP_MUL, col, b, &err); /* [2,1] * [3] -> [2,3] */
  CHECK(d && d->shape[0] == 2 && d->shape[1] == 3 && seer_tensor_get_flat(d, 5) == 60);
  CHECK(seer_tensor_binary_(SEER_OP_SUB, a, b, &err) == 0 && seer_tensor_get_flat(a, 0) == -9);
  CHECK(seer_tensor_binary_(SEER_OP_ADD, b, a, &err) != 0); /* [3] cannot take [2,3] */
  float wv[2] = {1, 2};
  seer_tensor *w = vec(2, wv);
  CHECK(seer_tensor_binary(SEER_OP_ADD, a, w, &err) == NULL);
  CHECK_STR_CONTAINS(err.msg, "broadcast");
  seer_tensor *e = seer_tensor_binary_scalar(SEER_OP_DIV, b, 10, 0, &err);
  CHECK(seer_tensor_get_flat(e, 2) == 3);
  CHECK(seer_tensor_copy_(a, b, &err) == 0 && seer_tensor_get_flat(a, 4) == 20);
  seer_tensor_release(a), seer_tensor_release(b), seer_tensor_release(c), seer_tensor_release(col);
  seer_tensor_release(d), seer_tensor_release(w), seer_tensor_release(e);
}

static void test_reduce(void) {
  int64_t s[2] = {2, 3};
  seer_tensor *a = seer_tensor_new(SEER_DTYPE_F32, 2, s, &err);
  float v[6] = {1, -5, 3, 4, 2, 0};
  for (int i = 0; i < 6; i++)
    seer_tensor_set_flat(a, i, v[i]);
  seer_tensor *sum0 = seer_tensor_reduce(SEER_REDUCE_SUM, a, 0, 0, &err);
  CHECK(sum0->ndim == 1 && sum0->shape[0] == 3 && seer_tensor_get_flat(sum0, 1) == -3);
  seer_tensor *mean1 = seer_tensor_reduce(SEER_REDUCE_MEAN, a, 1, 1, &err);
  CHECK(mean1->ndim == 2 && mean1->shape[1] == 1 &&
        fabs(seer_tensor_get_flat(mean1, 0) + 1.0 / 3) < 1e-6);
  seer_tensor *mx = seer_tensor_reduce(SEER_REDUCE_MAX, a, -1, 0, &err);
  CHECK(mx->ndim == 0 && seer_tensor_get_flat(mx, 0) == 4);
  seer_tensor *mn = seer_tensor_reduce(SEER_REDUCE_MIN, a, 1, 0, &err);
  CHECK(seer_tensor_get_flat(mn, 0) == -5 && seer_tensor_get_flat(mn, 1) == 0);
  seer_tensor *nr = seer_tensor_norm(a, -1, 0, &err);
  CHECK(fabs(seer_tensor_get_flat(nr, 0) - sqrt(55.0)) < 1e-5);
  seer_tensor *nz = seer_tensor_normalize(a, -1, &err);
  seer_tensor *nn = seer_tensor_norm(nz, 1, 0, &err);
  CHECK(fabs(seer_tensor_get_flat(nn, 1) - 1) < 1e-6);
  seer_tensor *ab = seer_tensor_abs(a, &err);
  CHECK(seer_tensor_get_flat(ab, 1) == 5);
  seer_tensor *am = seer_tensor_argmax(a, 1, &err);
  CHECK(am->dtype == SEER_DTYPE_I64 && seer_tensor_get_flat(am, 0) == 2 &&
        seer_tensor_get_flat(am, 1) == 0);
  seer_tensor *sm = seer_tensor_softmax(a, -1, &err);
  seer_tensor *ls = seer_tensor_log_softmax(a, -1, &err);
  double tot = 0;
  for (int i = 0; i < 3; i++)
    tot += seer_tensor_get_flat(sm, i);
  CHECK(fabs(tot - 1) < 1e-6);
  CHECK(fabs(exp(seer_tensor_get_flat(ls, 4)) - seer_tensor_get_flat(sm, 4)) < 1e-6);
  seer_tensor *tv, *ti;
  CHECK(seer_tensor_topk(a, 2, &tv, &ti, &err) == 0);
  CHECK(tv->shape[1] == 2 && seer_tensor_get_flat(tv, 0) == 3 && seer_tensor_get_flat(ti, 1) == 0);
  CHECK(seer_tensor_get_flat(ti, 2) == 0 && seer_tensor_get_flat(ti, 3) == 1);
  seer_tensor *r[] = {a, sum0, mean1, mx, mn, nr, nz, nn, ab, am, sm, ls, tv, ti};
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
    seer_tensor_release(r[i]);
}

static void test_products(void) {
  float av[3] = {1, 2, 3}, bv[3] = {4, -5, 6};
  seer_tensor *a = vec(3, av), *b = vec(3, bv);
  double d, c;
  CHECK(seer_tensor_dot(a, b, &d, &err) == 0 && d == 12);
  CHECK(seer_tensor_cosine(a, b, &c, &err) == 0 &&
        fabs(c - 12 / (sqrt(14.0) * sqrt(77.0))) < 1e-12);
  seer_tensor *o = seer_tensor_outer(a, b, &err);
  CHECK(o->shape[0] == 3 && seer_tensor_get_flat(o, 5) == 12);
  seer_tensor *m = seer_tensor_matmul(o, a, &err); /* [3,3]·[3] */
  CHECK(m && m->ndim == 1 && seer_tensor_get_flat(m, 0) == 12);
  seer_tensor *mm = seer_tensor_matmul(o, o, &err);
  CHECK(mm && mm->shape[1] == 3 && seer_tensor_get_flat(mm, 0) == 4 * 12);
  int64_t s[2] = {2, 4};
  seer_tensor *bad = seer_tensor_new(SEER_DTYPE_F32, 2, s, &err);
  CHECK(seer_tensor_matmul(o, bad, &err) == NULL);
  CHECK_STR_CONTAINS(err.msg, "inner sizes differ");
  seer_tensor_release(a), seer_tensor_release(b), seer_tensor_release(o);
  seer_tensor_release(m), seer_tensor_release(mm), seer_tensor_release(bad);
}

static void test_randn(void) {
  int64_t s[1] = {10000};
  seer_tensor *a = seer_tensor_randn(SEER_DTYPE_F32, 1, s, 42, &err);
  seer_tensor *b = seer_tensor_randn(SEER_DTYPE_F32, 1, s, 42, &err);
  seer_tensor *c = seer_tensor_randn(SEER_DTYPE_F32, 1, s, 43, &err);
  int same = 1, diff = 0;
  double mean = 0, var = 0;
  for (int i = 0; i < 10000; i++) {
    double x = seer_tensor_get_flat(a, i);
    same &= x == seer_tensor_get_flat(b, i);
    diff += x != seer_tensor_get_flat(c, i);
    mean += x / 10000;
    var += x * x / 10000;
  }
  CHECK(same && diff > 9990);
  CHECK(fabs(mean) < 0.05 && fabs(var - 1) < 0.05);
  seer_tensor_release(a), seer_tensor_release(b), seer_tensor_release(c);
}

/* The Linear kernel in every weight dtype, on GEMV (M < 8) and GEMM sizes with ragged edges. */
static void test_linear(void) {
  const int64_t Ms[] = {1, 3, 7, 8, 13, 100}, K = 300, N = 37;
  float *X = malloc(sizeof(float) * 100 * K), *W = malloc(sizeof(float) * N * K);
  uint16_t *Wh = malloc(2 * N * K), *Wf = malloc(2 * N * K);
  float *Y = malloc(sizeof(float) * 100 * N), bias[37];
  srand(1);
  for (int64_t i = 0; i < 100 * K; i++)
    X[i] = (float)rand() / RAND_MAX - 0.5f;
  for (int64_t i = 0; i < N * K; i++) {
    Wh[i] = seer_f32_to_bf16((float)rand() / RAND_MAX - 0.5f);
    W[i] = seer_bf16_to_f32(Wh[i]); /* exactly representable in every dtype below */
    Wf[i] = seer_f32_to_f16(W[i]);
  }
  for (int i = 0; i < N; i++)
    bias[i] = (float)i;
  const seer_dtype dts[3] = {SEER_DTYPE_F32, SEER_DTYPE_BF16, SEER_DTYPE_F16};
  const void *ws[3] = {W, Wh, Wf};
  for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
    for (int d = 0; d < 3; d++) {
      int64_t M = Ms[mi];
      seer_cpu_linear(X, M, K, K, ws[d], dts[d], N, bias, Y, N);
      double worst = 0;
      for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
          double ref = bias[n];
          for (int64_t k = 0; k < K; k++)
            ref += (double)X[m * K + k] * W[n * K + k];
          worst = fmax(worst, fabs(ref - Y[m * N + n]));
        }
      CHECK_MSG(worst < 1e-4, "linear M=%lld dtype %s: err %g", (long long)M,
                seer_dtype_name(dts[d]), worst);
    }
  free(X), free(W), free(Wh), free(Wf), free(Y);
}

/* The pool's adaptive spin, fed gap sequences (ns): it must follow short gaps up, fall on long
 * gaps or preemption, and not get stuck low on a machine whose gaps are mostly short (the earlier
 * double/halve rule fell to its minimum there and stayed). */
static void test_pool_spin(void) {
  long s = 2000;
  for (int i = 0; i < 5; i++) /* doubling per wait: 4, 8, 16, 32, then 60 us */
    s = seer_cpu_pool_next_spin(s, 30000, 0);
  CHECK_MSG(s == 60000, "five 30 us gaps from the minimum: spin %ld ns, want 60000", s);
  CHECK(seer_cpu_pool_next_spin(2000, 30000, 0) == 4000);
  CHECK(seer_cpu_pool_next_spin(s, -5000, 0) == s); /* the job was out already: unchanged */
  long low = 1L << 40;
  s = 2000;
  for (int i = 0; i < 1000; i++) { /* 45% long gaps (1 ms), the rest 30 us; the spin after each
                                      short gap must cover the next one */
    int long_gap = i * 9 % 20 < 9; /* spread out: never more than two in a row */
    s = seer_cpu_pool_next_spin(s, long_gap ? 1000000 : 30000, 0);
    if (i >= 100 && !long_gap && s < low) low = s;
  }
  CHECK_MSG(low >= 30000, "mostly 30 us gaps: the spin fell to %ld ns (stuck low)", low);
  s = 200000;
  for (int i = 0; i < 40; i++)
    s = seer_cpu_pool_next_spin(s, 1000000, 0);
  CHECK_MSG(s == 2000, "only 1 ms gaps: spin %ld ns, want the 2000 ns minimum", s);
  s = 200000;
  for (int i = 0; i < 40; i++)
    s = seer_cpu_pool_next_spin(s, 30000, 1);
  CHECK_MSG(s == 2000, "descheduled spins: spin %ld ns, want the 2000 ns minimum", s);
  CHECK(seer_cpu_pool_next_spin(2000, 10000000, 0) == 2000);
  CHECK(seer_cpu_pool_next_spin(150000, 150000, 0) == 200000); /* capped at SPIN_MAX_NS */
}

int main(void) {
  test_pool_spin();
  test_views();
  test_dtypes();
  test_arith();
  test_reduce();
  test_products();
  test_randn();
  test_linear();
  seer_tensor_set_threads(1);
  test_linear();
  return check_summary();
}
