/* memory.c: owns measuring the memory a sandbox uses, for the supervisor's out-of-memory
 * watchdog (rlimits cannot bound it and cgroups are not assumed). Run inside the sandbox, where
 * /proc shows exactly its processes. Counted:
 *   - private memory: RssAnon of every process (statm resident minus shared);
 *   - tmpfs: the used blocks of the sandbox's own tmpfs mounts (/tmp, /dev/shm, /workspace), which
 *     are charged to no process;
 *   - shared memory outside those mounts: the proportional share (Pss_Shmem) of MAP_SHARED
 *     anonymous and other shmem mappings, System V segments (this IPC namespace's), and memfds
 *     held open but not mapped.
 * A tmpfs file or memfd that is also mapped is counted twice: the measure errs toward the limit,
 * never past it. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "seer/sandbox.h"

static const char *const tmpfs_mounts[] = {"/tmp", "/dev/shm", "/workspace"};

static ssize_t read_small(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n >= 0) buf[n] = '\0';
  return n;
}

static long long tmpfs_used(void) {
  long long total = 0;
  for (size_t i = 0; i < sizeof tmpfs_mounts / sizeof tmpfs_mounts[0]; i++) {
    struct statfs st;
    if (statfs(tmpfs_mounts[i], &st) == 0 && st.f_blocks >= st.f_bfree)
      total += (long long)(st.f_blocks - st.f_bfree) * (long long)st.f_bsize;
  }
  return total;
}

/* Pss_Shmem of one process, from smaps_rollup (the kernel walks its page tables: the slow part). */
static long long pss_shmem(const char *pid) {
  char path[300], buf[4096];
  snprintf(path, sizeof path, "/proc/%s/smaps_rollup", pid);
  if (read_small(path, buf, sizeof buf) <= 0) return 0;
  const char *line = strstr(buf, "\nPss_Shmem:");
  long long kb = 0;
  if (line && sscanf(line + 1, "Pss_Shmem: %lld", &kb) == 1) return kb * 1024;
  return 0;
}

typedef struct {
  ino_t ino[1024];
  dev_t dev[1024];
  size_t n;
} seen_files;

/* memfds open in one process, each file counted once across the whole sandbox. */
static long long open_memfds(const char *pid, seen_files *seen) {
  char dir[300];
  snprintf(dir, sizeof dir, "/proc/%s/fd", pid);
  DIR *d = opendir(dir);
  if (!d) return 0;
  long long total = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char path[600], target[64];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (strncmp(target, "/memfd:", 7) != 0) continue;
    struct stat st;
    if (stat(path, &st) != 0) continue;
    size_t i = 0;
    while (i < seen->n && !(seen->ino[i] == st.st_ino && seen->dev[i] == st.st_dev))
      i++;
    if (i < seen->n) continue;
    if (seen->n < sizeof seen->ino / sizeof seen->ino[0]) {
      seen->ino[seen->n] = st.st_ino;
      seen->dev[seen->n++] = st.st_dev;
    } /* past the table, files are counted again for each holder: more, never less */
    total += (long long)st.st_blocks * 512;
  }
  closedir(d);
  return total;
}

/* Resident size of this IPC namespace's System V shared memory segments. */
static long long sysv_shm(void) {
  FILE *f = fopen("/proc/sysvipc/shm", "re");
  if (!f) return 0;
  char line[512];
  long long total = 0;
  if (fgets(line, sizeof line, f)) /* header */
    while (fgets(line, sizeof line, f)) {
      long long v[16];
      int n = 0;
      for (char *tok = strtok(line, " \t\n"); tok && n < 16; tok = strtok(NULL, " \t\n"))
        v[n++] = atoll(tok);
      if (n >= 15) total += v[14]; /* rss, in bytes */
    }
  fclose(f);
  return total;
}

void seer_sandbox_memory_measure(seer_sandbox_memory *m, int refresh_shared) {
  DIR *d = opendir("/proc");
  long long priv = 0, shared = 0;
  long page = sysconf(_SC_PAGESIZE);
  seen_files *seen = refresh_shared ? calloc(1, sizeof *seen) : NULL;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char path[300], buf[128];
    snprintf(path, sizeof path, "/proc/%s/statm", e->d_name);
    long long size = 0, resident = 0, file_and_shmem = 0;
    if (read_small(path, buf, sizeof buf) > 0 &&
        sscanf(buf, "%lld %lld %lld", &size, &resident, &file_and_shmem) == 3)
      priv += (resident - file_and_shmem > 0 ? resident - file_and_shmem : 0) * page;
    if (seen) shared += pss_shmem(e->d_name) + open_memfds(e->d_name, seen);
  }
  if (d) closedir(d);
  if (seen) {
    m->shared = shared + sysv_shm();
    free(seen);
  }
  m->private_bytes = priv;
  m->tmpfs = tmpfs_used();
  m->total = m->private_bytes + m->tmpfs + m->shared;
}
