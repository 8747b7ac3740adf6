/* statedir.c: owns host state directories: creating them locked by their owner, removal through
 * directory fds, and the sweep of dead owners' directories (see seer/statedir.h). */
#include "seer/statedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper trees than this (which only a hostile sandbox makes) are left, with an error. */
#define MAX_DEPTH 128

int seer_statedir_create(const char *base, const char *prefix, char *out, size_t out_size,
                         int *fd_out, seer_error *err) {
  for (int attempt = 0; attempt < 100; attempt++) {
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s/.%s-new-XXXXXX", base, prefix);
    if (n < 0 || (size_t)n >= sizeof tmp)
      return seer_errorf(err, SEER_EINVAL, "tmpdir: path too long");
    if (!mkdtemp(tmp))
      return seer_error_errno(err, SEER_EIO, errno, "cannot create a directory in '%s'", base);
    const char *suffix = tmp + strlen(tmp) - 6;
    n = snprintf(out, out_size, "%s/%s-%s", base, prefix, suffix);
    int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int marker = fd < 0 ? -1
                        : openat(fd, SEER_STATEDIR_MARKER,
                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int e = errno;
    if (marker >= 0) close(marker);
    if (n < 0 || (size_t)n >= out_size) {
      e = ENAMETOOLONG;
      marker = -1;
    }
    if (marker >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
      if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_NOREPLACE) == 0) {
        *fd_out = fd;
        return SEER_OK;
      }
      e = errno;
    }
    if (fd >= 0) {
      unlinkat(fd, SEER_STATEDIR_MARKER, 0);
      close(fd);
    }
    rmdir(tmp);
    if (e != EEXIST) return seer_error_errno(err, SEER_EIO, e, "cannot create '%s'", out);
  }
  return seer_errorf(err, SEER_EIO, "cannot create a directory '%s-*' in '%s'", prefix, base);
}

static int remove_at(int dfd, const char *name, dev_t dev, int depth, seer_error *err);

static int remove_children(int fd, dev_t dev, int depth, seer_error *err) {
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = errno;
    close(fd);
    return seer_error_errno(err, SEER_EIO, e, "cannot list a directory to remove");
  }
  int rc = SEER_OK;
  struct dirent *e;
  while (rc == SEER_OK && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    rc = remove_at(dirfd(d), e->d_name, dev, depth + 1, err);
  }
  closedir(d);
  return rc;
}

static int remove_at(int dfd, const char *name, dev_t dev, int depth, seer_error *err) {
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? SEER_OK
                           : seer_error_errno(err, SEER_EIO, errno, "cannot remove '%s'", name);
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
      return seer_error_errno(err, SEER_EIO, errno, "cannot remove '%s'", name);
    return SEER_OK;
  }
  if (st.st_dev != dev)
    return seer_errorf(err, SEER_EIO, "cannot remove '%s': another file system is mounted there",
                       name);
  if (depth > MAX_DEPTH)
    return seer_errorf(err, SEER_EIO, "cannot remove '%s': nested deeper than %d", name, MAX_DEPTH);
  int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES) {
    /* A directory its writer made unreadable: open it up, through an fd that names exactly it. */
    int pfd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pfd >= 0) {
      char proc[64];
      snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
      if (chmod(proc, 0700) == 0)
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      close(pfd);
    }
  }
  if (fd < 0)
    return errno == ENOENT ? SEER_OK
                           : seer_error_errno(err, SEER_EIO, errno, "cannot open '%s'", name);
  if (remove_children(fd, dev, depth, err) != SEER_OK) return SEER_EIO;
  if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
    return seer_error_errno(err, SEER_EIO, errno, "cannot remove '%s'", name);
  return SEER_OK;
}

/* Splits path into an fd of its parent directory and its last component. */
static int open_parent(const char *path, char *name, size_t n, seer_error *err) {
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", path);
  size_t len = strlen(parent);
  while (len > 1 && parent[len - 1] == '/')
    parent[--len] = '\0';
  char *slash = strrchr(parent, '/');
  const char *base = slash ? slash + 1 : parent;
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
    seer_errorf(err, SEER_EINVAL, "cannot remove '%s': not a removable path", path);
    return -1;
  }
  snprintf(name, n, "%s", base);
  if (slash == parent)
    parent[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    snprintf(parent, sizeof parent, ".");
  int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) seer_error_errno(err, SEER_EIO, errno, "cannot open '%s'", parent);
  return fd;
}

int seer_statedir_remove(const char *path, seer_error *err) {
  char name[256];
  int pfd = open_parent(path, name, sizeof name, err);
  if (pfd < 0) return SEER_EIO;
  struct stat st;
  int rc = SEER_OK;
  if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
    rc = remove_at(pfd, name, st.st_dev, 0, err);
  else if (errno != ENOENT)
    rc = seer_error_errno(err, SEER_EIO, errno, "cannot remove '%s'", path);
  close(pfd);
  if (rc != SEER_OK) seer_error_prefix(err, "removing '%s'", path);
  return rc;
}

/* <prefix>-XXXXXX, as mkdtemp makes them. */
static int is_state_name(const char *name, const char *const *prefixes) {
  for (; *prefixes; prefixes++) {
    size_t n = strlen(*prefixes);
    if (strncmp(name, *prefixes, n) == 0 && name[n] == '-' && strlen(name + n + 1) == 6) return 1;
  }
  return 0;
}

int seer_statedir_sweep(const char *base, const char *const *prefixes, int *removed,
                        seer_error *err) {
  *removed = 0;
  int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (bfd < 0) return seer_error_errno(err, SEER_EIO, errno, "cannot open '%s'", base);
  DIR *d = fdopendir(bfd);
  if (!d) {
    close(bfd);
    return seer_error_errno(err, SEER_EIO, errno, "cannot list '%s'", base);
  }
  int rc = SEER_OK;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!is_state_name(e->d_name, prefixes)) continue;
    struct stat st;
    /* A user sweeps its own directories only. Root also sweeps those it handed to a sandbox's uid
     * (a session's workspace): the marker and a free lock say they are seer's and dead. */
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
        (geteuid() != 0 && st.st_uid != geteuid()))
      continue;
    int lock = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (lock < 0) continue;
    struct stat marker;
    if (fstatat(lock, SEER_STATEDIR_MARKER, &marker, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(marker.st_mode)) { /* not made by seer_statedir_create: never ours to judge */
      close(lock);
      continue;
    }
    if (flock(lock, LOCK_EX | LOCK_NB) == 0) { /* the owner is dead */
      seer_error one;
      if (remove_at(dirfd(d), e->d_name, st.st_dev, 0, &one) == SEER_OK)
        (*removed)++;
      else if (rc == SEER_OK)
        rc = seer_errorf(err, SEER_EIO, "sweeping '%s/%s': %s", base, e->d_name, one.msg);
    }
    close(lock);
  }
  closedir(d);
  return rc;
}
