/* safetensors: writer/reader round trip, shard index, and one corrupted file per validation rule,
 * checking that each error names the file and the tensor; hostile shapes and shard files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "seer/safetensors.h"

static char dir[256];

/* Writes an 8-byte length, the header text, then ndata bytes of data. */
static const char *write_raw(const char *name, uint64_t hlen_override, const char *hdr,
                             size_t ndata) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  uint64_t hlen = hlen_override ? hlen_override : strlen(hdr);
  unsigned char lb[8];
  for (int i = 0; i < 8; i++)
    lb[i] = (unsigned char)(hlen >> (8 * i));
  fwrite(lb, 1, 8, f);
  fwrite(hdr, 1, strlen(hdr), f);
  for (size_t i = 0; i < ndata; i++)
    fputc((int)(i & 0xff), f);
  fclose(f);
  return path;
}

static void expect_error(const char *path, const char *needle1, const char *needle2) {
  seer_safetensors *st = NULL;
  seer_error err = {0};
  int rc = seer_st_open(path, &st, &err);
  CHECK_MSG(rc == SEER_EFORMAT, "%s: expected a format error, got %d (%s)", path, rc, err.msg);
  CHECK(st == NULL);
  CHECK_STR_CONTAINS(err.msg, path);
  if (needle1) CHECK_STR_CONTAINS(err.msg, needle1);
  if (needle2) CHECK_STR_CONTAINS(err.msg, needle2);
  seer_st_close(st);
}

static void test_roundtrip(void) {
  seer_error err = {0};
  int64_t s1[2] = {3, 4}, s2[1] = {5};
  seer_tensor *a = seer_tensor_randn(SEER_DTYPE_F32, 2, s1, 7, &err);
  seer_tensor *b = seer_tensor_randn(SEER_DTYPE_BF16, 1, s2, 8, &err);
  seer_tensor *bt = seer_tensor_transpose(a, 0, 1, &err); /* strided input is written densely */
  const char *names[3] = {"a", "b", "a_t"};
  const seer_tensor *ts[3] = {a, b, bt};
  char path[512];
  snprintf(path, sizeof path, "%s/rt.safetensors", dir);
  CHECK(seer_st_save(path, 3, names, ts, &err) == 0);
  seer_safetensors *st = NULL;
  CHECK_MSG(seer_st_open(path, &st, &err) == 0, "%s", err.msg);
  if (!st) return;
  CHECK(seer_st_count(st) == 3);
  struct stat sb;
  CHECK(stat(path, &sb) == 0 && seer_st_file_bytes(st) == (size_t)sb.st_size);
  seer_tensor *ra = seer_st_get(st, "a", &err), *rb = seer_st_get(st, "b", &err);
  seer_tensor *rt = seer_st_get(st, "a_t", &err);
  seer_st_close(st); /* tensors keep the mapping alive */
  CHECK(ra && rb && rt);
  CHECK(ra->dtype == SEER_DTYPE_F32 && ra->ndim == 2 && ra->shape[1] == 4);
  CHECK(rb->dtype == SEER_DTYPE_BF16 && rb->shape[0] == 5);
  CHECK(rt->shape[0] == 4 && rt->shape[1] == 3);
  int same = 1;
  for (int64_t i = 0; i < 12; i++)
    same &= seer_tensor_get_flat(a, i) == seer_tensor_get_flat(ra, i);
  for (int64_t i = 0; i < 5; i++)
    same &= seer_tensor_get_flat(b, i) == seer_tensor_get_flat(rb, i);
  for (int64_t i = 0; i < 12; i++)
    same &= seer_tensor_get_flat(bt, i) == seer_tensor_get_flat(rt, i);
  CHECK(same);
  seer_tensor_release(ra), seer_tensor_release(rb), seer_tensor_release(rt);
  seer_tensor_release(a), seer_tensor_release(b), seer_tensor_release(bt);
}

static void test_missing_name(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/rt.safetensors", dir);
  seer_safetensors *st = NULL;
  seer_error err = {0};
  CHECK(seer_st_open(path, &st, &err) == 0);
  CHECK(seer_st_get(st, "nope", &err) == NULL);
  CHECK_STR_CONTAINS(err.msg, "nope");
  seer_st_close(st);
}

static void test_corruptions(void) {
  expect_error(write_raw("huge.safetensors", 200000000ull, "{}", 0), "100 MB", NULL);
  expect_error(write_raw("json.safetensors", 0, "{\"w\": {\"dtype\": \"F32\",", 0),
               "not valid JSON", NULL);
  expect_error(write_raw("dtype.safetensors", 0,
                         "{\"w\":{\"dtype\":\"F8_E9\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
               "'w'", "dtype 'F8_E9'");
  expect_error(write_raw("oob.safetensors", 0,
                         "{\"w\":{\"dtype\":\"F32\",\"shape\":[1000],\"data_offsets\":[0,4000]}}",
                         64),
               "'w'", "outside the data section");
  expect_error(write_raw("overlap.safetensors", 0,
                         "{\"w1\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                         "\"w2\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                         24),
               "overlaps", "'w1'");
  expect_error(write_raw("size.safetensors", 0,
                         "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", 12),
               "'w'", "does not match");
  /* A valid file cut short: first in its data, then inside its header. */
  char path[512];
  snprintf(path, sizeof path, "%s/rt.safetensors", dir);
  struct stat sb;
  stat(path, &sb);
  char cut[512];
  snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
  FILE *in = fopen(path, "rb"), *out = fopen(cut, "wb");
  for (off_t i = 0; i < sb.st_size - 6; i++)
    fputc(fgetc(in), out);
  fclose(in);
  fclose(out);
  expect_error(cut, "truncated", "'a_t'");
  CHECK(truncate(cut, 20) == 0);
  expect_error(cut, "truncated", NULL);
  CHECK(truncate(cut, 3) == 0);
  expect_error(cut, "truncated", NULL);
}

static void test_index(void) {
  /* Two shards and an index naming them; one entry pointing at the wrong shard is an error. */
  char p1[512], p2[512], idx[512];
  seer_error err = {0};
  int64_t s[1] = {4};
  seer_tensor *t = seer_tensor_full(SEER_DTYPE_F32, 1, s, 2.5, &err);
  const seer_tensor *ts[1] = {t};
  const char *n1[1] = {"x"}, *n2[1] = {"y"};
  snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", dir);
  snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", dir);
  snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
  CHECK(seer_st_save(p1, 1, n1, ts, &err) == 0);
  CHECK(seer_st_save(p2, 1, n2, ts, &err) == 0);
  FILE *f = fopen(idx, "w");
  fputs("{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
        "\"y\":\"model-00002-of-00002.safetensors\"}}",
        f);
  fclose(f);
  seer_safetensors *st = NULL;
  CHECK_MSG(seer_st_open_dir(dir, &st, &err) == 0, "%s", err.msg);
  if (st) {
    CHECK(seer_st_count(st) == 2);
    seer_tensor *y = seer_st_get(st, "y", &err);
    CHECK(y && seer_tensor_get_flat(y, 3) == 2.5);
    seer_tensor_release(y);
    seer_st_close(st);
  }
  f = fopen(idx, "w");
  fputs("{\"weight_map\":{\"x\":\"model-00002-of-00002.safetensors\"}}", f);
  fclose(f);
  CHECK(seer_st_open_dir(dir, &st, &err) != 0);
  CHECK_STR_CONTAINS(err.msg, "'x'");
  seer_tensor_release(t);
}

/* Hostile headers: shapes whose element count wraps in 64 bits passed as empty tensors, and a FIFO
 * planted as a shard blocked the open forever. */
static void test_hostile(void) {
  expect_error(write_raw("wrap.safetensors", 0,
                         "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                         "\"data_offsets\":[0,0]}}",
                         0),
               "'w'", "invalid shape");
  expect_error(write_raw("empty-huge.safetensors", 0,
                         "{\"w\":{\"dtype\":\"F32\",\"shape\":[0,1099511627776,1099511627776],"
                         "\"data_offsets\":[0,0]}}",
                         0),
               "'w'", "invalid shape");
  /* Still fine: an empty tensor of sensible dims. */
  seer_safetensors *st = NULL;
  seer_error err = {0};
  CHECK_MSG(seer_st_open(write_raw("empty.safetensors", 0,
                                   "{\"w\":{\"dtype\":\"F32\",\"shape\":[0,4096],"
                                   "\"data_offsets\":[0,0]}}",
                                   0),
                         &st, &err) == 0,
            "%s", err.msg);
  seer_st_close(st);
  char sub[300], fifo[400], idx[400];
  snprintf(sub, sizeof sub, "%s/fifo", dir);
  snprintf(fifo, sizeof fifo, "%s/model-00001-of-00001.safetensors", sub);
  snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", sub);
  CHECK(mkdir(sub, 0700) == 0 && mkfifo(fifo, 0600) == 0);
  FILE *f = fopen(idx, "w");
  fputs("{\"weight_map\":{\"x\":\"model-00001-of-00001.safetensors\"}}", f);
  fclose(f);
  alarm(60); /* the old code blocked in open(): die rather than hang the suite */
  st = NULL;
  CHECK(seer_st_open_dir(sub, &st, &err) == SEER_EFORMAT);
  alarm(0);
  CHECK_STR_CONTAINS(err.msg, "not a regular file");
  seer_st_close(st);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/seer-st-test-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  test_roundtrip();
  test_missing_name();
  test_corruptions();
  test_index();
  test_hostile();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
  return check_summary();
}
