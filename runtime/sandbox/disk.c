/* disk.c: owns measuring what a sandbox keeps on the host's disk: the host directories bound
 * writable into it (/run/seer, a session's workspace). Its own /workspace and /tmp are sized tmpfs
 * mounts the kernel bounds; these are not, so the supervisor walks them (every second) and kills
 * the sandbox when they grow past its disk quota. The walk goes through directory fds, never
 * follows a symlink, stays on the bind's file system and stops counting at a cap of entries, which
 * is itself a limit (a flood of empty files costs the host inodes). */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seer/sandbox.h"

#define MAX_DEPTH 64

static void walk(int dfd, dev_t dev, int depth, long long max_entries, seer_sandbox_disk *d) {
  DIR *dir = fdopendir(dfd);
  if (!dir) {
    close(dfd);
    return;
  }
  struct dirent *e;
  while ((e = readdir(dir)) != NULL && d->entries < max_entries) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != dev) continue;
    d->entries++;
    d->bytes += (long long)st.st_blocks * 512;
    if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
      int sub = openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) walk(sub, dev, depth + 1, max_entries, d);
    }
  }
  closedir(dir);
}

void seer_sandbox_disk_measure(const seer_sandbox_spec *spec, long long max_entries,
                               seer_sandbox_disk *d) {
  d->bytes = d->entries = 0;
  for (size_t i = 0; i < spec->nbinds; i++) {
    if (spec->binds[i].readonly) continue;
    int fd = open(spec->binds[i].dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0) continue;
    if (fstat(fd, &st) != 0) {
      close(fd);
      continue;
    }
    walk(fd, st.st_dev, 0, max_entries, d);
  }
}
