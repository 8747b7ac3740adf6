/* init.c: owns starting a sandbox (`seer-lua __sandbox-init SPEC`). This process stays in the
 * host's namespaces: it clones the supervisor into new namespaces, writes its uid/gid maps, and
 * relays its exit. The supervisor is pid 1 of the sandbox: it builds the filesystem, drops
 * privileges, then reaps processes and enforces the memory and wall-clock limits until the host
 * closes its stdin. Lines on stdout tell the host what happens: "pid N", "ready", "error MSG",
 * "exit REASON". */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "seer/sandbox.h"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  /* One write per line, so the host never reads half a line from two writers. */
  ssize_t w = write(STDOUT_FILENO, line, (size_t)n);
  (void)w;
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int e = errno;
  close(fd);
  errno = e;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

static uid_t chown_uid;
static gid_t chown_gid;
static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *f) {
  return lchown(path, chown_uid, chown_gid) == 0 ? 0 : -1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* pid 1 of the sandbox. Never returns. */
static void supervise(const seer_sandbox_spec *spec, int tree_built) {
  seer_error err = {0, {0}};
  if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
    say("error sandbox: cannot become root inside the user namespace: %s", strerror(errno));
    _exit(1);
  }
  setgroups(0, NULL);        /* refused when setgroups is denied; nothing to drop then */
  prctl(PR_SET_DUMPABLE, 1); /* lets the host open /proc/<pid>/ns for __sandbox-exec */
  if ((!tree_built && seer_sandbox_build_tree(spec, &err) != SEER_OK) ||
      seer_sandbox_enter_root(spec, &err) != SEER_OK ||
      (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) != 0 &&
       seer_error_errno(&err, SEER_EIO, errno, "sandbox: sethostname")) ||
      (!spec->network && seer_sandbox_loopback_up(&err) != SEER_OK) ||
      seer_sandbox_apply_limits(spec->nofile, spec->pids, spec->cpus, &err) != SEER_OK) {
    say("error %s", err.msg);
    _exit(1);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seer_sandbox_seccomp_apply(&err) != SEER_OK) {
    say("error %s", err.code ? err.msg : "sandbox: cannot set no_new_privs");
    _exit(1);
  }
  say("ready");
  double started = now_s();
  for (;;) {
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    int r = poll(&p, 1, 20);
    if (r > 0) {
      char buf[256];
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) { /* the host closed our stdin (terminate) or went away */
        kill(-1, SIGKILL);
        say("exit terminated");
        _exit(0);
      }
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ;
    if (spec->memory_bytes > 0) {
      long long rss = seer_sandbox_tree_rss();
      if (rss > spec->memory_bytes) {
        kill(-1, SIGKILL);
        say("exit killed (out of memory: %lld MiB resident, limit %lld MiB)", rss >> 20,
            spec->memory_bytes >> 20);
        _exit(137);
      }
    }
    if (spec->timeout_s > 0 && now_s() - started > spec->timeout_s) {
      kill(-1, SIGKILL);
      say("exit killed (timeout after %g s)", spec->timeout_s);
      _exit(124);
    }
  }
}

static pid_t supervisor_pid;
static void forward_kill(int sig) {
  if (supervisor_pid > 0) kill(supervisor_pid, SIGKILL);
}

int seer_sandbox_init_main(int argc, char **argv) {
  if (argc < 2) {
    say("error usage: seer-lua __sandbox-init SPEC.json");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* the host runtime went away: so does the sandbox */
  seer_sandbox_spec spec;
  seer_error err = {0, {0}};
  if (seer_sandbox_spec_load(argv[1], &spec, &err) != SEER_OK) {
    say("error %s", err.msg);
    return 1;
  }
  uid_t uid = getuid();
  gid_t gid = getgid();
  /* As root, the sandbox runs as an unprivileged host uid: the kernel then enforces its process
   * limit (root is exempt) and an escape would land without privileges. */
  uid_t kuid = uid == 0 ? (uid_t)(100000 + getpid() % 60000) : uid;
  gid_t kgid = uid == 0 ? (gid_t)kuid : gid;
  if (uid == 0) {
    chown_uid = kuid;
    chown_gid = kgid;
    for (size_t i = 0; i < spec.nwritable; i++)
      if (nftw(spec.writable[i], chown_entry, 16, FTW_PHYS) != 0) {
        say("error sandbox: cannot hand '%s' to the sandbox user: %s", spec.writable[i],
            strerror(errno));
        return 1;
      }
  }
  if (uid == 0) {
    /* As root, the tree is built here with the host's credentials, in a private mount namespace,
     * so that binds of paths the sandbox's own uid could not reach (a model under /root/.cache, a
     * build tree in a home directory) work; the child inherits a copy. An unprivileged user's
     * sandbox runs as that user, who can reach the same paths, so its child builds the tree. */
    if (unshare(CLONE_NEWNS) != 0 || seer_sandbox_build_tree(&spec, &err) != SEER_OK) {
      say("error %s", err.code ? err.msg : "sandbox: cannot create a mount namespace");
      return 1;
    }
  }
  if (uid == 0) {
    /* The sandbox's uid must be able to walk to its root mount point. */
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", spec.root);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) *slash = '\0';
    if (chmod(parent, 0711) != 0 || chmod(spec.root, 0755) != 0) {
      say("error sandbox: cannot open up '%s' for the sandbox: %s", spec.root, strerror(errno));
      return 1;
    }
  }
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) {
    say("error sandbox: pipe: %s", strerror(errno));
    return 1;
  }
  unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
  if (!spec.network) flags |= CLONE_NEWNET;
  fflush(stdout);
  pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid < 0) {
    say("error sandbox: cannot create namespaces: %s (are user namespaces enabled?)",
        strerror(errno));
    return 1;
  }
  if (pid == 0) {
    close(sync[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char go;
    if (read(sync[0], &go, 1) != 1) _exit(1); /* the parent failed to map us */
    close(sync[0]);
    supervise(&spec, uid == 0);
  }
  close(sync[0]);
  supervisor_pid = pid;
  char path[64], map[64];
  snprintf(path, sizeof path, "/proc/%d/setgroups", pid);
  write_file(path, "deny"); /* required before gid_map for unprivileged users */
  snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
  snprintf(map, sizeof map, "0 %u 1\n", (unsigned)kuid);
  int ok = write_file(path, map) == 0;
  snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
  snprintf(map, sizeof map, "0 %u 1\n", (unsigned)kgid);
  ok = ok && write_file(path, map) == 0;
  if (!ok) {
    say("error sandbox: cannot write the uid/gid map of the sandbox: %s", strerror(errno));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
  }
  say("pid %d", (int)pid);
  if (write(sync[1], "g", 1) != 1) {
    kill(pid, SIGKILL);
    return 1;
  }
  close(sync[1]);
  signal(SIGTERM, forward_kill);
  signal(SIGINT, forward_kill);
  signal(SIGHUP, forward_kill);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  seer_sandbox_spec_free(&spec);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  say("exit killed (signal %d)", WTERMSIG(status));
  return 128 + WTERMSIG(status);
}
