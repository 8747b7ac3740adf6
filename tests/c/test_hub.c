/* runtime/hub without a server: sha256 of files, the blob lock, atomic symlink replacement, and the
 * transfer engine's local decisions: a partial file that is already whole is verified instead of
 * fetched (and deleted when its sha256 is wrong), non-http(s) URLs are refused, and a refused
 * connection is retried and then reported. The network paths are tested in tests/lua/hub_spec.lua
 * against tests/peers/hub_server.py. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "seer/hub.h"

static char dir[] = "/tmp/seer-test-hub-XXXXXX";

static void write_file(const char *p, const char *data) {
  FILE *f = fopen(p, "wb");
  fputs(data, f);
  fclose(f);
}

static int run(seer_hub_job *jobs, size_t n, const seer_hub_opts *o) {
  char err[128];
  seer_hub_transfer *t = seer_hub_transfer_start(jobs, n, o, err, sizeof err);
  if (!t) return -1;
  int guard = 0;
  while (!seer_hub_transfer_step(t, 50) && guard++ < 2000) {
  }
  seer_hub_transfer_free(t);
  return 0;
}

static void test_sha_lock_symlink(void) {
  char p[256], out[65];
  snprintf(p, sizeof p, "%s/abc", dir);
  write_file(p, "abc");
  CHECK(seer_hub_sha256_file(p, out) == 0);
  CHECK(strcmp(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);

  char lock[256];
  snprintf(lock, sizeof lock, "%s/x.lock", dir);
  int a = seer_hub_lock(lock, 0);
  CHECK(a >= 0);
  int b = seer_hub_lock(lock, 0); /* flock: a second open file description conflicts */
  CHECK(b == -1 && errno == EWOULDBLOCK);
  close(a);
  b = seer_hub_lock(lock, 0);
  CHECK(b >= 0);
  close(b);

  char link[256], target[256];
  snprintf(link, sizeof link, "%s/link", dir);
  CHECK(seer_hub_symlink("../blobs/one", link) == 0);
  CHECK(seer_hub_symlink("../blobs/two", link) == 0); /* replaced, not EEXIST */
  ssize_t n = readlink(link, target, sizeof target - 1);
  CHECK(n > 0);
  target[n > 0 ? n : 0] = 0;
  CHECK(strcmp(target, "../blobs/two") == 0);
  CHECK(seer_hub_free_bytes(dir) > 0);
}

static void test_whole_partial_files(void) {
  char good[256], bad[256];
  snprintf(good, sizeof good, "%s/good.incomplete", dir);
  snprintf(bad, sizeof bad, "%s/bad.incomplete", dir);
  write_file(good, "abc");
  write_file(bad, "abd");
  const char *sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  /* Port 1 refuses connections: these jobs must not need the network at all. */
  seer_hub_job jobs[2] = {
      {.url = "http://127.0.0.1:1/x", .dest = good, .expect_size = 3, .expect_sha256 = sha},
      {.url = "http://127.0.0.1:1/x", .dest = bad, .expect_size = 3, .expect_sha256 = sha},
  };
  seer_hub_opts o = {.retries = 0};
  CHECK(run(jobs, 2, &o) == 0);
  CHECK(jobs[0].error == SEER_HUB_OK && jobs[0].file_bytes == 3);
  CHECK(jobs[1].error == SEER_HUB_SHA);
  CHECK_STR_CONTAINS(jobs[1].message, "sha256 mismatch");
  CHECK(access(bad, F_OK) != 0); /* deleted */
  CHECK(access(good, F_OK) == 0);
  for (int i = 0; i < 2; i++)
    seer_hub_job_clear(&jobs[i]);
}

static void test_refusals(void) {
  seer_hub_job jobs[2] = {
      {.url = "file:///etc/passwd", .expect_size = -1},
      {.url = "http://127.0.0.1:1/x", .expect_size = -1},
  };
  seer_hub_opts o = {.retries = 1, .backoff_s = 0.01};
  CHECK(run(jobs, 2, &o) == 0);
  CHECK(jobs[0].error == SEER_HUB_HEADERS && jobs[0].attempts == 1);
  CHECK_STR_CONTAINS(jobs[0].message, "scheme other than http");
  CHECK(jobs[0].body == NULL || jobs[0].body_len == 0);
  CHECK(jobs[1].error == SEER_HUB_NETWORK);
  CHECK_MSG(jobs[1].attempts == 2, "attempts %d", jobs[1].attempts); /* one retry */
  for (int i = 0; i < 2; i++)
    seer_hub_job_clear(&jobs[i]);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  test_sha_lock_symlink();
  test_whole_partial_files();
  test_refusals();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return check_summary();
}
