/* cachefs.c: the file operations the hub cache needs beyond seer/fs.h: the per-blob lock that
 * huggingface_hub's filelock also takes (flock on .locks/<repo>/<etag>.lock), free space before a
 * download, a file's sha256, and atomic symlink replacement for snapshot pointers. */
#include "seer/hub.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

int seer_hub_lock(const char *path, int wait) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  for (;;) {
    if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) return fd;
    if (errno != EINTR) break;
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

int64_t seer_hub_free_bytes(const char *path) {
  struct statvfs st;
  if (statvfs(path, &st) != 0) return -1;
  return (int64_t)st.f_bavail * (int64_t)st.f_frsize;
}

int seer_hub_sha256_file(const char *path, char out[65]) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  char *buf = malloc(1 << 20);
  int rc = -1;
  if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) goto done;
  for (;;) {
    ssize_t r = read(fd, buf, 1 << 20);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) goto done;
    if (r == 0) break;
    EVP_DigestUpdate(ctx, buf, (size_t)r);
  }
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned dl = 0;
  EVP_DigestFinal_ex(ctx, d, &dl);
  for (unsigned i = 0; i < dl && i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
  out[64] = 0;
  rc = 0;
done:;
  int saved = errno;
  EVP_MD_CTX_free(ctx);
  free(buf);
  close(fd);
  errno = saved;
  return rc;
}

int seer_hub_symlink(const char *target, const char *dst) {
  size_t n = strlen(dst) + 32;
  char *tmp = malloc(n);
  if (!tmp) return -1;
  snprintf(tmp, n, "%s.tmp-link-%ld", dst, (long)getpid());
  unlink(tmp);
  int rc = symlink(target, tmp);
  if (rc == 0) {
    rc = rename(tmp, dst);
    if (rc != 0) {
      int saved = errno;
      unlink(tmp);
      errno = saved;
    }
  }
  free(tmp);
  return rc;
}
