/* weights_mem: a model directory opened with SEER_WEIGHTS=map, copy and auto gives the same tensor
 * bytes; the copy is 2 MiB-aligned, read-only and private (RssAnon grows by it); an unknown
 * SEER_WEIGHTS value is refused with a message naming it; single files (tensor.load) are mapped
 * whatever the policy says; closing leaves no mapping behind. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "seer/safetensors.h"

static char dir[256], file[320];

static void write_model(void) {
  seer_error err = {0};
  int64_t shape[2] = {256, 1024}; /* 1 MiB of f32: the copy spans half a huge page */
  seer_tensor *a = seer_tensor_randn(SEER_DTYPE_F32, 2, shape, 11, &err);
  CHECK(a != NULL);
  const seer_tensor *ts[1] = {a};
  const char *names[1] = {"w"};
  snprintf(file, sizeof file, "%s/model.safetensors", dir);
  CHECK(seer_st_save(file, 1, names, ts, &err) == 0);
  seer_tensor_release(a);
}

static long rss_anon_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "RssAnon:", 8)) v = atol(line + 8);
  if (f) fclose(f);
  return v;
}

static sigjmp_buf on_segv;
static void segv(int sig) {
  (void)sig;
  siglongjmp(on_segv, 1);
}

/* Opens the directory under `policy` and returns the tensor (the set stays open through it). */
static seer_tensor *open_w(const char *policy, seer_safetensors **st) {
  setenv("SEER_WEIGHTS", policy, 1);
  seer_error err = {0};
  CHECK_MSG(seer_st_open_dir(dir, st, &err) == 0, "%s: %s", policy, err.msg);
  seer_tensor *t = *st ? seer_st_get(*st, "w", &err) : NULL;
  CHECK_MSG(t != NULL, "%s: %s", policy, err.msg);
  return t;
}

static void test_same_bytes(void) {
  seer_safetensors *sm = NULL, *sc = NULL, *sa = NULL;
  seer_tensor *m = open_w("map", &sm);
  long before = rss_anon_kb();
  seer_tensor *c = open_w("copy", &sc);
  long after = rss_anon_kb();
  seer_tensor *a = open_w("auto", &sa);
  size_t n = (size_t)256 * 1024 * sizeof(float);
  CHECK(m && c && a);
  if (!(m && c && a)) return;
  CHECK(memcmp(seer_tensor_data(m), seer_tensor_data(c), n) == 0);
  CHECK(memcmp(seer_tensor_data(m), seer_tensor_data(a), n) == 0);
  CHECK(seer_tensor_data(m) != seer_tensor_data(c));
  /* The copy's file image starts on a 2 MiB boundary: the tensor sits just past the header. */
  uintptr_t in_page = (uintptr_t)seer_tensor_data(c) & (uintptr_t)((2u << 20) - 1);
  CHECK_MSG(in_page < 4096, "the copy does not start on a 2 MiB boundary (offset %zu)",
            (size_t)in_page);
  CHECK_MSG(after - before >= 1024, "RssAnon grew by %ld KiB for a 1 MiB copy", after - before);
  /* Read-only, like the mapping: a write faults. */
  struct sigaction sa_new = {0}, sa_old;
  sa_new.sa_handler = segv;
  sigaction(SIGSEGV, &sa_new, &sa_old);
  volatile int faulted = 0;
  if (sigsetjmp(on_segv, 1) == 0)
    ((volatile float *)seer_tensor_data(c))[0] = 1.0f;
  else
    faulted = 1;
  sigaction(SIGSEGV, &sa_old, NULL);
  CHECK_MSG(faulted, "a write into the copied weights did not fault");
  seer_tensor_release(m), seer_tensor_release(c), seer_tensor_release(a);
  seer_st_close(sm), seer_st_close(sc), seer_st_close(sa);
}

/* Address space in use (VmSize, KiB): leftover reservations merge into neighbouring ranges, so
 * counting /proc/self/maps lines would not see them. */
static long vm_size_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmSize:", 7)) v = atol(line + 7);
  if (f) fclose(f);
  return v;
}

/* Opening and closing leaves no address-space reservation behind (the file's size is not a whole
 * number of pages, so a slack range rounded wrongly would stay mapped). */
static void test_no_leftover(void) {
  seer_safetensors *st = NULL;
  seer_error err = {0};
  const char *policies[2] = {"map", "copy"};
  for (int k = 0; k < 2; k++) {
    setenv("SEER_WEIGHTS", policies[k], 1);
    CHECK(seer_st_open_dir(dir, &st, &err) == 0); /* a first open may grow other mappings */
    seer_st_close(st);
    long before = vm_size_kb();
    for (int i = 0; i < 20; i++) {
      CHECK(seer_st_open_dir(dir, &st, &err) == 0);
      seer_st_close(st);
    }
    /* A leftover slack would be up to 2 MiB per open: 20 opens, well past this bound. */
    long grew = vm_size_kb() - before;
    CHECK_MSG(grew < 4096, "%s: address space grew by %ld KiB over 20 opens", policies[k], grew);
  }
  unsetenv("SEER_WEIGHTS");
}

static void test_bad_policy(void) {
  setenv("SEER_WEIGHTS", "hugepages", 1);
  seer_safetensors *st = NULL;
  seer_error err = {0};
  CHECK(seer_st_open_dir(dir, &st, &err) == SEER_EINVAL);
  CHECK(st == NULL);
  CHECK_STR_CONTAINS(err.msg, "SEER_WEIGHTS='hugepages'");
  CHECK_STR_CONTAINS(err.msg, "map, copy or auto");
  /* A single file is always mapped: the policy is not even read. */
  CHECK(seer_st_open(file, &st, &err) == 0);
  seer_st_close(st);
  unsetenv("SEER_WEIGHTS");
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/seer-weights-test-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  write_model();
  test_same_bytes();
  test_no_leftover();
  test_bad_policy();
  unlink(file);
  rmdir(dir);
  return check_summary();
}
