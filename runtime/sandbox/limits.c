/* limits.c: owns resource limits without cgroups: rlimits for processes, open files and CPU time,
 * and CPU affinity for the CPU count (held because seccomp denies sched_setaffinity inside). The
 * memory limit is the supervisor's watchdog (memory.c), since rlimits cannot bound it. */
#include <errno.h>
#include <sched.h>
#include <sys/resource.h>

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

int seer_sandbox_apply_limits(long long nofile, long long pids, int cpus, long long cpu_seconds,
                              seer_error *err) {
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  if (nofile > 0 && set_limit(RLIMIT_NOFILE, nofile, "open files", err) != SEER_OK) return SEER_EIO;
  /* Counted per user inside the sandbox's user namespace, whose uid is never the host's root. */
  if (pids > 0 && set_limit(RLIMIT_NPROC, pids, "process", err) != SEER_OK) return SEER_EIO;
  /* CPU seconds per process: the kernel kills (SIGKILL) a process that has used them up. */
  if (cpu_seconds > 0 && set_limit(RLIMIT_CPU, cpu_seconds, "CPU time", err) != SEER_OK)
    return SEER_EIO;
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
