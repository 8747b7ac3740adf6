/* test_npy.c: the strict .npy parser (versions, dtypes, header grammar, exact data length) and
 * .npz archives written here with libzip (stored and deflated members, non-.npy members, the memory
 * bound, members whose data is cut short). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "check.h"
#include "seer/npy.h"

/* A v1.0 .npy of header text hdr (padded as numpy pads) and n data bytes from data. */
static size_t make_npy(char *out, const char *hdr, const void *data, size_t n) {
  size_t hl = strlen(hdr);
  size_t total = 10 + hl + 1;
  size_t pad = (64 - total % 64) % 64;
  memcpy(out, "\x93NUMPY\x01\x00", 8);
  size_t hlen = hl + pad + 1;
  out[8] = (char)(hlen & 0xff);
  out[9] = (char)(hlen >> 8);
  memcpy(out + 10, hdr, hl);
  memset(out + 10 + hl, ' ', pad);
  out[10 + hl + pad] = '\n';
  memcpy(out + 10 + hlen, data, n);
  return 10 + hlen + n;
}

static int parse(const char *hdr, const void *data, size_t n, seer_tensor **t, seer_error *err) {
  static char buf[4096];
  size_t len = make_npy(buf, hdr, data, n);
  return seer_npy_parse(buf, len, "x.npy", t, err);
}

static void test_valid(void) {
  float d[6] = {1, 2, 3, 4, 5, 6};
  seer_tensor *t = NULL;
  seer_error err = {0};
  CHECK(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", d, sizeof d, &t,
              &err) == 0);
  CHECK(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->dtype == SEER_DTYPE_F32);
  if (t) CHECK(((float *)seer_tensor_data(t))[5] == 6);
  seer_tensor_release(t);
  /* key order free, 1-D with trailing comma, f8 rounded to f32 */
  double e[3] = {0.5, -1.25, 3};
  CHECK(parse("{'shape': (3,), 'fortran_order': False, 'descr': '<f8'}", e, sizeof e, &t, &err) ==
        0);
  CHECK(t && t->ndim == 1 && t->dtype == SEER_DTYPE_F32);
  if (t) CHECK(((float *)seer_tensor_data(t))[1] == -1.25f);
  seer_tensor_release(t);
  /* scalar */
  int32_t s = 7;
  CHECK(parse("{'descr': '<i4', 'fortran_order': False, 'shape': ()}", &s, 4, &t, &err) == 0);
  CHECK(t && t->ndim == 0);
  seer_tensor_release(t);
}

static void expect_fail(const char *hdr, const void *d, size_t n, const char *want) {
  seer_tensor *t = NULL;
  seer_error err = {0};
  int rc = parse(hdr, d, n, &t, &err);
  CHECK_MSG(rc != 0 && t == NULL, "accepted %s", hdr);
  CHECK_STR_CONTAINS(err.msg, want);
  CHECK_STR_CONTAINS(err.msg, "x.npy");
}

static void test_invalid(void) {
  float d[8] = {0}; /* room for the trailing-bytes case */
  expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", d, 20,
              "needs 24 bytes of data but the file holds 20");
  expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", d, 28,
              "needs 24 bytes of data but the file holds 28");
  expect_fail("{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", d, 24,
              "dtype '>f4' is not supported");
  expect_fail("{'descr': '<f4', 'fortran_order': True, 'shape': (6,), }", d, 24, "Fortran-order");
  expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", d, 24, "trailing comma");
  expect_fail("{'descr': '<f4', 'fortran_order': False}", d, 24, "all required");
  expect_fail("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", d, 24,
              "repeated key");
  expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", d, 24,
              "a key other than");
  expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} junk", d, 24,
              "text after the dict");
  expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", d, 24,
              "expected a dimension");
  expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999,)}", d, 24,
              "dimension too large");
  expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776, "
              "1099511627776)}",
              d, 24, "overflows");
  expect_fail("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1)}", d, 4,
              "more than 4 dims");
  expect_fail("{'descr': '<f4\\n', 'fortran_order': False, 'shape': (6,)}", d, 24, "escapes");
  expect_fail("{'descr': 'O', 'fortran_order': False, 'shape': (6,)}", d, 24, "dtype 'O'");
  /* version, magic, header length past the end */
  seer_tensor *t = NULL;
  seer_error err = {0};
  char buf[256];
  size_t n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", d, 4);
  buf[6] = 9;
  CHECK(seer_npy_parse(buf, n, "x.npy", &t, &err) == SEER_ENOTSUP);
  CHECK_STR_CONTAINS(err.msg, "version 9.0");
  buf[6] = 1;
  buf[9] = 0x7f;
  CHECK(seer_npy_parse(buf, n, "x.npy", &t, &err) == SEER_EFORMAT);
  CHECK_STR_CONTAINS(err.msg, "runs past the file");
  CHECK(seer_npy_parse("NUMPY", 5, "x.npy", &t, &err) == SEER_EFORMAT);
  CHECK_STR_CONTAINS(err.msg, "not a .npy file");
}

/* ---- npz ---- */

static char dir[64];

typedef struct member {
  const char *name;
  const void *data;
  size_t len;
  int deflate;
} member;

static void write_zip(const char *path, const member *m, int n) {
  int zerr;
  unlink(path);
  zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
  if (!za) abort();
  for (int i = 0; i < n; i++) {
    zip_source_t *src = zip_source_buffer(za, m[i].data, m[i].len, 0);
    zip_int64_t idx = zip_file_add(za, m[i].name, src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) abort();
    zip_set_file_compression(za, (zip_uint64_t)idx, m[i].deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                             0);
  }
  if (zip_close(za) != 0) abort();
}

typedef struct seen {
  int count;
  char names[8][32];
  float first[8];
} seen;

static int collect(void *ud, const char *name, seer_tensor *t, seer_error *err) {
  (void)err;
  seen *s = ud;
  if (s->count < 8) {
    snprintf(s->names[s->count], 32, "%s", name);
    s->first[s->count] = seer_tensor_numel(t) ? (float)seer_tensor_get_flat(t, 0) : 0;
  }
  s->count++;
  seer_tensor_release(t);
  return 0;
}

static void test_npz(void) {
  static char a[256], b[256];
  float da[4] = {1.5f, 2, 3, 4}, db[2] = {-7, 8};
  size_t la = make_npy(a, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", da, 16);
  size_t lb = make_npy(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", db, 8);
  char path[128];
  snprintf(path, sizeof path, "%s/p.npz", dir);
  seer_error err = {0};
  seen s = {0};
  member ok[2] = {{"W_enc.npy", a, la, 0}, {"b_dec.npy", b, lb, 1}};
  write_zip(path, ok, 2);
  CHECK(seer_npz_load(path, 1 << 20, collect, &s, &err) == 0);
  CHECK(s.count == 2 && strcmp(s.names[0], "W_enc") == 0 && strcmp(s.names[1], "b_dec") == 0);
  CHECK(s.first[0] == 1.5f && s.first[1] == -7);
  /* the memory bound counts declared sizes before inflating */
  memset(&s, 0, sizeof s);
  CHECK(seer_npz_load(path, la + lb - 1, collect, &s, &err) == SEER_EFORMAT && s.count == 0);
  CHECK_STR_CONTAINS(err.msg, "declare more than");
  member notnpy[1] = {{"readme.txt", "hello", 5, 0}};
  write_zip(path, notnpy, 1);
  CHECK(seer_npz_load(path, 1 << 20, collect, &s, &err) == SEER_EFORMAT);
  CHECK_STR_CONTAINS(err.msg, "is not a .npy file");
  /* a member whose .npy is cut short: the parser names the member */
  member cut[1] = {{"W_enc.npy", a, la - 3, 1}};
  write_zip(path, cut, 1);
  CHECK(seer_npz_load(path, 1 << 20, collect, &s, &err) == SEER_EFORMAT);
  CHECK_STR_CONTAINS(err.msg, "W_enc.npy");
  CHECK_STR_CONTAINS(err.msg, "truncated or corrupt");
  /* a missing file is an I/O error, not a format one */
  CHECK(seer_npz_load("/nonexistent/p.npz", 1 << 20, collect, &s, &err) == SEER_EIO);
  unlink(path);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/seer-npy-test-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  test_valid();
  test_invalid();
  test_npz();
  rmdir(dir);
  return check_summary();
}
