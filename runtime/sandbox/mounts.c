/* mounts.c: owns the sandbox filesystem: a tmpfs root holding read-only binds of system
 * directories, a minimal /dev, a fresh /proc, sized tmpfs /tmp and /workspace and the configured
 * binds, then pivot_root into it so that nothing else of the host is reachable. Also brings
 * loopback up. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seer/fs.h"
#include "seer/sandbox.h"

/* Size option of a sandbox tmpfs: the configured bytes, at least a page; 0 means 1 GiB. */
static long long tmpfs_size(long long bytes) {
  if (bytes <= 0) return 1LL << 30;
  return bytes < 4096 ? 4096 : bytes;
}

static int path_in_root(char *out, size_t n, const char *root, const char *path) {
  int w = snprintf(out, n, "%s%s", root, path);
  return w > 0 && (size_t)w < n ? 0 : -1;
}

/* Creates the mount point for src: a directory for directories, an empty file otherwise. */
static int make_mountpoint(const char *target, int is_dir, seer_error *err) {
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", target);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    if (seer_fs_mkdir_p(parent, 0755, err) != SEER_OK) return err ? err->code : SEER_EIO;
  }
  if (is_dir) return seer_fs_mkdir_p(target, 0755, err);
  int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot create mount point '%s'",
                            target);
  close(fd);
  return SEER_OK;
}

/* Read-only remount of a bind must keep the flags the kernel locked on the source mount. */
static unsigned long locked_flags(const char *path) {
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs(path, &sv) != 0) return 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

static int bind_path(const seer_sandbox_bind *b, const char *target, seer_error *err) {
  const char *src = b->src;
  struct stat st;
  if (stat(src, &st) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot bind '%s'", src);
  if (make_mountpoint(target, S_ISDIR(st.st_mode), err) != SEER_OK) return SEER_EIO;
  int readonly = b->readonly;
  if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: bind '%s' -> '%s' failed", src, target);
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | locked_flags(target);
  if (readonly) flags |= MS_RDONLY;
  if (mount(NULL, target, NULL, flags, NULL) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: remounting '%s' %s failed", target,
                            readonly ? "read-only" : "nosuid");
  return SEER_OK;
}

/* The configured device nodes (a GPU's /dev/nvidia*), each bound at /dev/<name>. Unlike the
 * harmless nodes above, a missing one is an error: the host checked they exist before it asked. */
static int bind_devices(const seer_sandbox_spec *spec, const char *dev, seer_error *err) {
  char p[4096];
  for (size_t i = 0; i < spec->ndevices; i++) {
    const seer_sandbox_bind *d = &spec->devices[i];
    int w = snprintf(p, sizeof p, "%s/%s", dev, d->dst);
    if (w < 0 || (size_t)w >= sizeof p)
      return seer_errorf(err, SEER_EINVAL, "sandbox: device name too long: %s", d->dst);
    struct stat st;
    if (stat(d->src, &st) != 0)
      return seer_error_errno(err, SEER_EIO, errno, "sandbox: device '%s' is not there", d->src);
    if (S_ISDIR(st.st_mode))
      return seer_errorf(err, SEER_EINVAL, "sandbox: device '%s' is a directory", d->src);
    if (make_mountpoint(p, 0, err) != SEER_OK) return SEER_EIO;
    if (mount(d->src, p, NULL, MS_BIND, NULL) != 0)
      return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot bind device %s", d->src);
    if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NOEXEC | locked_flags(p),
              NULL) != 0)
      return seer_error_errno(err, SEER_EIO, errno, "sandbox: remounting device %s nosuid failed",
                              d->src);
  }
  return SEER_OK;
}

static int build_dev(const seer_sandbox_spec *spec, const char *root, seer_error *err) {
  char dev[2048], p[4096];
  path_in_root(dev, sizeof dev, root, "/dev");
  if (seer_fs_mkdir_p(dev, 0755, err) != SEER_OK) return SEER_EIO;
  if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m") != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot mount /dev");
  /* Device nodes cannot be created in a user namespace, so the harmless ones are bound in. */
  static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
    char src[64];
    snprintf(src, sizeof src, "/dev/%s", nodes[i]);
    snprintf(p, sizeof p, "%s/%s", dev, nodes[i]);
    if (access(src, F_OK) != 0) continue;
    if (make_mountpoint(p, 0, err) != SEER_OK) return SEER_EIO;
    if (mount(src, p, NULL, MS_BIND, NULL) != 0)
      return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot bind %s", src);
  }
  if (bind_devices(spec, dev, err) != SEER_OK) return SEER_EIO;
  static const char *const links[][2] = {{"fd", "/proc/self/fd"},
                                         {"stdin", "/proc/self/fd/0"},
                                         {"stdout", "/proc/self/fd/1"},
                                         {"stderr", "/proc/self/fd/2"}};
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dev, links[i][0]);
    if (symlink(links[i][1], p) != 0)
      return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot link /dev/%s", links[i][0]);
  }
  snprintf(p, sizeof p, "%s/shm", dev);
  mkdir(p, 01777);
  if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m") != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot mount /dev/shm");
  return SEER_OK;
}

int seer_sandbox_build_tree(const seer_sandbox_spec *spec, seer_error *err) {
  const char *root = spec->root;
  char p[4096];
  /* Nothing mounted from here on may propagate back to the host. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot make mounts private");
  if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m") != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot mount the root tmpfs on '%s'",
                            root);
  /* /tmp first: binds below it (a session's workspace, its interface sockets) then land on it. */
  path_in_root(p, sizeof p, root, "/tmp");
  mkdir(p, 01777);
  /* Sized, so that filling it fails with ENOSPC rather than taking the host's shared memory. */
  char opts[64];
  snprintf(opts, sizeof opts, "mode=1777,size=%lld", tmpfs_size(spec->tmp_bytes));
  if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot mount /tmp");
  for (size_t i = 0; i < spec->nbinds; i++) {
    const seer_sandbox_bind *b = &spec->binds[i];
    if (b->optional && access(b->src, F_OK) != 0) continue;
    if (path_in_root(p, sizeof p, root, b->dst) != 0)
      return seer_errorf(err, SEER_EINVAL, "sandbox: path too long: %s", b->dst);
    if (bind_path(b, p, err) != SEER_OK) return SEER_EIO;
  }
  for (size_t i = 0; i < spec->nlinks; i++) {
    path_in_root(p, sizeof p, root, spec->links[i].path);
    if (symlink(spec->links[i].target, p) != 0 && errno != EEXIST)
      return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot create link '%s'",
                              spec->links[i].path);
  }
  if (build_dev(spec, root, err) != SEER_OK) return SEER_EIO;
  /* Mount points for what enter_root adds, made now while the root is still writable. */
  path_in_root(p, sizeof p, root, "/proc");
  mkdir(p, 0555);
  path_in_root(p, sizeof p, root, "/workspace");
  mkdir(p, 0755);
  path_in_root(p, sizeof p, root, "/.oldroot");
  mkdir(p, 0700);
  return SEER_OK;
}

int seer_sandbox_enter_root(const seer_sandbox_spec *spec, seer_error *err) {
  const char *root = spec->root;
  char p[4096];
  /* A tree built in a more privileged mount namespace arrives locked, and pivot_root refuses a
   * locked new root; a recursive bind of it onto itself is a fresh, unlocked mount. */
  if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot bind the root '%s'", root);
  /* A new proc for the new pid namespace; mounted while the host's /proc is still visible, which
   * the kernel requires before it lets a user namespace mount proc. */
  path_in_root(p, sizeof p, root, "/proc");
  if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot mount /proc");
  /* The workspace: a tmpfs of the configured disk size (the quota; the kernel answers ENOSPC
   * past it), mounted here by the sandbox's root so that it owns it. It ends with the sandbox,
   * and its use counts toward the memory limit (memory.c). */
  path_in_root(p, sizeof p, root, "/workspace");
  char opts[64];
  snprintf(opts, sizeof opts, "mode=0755,size=%lld", tmpfs_size(spec->disk_bytes));
  if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot mount /workspace");
  if (chdir(root) != 0 || syscall(SYS_pivot_root, ".", ".oldroot") != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: pivot_root into '%s' failed", root);
  if (chdir("/") != 0 || umount2("/.oldroot", MNT_DETACH) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot detach the host root");
  /* The root itself is read-only; /tmp, /dev/shm and writable binds stay writable. */
  if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot make the root read-only");
  return SEER_OK;
}

int seer_sandbox_loopback_up(seer_error *err) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return seer_error_errno(err, SEER_EIO, errno, "sandbox: socket for loopback");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
  if (rc == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  int e = errno;
  close(fd);
  return rc == 0 ? SEER_OK
                 : seer_error_errno(err, SEER_EIO, e, "sandbox: cannot bring loopback up");
}
