/* fs.c: owns file-level helpers (read, atomic write, mkdir -p, listing, tree removal, tmpdirs). */
#include "seer/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int seer_fs_read(const char *path, seer_buf *out, seer_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return seer_error_errno(err, SEER_EIO, errno, "cannot open '%s'", path);
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return seer_errorf(err, SEER_EIO, "cannot read '%s': it is a directory", path);
  }
  if (st.st_size > 0 && seer_buf_reserve(out, (size_t)st.st_size)) {
    close(fd);
    return seer_errorf(err, SEER_ENOMEM, "cannot read '%s': out of memory", path);
  }
  for (;;) {
    if (seer_buf_reserve(out, 65536)) {
      close(fd);
      return seer_errorf(err, SEER_ENOMEM, "cannot read '%s': out of memory", path);
    }
    ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return seer_error_errno(err, SEER_EIO, e, "cannot read '%s'", path);
    }
    if (n == 0) break;
    out->len += (size_t)n;
  }
  close(fd);
  seer_buf_terminate(out);
  return SEER_OK;
}

int seer_fs_write_atomic(const char *path, const void *data, size_t len, seer_error *err) {
  return seer_fs_write_atomic_mode(path, data, len, -1, err);
}

int seer_fs_write_atomic_mode(const char *path, const void *data, size_t len, int mode,
                              seer_error *err) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 32);
  if (!tmp) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  snprintf(tmp, plen + 32, "%s.tmp.XXXXXX", path);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return seer_error_errno(err, SEER_EIO, e, "cannot write '%s'", path);
  }
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      unlink(tmp);
      free(tmp);
      return seer_error_errno(err, SEER_EIO, e, "cannot write '%s'", path);
    }
    p += n;
    left -= (size_t)n;
  }
  /* mkostemp creates 0600; give the file the mode asked for, or the usual umask-derived one. */
  if (mode < 0) {
    mode_t mask = umask(0);
    umask(mask);
    mode = (int)(0666 & ~mask);
  }
  fchmod(fd, (mode_t)mode & 07777);
  if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    free(tmp);
    return seer_error_errno(err, SEER_EIO, e, "cannot write '%s'", path);
  }
  free(tmp);
  return SEER_OK;
}

int seer_fs_mkdir_p(const char *path, int mode, seer_error *err) {
  size_t len = strlen(path);
  if (len == 0) return seer_errorf(err, SEER_EINVAL, "mkdir: empty path");
  char *p = strdup(path);
  if (!p) return seer_errorf(err, SEER_ENOMEM, "out of memory");
  for (size_t i = 1; i <= len; i++) {
    if (p[i] != '/' && p[i] != '\0') continue;
    char saved = p[i];
    p[i] = '\0';
    if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
      int e = errno;
      int rc = seer_error_errno(err, SEER_EIO, e, "cannot create directory '%s'", p);
      free(p);
      return rc;
    }
    p[i] = saved;
  }
  free(p);
  if (seer_fs_kind(path) != SEER_FS_DIR)
    return seer_errorf(err, SEER_EIO, "cannot create directory '%s': a file is in the way", path);
  return SEER_OK;
}

int seer_fs_kind(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return SEER_FS_NONE;
  if (S_ISREG(st.st_mode)) return SEER_FS_FILE;
  if (S_ISDIR(st.st_mode)) return SEER_FS_DIR;
  return SEER_FS_OTHER;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int seer_fs_list(const char *path, char ***names, size_t *count, seer_error *err) {
  *names = NULL;
  *count = 0;
  DIR *d = opendir(path);
  if (!d) return seer_error_errno(err, SEER_EIO, errno, "cannot list '%s'", path);
  size_t cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (*count == cap) {
      cap = cap ? cap * 2 : 16;
      char **grown = realloc(*names, cap * sizeof **names);
      if (!grown) goto oom;
      *names = grown;
    }
    if (!((*names)[*count] = strdup(e->d_name))) goto oom;
    (*count)++;
  }
  closedir(d);
  if (*count > 1) qsort(*names, *count, sizeof **names, compare_names); /* NULL when empty */
  return SEER_OK;
oom:
  closedir(d);
  seer_fs_list_free(*names, *count);
  *names = NULL;
  *count = 0;
  return seer_errorf(err, SEER_ENOMEM, "out of memory listing '%s'", path);
}

void seer_fs_list_free(char **names, size_t count) {
  for (size_t i = 0; i < count; i++)
    free(names[i]);
  free(names);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int seer_fs_remove_tree(const char *path, seer_error *err) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? SEER_OK
                           : seer_error_errno(err, SEER_EIO, errno, "cannot remove '%s'", path);
  /* FTW_PHYS: never follow a symlink out of the tree being removed. */
  if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "cannot remove '%s'", path);
  return SEER_OK;
}

int seer_fs_tmpdir(const char *prefix, char *out, size_t out_size, seer_error *err) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  int n = snprintf(out, out_size, "%s/%s-XXXXXX", base, prefix && *prefix ? prefix : "seer");
  if (n < 0 || (size_t)n >= out_size) return seer_errorf(err, SEER_EINVAL, "tmpdir: path too long");
  if (!mkdtemp(out))
    return seer_error_errno(err, SEER_EIO, errno, "cannot create a directory in '%s'", base);
  return SEER_OK;
}
