/* limits.c: owns resource limits without cgroups: rlimits for processes and open files, CPU
 * affinity for the CPU count, and measuring the resident memory of the whole sandbox tree (the
 * supervisor's out-of-memory watchdog uses it, since rlimits cannot bound resident memory). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "seer/sandbox.h"

static int set_limit(int resource, long long value, const char *name, seer_error *err) {
  struct rlimit rl = {(rlim_t)value, (rlim_t)value};
  struct rlimit cur;
  if (getrlimit(resource, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && rl.rlim_max > cur.rlim_max)
    rl.rlim_cur = rl.rlim_max = cur.rlim_max; /* cannot raise past the hard limit; keep it */
  if (setrlimit(resource, &rl) != 0)
    return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot set the %s limit", name);
  return SEER_OK;
}

int seer_sandbox_apply_limits(long long nofile, long long pids, int cpus, seer_error *err) {
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  if (nofile > 0 && set_limit(RLIMIT_NOFILE, nofile, "open files", err) != SEER_OK) return SEER_EIO;
  /* Counted per user inside the sandbox's user namespace, whose uid is never the host's root. */
  if (pids > 0 && set_limit(RLIMIT_NPROC, pids, "process", err) != SEER_OK) return SEER_EIO;
  if (cpus > 0) {
    cpu_set_t have, want;
    CPU_ZERO(&want);
    if (sched_getaffinity(0, sizeof have, &have) == 0) {
      int n = 0;
      for (int c = 0; c < CPU_SETSIZE && n < cpus; c++)
        if (CPU_ISSET(c, &have)) {
          CPU_SET(c, &want);
          n++;
        }
      if (sched_setaffinity(0, sizeof want, &want) != 0)
        return seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot restrict CPUs");
    }
  }
  return SEER_OK;
}

/* Sum of VmRSS over every process visible in /proc (inside the sandbox: exactly its tree). */
long long seer_sandbox_tree_rss(void) {
  DIR *d = opendir("/proc");
  if (!d) return -1;
  long long total = 0;
  long page = sysconf(_SC_PAGESIZE);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char path[300], buf[128];
    snprintf(path, sizeof path, "/proc/%s/statm", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    long long size = 0, resident = 0, shared = 0;
    if (sscanf(buf, "%lld %lld %lld", &size, &resident, &shared) == 3)
      total += (resident - shared > 0 ? resident - shared : 0) * page;
  }
  closedir(d);
  return total;
}
