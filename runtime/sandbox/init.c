/* init.c: owns starting a sandbox (`seer-sandbox init SPEC`). This process stays in the host's
 * namespaces, where nothing in the sandbox can reach it: it clones the supervisor into new
 * namespaces, writes its uid/gid maps, keeps a descriptor of each of its namespaces, hands them to
 * `seer-sandbox exec` over a socket in the host-only state directory, and relays the supervisor's
 * exit. The supervisor is pid 1 of the sandbox: it builds the filesystem, drops privileges, makes
 * itself non-dumpable (so that no process in the sandbox can open its memory or take its fds),
 * then reaps processes and enforces the memory and wall-clock limits until the host closes its
 * stdin. Only pid 1 and this process hold the stdout pipe, whose lines tell the host what happens:
 * "pid N", "ready", "error MSG", "exit REASON". */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
  setgroups(0, NULL); /* refused when setgroups is denied; nothing to drop then */
  /* Nothing in the sandbox may ptrace-access pid 1: not /proc/1/mem, /proc/1/fd, nor pidfd_getfd.
   * Its memory was created in the host's user namespace, where the sandbox has no capabilities. */
  if (prctl(PR_SET_DUMPABLE, 0) != 0) {
    say("error sandbox: cannot make the supervisor non-dumpable: %s", strerror(errno));
    _exit(1);
  }
  if ((!tree_built && seer_sandbox_build_tree(spec, &err) != SEER_OK) ||
      seer_sandbox_enter_root(spec, &err) != SEER_OK ||
      (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) != 0 &&
       seer_error_errno(&err, SEER_EIO, errno, "sandbox: sethostname")) ||
      (!spec->network && seer_sandbox_loopback_up(&err) != SEER_OK) ||
      /* No CPU-time limit here: it is for the commands (exec.c), not for this watchdog. */
      seer_sandbox_apply_limits(spec->nofile, spec->pids, spec->cpus, 0, &err) != SEER_OK) {
    say("error %s", err.msg);
    _exit(1);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || seer_sandbox_seccomp_apply(&err) != SEER_OK) {
    say("error %s", err.code ? err.msg : "sandbox: cannot set no_new_privs");
    _exit(1);
  }
  say("ready");
  double started = now_s();
  seer_sandbox_memory mem = {0, 0, 0, 0};
  /* Host directories bound writable may grow by the disk quota, and by 100000 entries, from what
   * they hold now. */
  seer_sandbox_disk disk_start, disk;
  seer_sandbox_disk_measure(spec, 10000000, &disk_start);
  long long disk_limit = spec->disk_bytes > 0 ? spec->disk_bytes : 1LL << 30;
  long long entries_limit = disk_start.entries + 100000;
  double next_disk_check = now_s() + 1;
  for (unsigned tick = 0;; tick++) {
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
      /* 'p': the host asks whether the sandbox lives on (a process of it ended; did we end it?).
       * A sandbox this loop ends says "exit ..." and never answers again, so an "alive" that
       * follows a process's end says that the sandbox did not end it. */
      for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 'p') say("alive");
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ;
    if (spec->memory_bytes > 0) {
      /* Private memory and tmpfs every 20 ms; shared memory, slower to measure, every 100 ms. */
      seer_sandbox_memory_measure(&mem, tick % 5 == 0);
      if (mem.total > spec->memory_bytes) {
        kill(-1, SIGKILL);
        say("exit killed (out of memory: %lld MiB in use (%lld private, %lld in tmpfs, %lld "
            "shared), limit %lld MiB)",
            mem.total >> 20, mem.private_bytes >> 20, mem.tmpfs >> 20, mem.shared >> 20,
            spec->memory_bytes >> 20);
        _exit(137);
      }
    }
    if (now_s() >= next_disk_check) {
      /* Every second, or less often for trees so large that walking them takes over 5% of that. */
      double t0 = now_s();
      seer_sandbox_disk_measure(spec, entries_limit, &disk);
      double took = now_s() - t0;
      next_disk_check = now_s() + (took * 20 > 1 ? took * 20 : 1);
      if (disk.bytes - disk_start.bytes > disk_limit || disk.entries >= entries_limit) {
        kill(-1, SIGKILL);
        say("exit killed (disk quota: the host directories bound writable grew by %lld MiB to "
            "%lld entries, limit %lld MiB and %lld entries)",
            (disk.bytes - disk_start.bytes) >> 20, disk.entries, disk_limit >> 20, entries_limit);
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

/* The control socket: a Unix socket at spec->control, in the host-only state directory, mode 0600.
 * `seer-sandbox exec` connects to get the namespace descriptors. */
static int listen_control(const char *path, seer_error *err) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path)
    return seer_errorf(err, SEER_EINVAL, "sandbox: control socket path too long: %s", path);
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return seer_error_errno(err, SEER_EIO, errno, "sandbox: control socket");
  mode_t old = umask(077);
  int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  if (rc != 0 || listen(fd, 16) != 0) {
    seer_error_errno(err, SEER_EIO, errno, "sandbox: cannot listen on '%s'", path);
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends the namespace descriptors to one client of the control socket: only to processes of the
 * user that started the sandbox. The message carries each descriptor's CLONE_NEW* type. */
static void serve_control(int listener, const int *ns_fds, const int *ns_types, int count) {
  int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0) return;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == getuid()) {
    char control[CMSG_SPACE(sizeof(int) * SEER_SANDBOX_NS_COUNT)];
    memset(control, 0, sizeof control);
    struct iovec iov = {(void *)ns_types, sizeof(int) * (size_t)count};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
    memcpy(CMSG_DATA(c), ns_fds, sizeof(int) * (size_t)count);
    ssize_t n = sendmsg(conn, &msg, MSG_NOSIGNAL);
    (void)n;
  }
  close(conn);
}

/* Opens the supervisor's namespaces while it still waits for its maps (and is dumpable). A
 * namespace it shares with this process (the network, when networking is on) is left out. */
static int open_namespaces(pid_t pid, int *fds, int *types) {
  int count = 0;
  for (int i = 0; i < SEER_SANDBOX_NS_COUNT; i++) {
    const seer_sandbox_ns *ns = &seer_sandbox_namespaces[i];
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns->name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    snprintf(path, sizeof path, "/proc/self/ns/%s", ns->name);
    struct stat theirs, ours;
    if (fstat(fd, &theirs) == 0 && stat(path, &ours) == 0 && theirs.st_ino == ours.st_ino &&
        theirs.st_dev == ours.st_dev) {
      close(fd);
      continue;
    }
    fds[count] = fd;
    types[count++] = ns->type;
  }
  return count;
}

/* Until the supervisor exits: answer the control socket. */
static int relay(pid_t pid, int listener, const int *ns_fds, const int *ns_types, int count) {
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  int status = 0;
  for (;;) {
    struct pollfd p[2] = {{listener, POLLIN, 0}, {pidfd, POLLIN, 0}};
    int r = poll(p, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? -1 : 100);
    if (r < 0 && errno != EINTR) break;
    if (r > 0 && (p[0].revents & POLLIN)) serve_control(listener, ns_fds, ns_types, count);
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid || (w < 0 && errno == ECHILD)) break;
  }
  return status;
}

int seer_sandbox_init_main(int argc, char **argv) {
  seer_error err = {0, {0}};
  if (seer_sandbox_enter_helper(&err) != SEER_OK) {
    say("error %s", err.msg);
    return 1;
  }
  if (argc < 2) {
    say("error usage: seer-sandbox init SPEC.json");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* the host runtime went away: so does the sandbox */
  seer_sandbox_spec spec;
  if (seer_sandbox_spec_load(argv[1], &spec, &err) != SEER_OK) {
    say("error %s", err.msg);
    return 1;
  }
  uid_t uid = getuid();
  gid_t gid = getgid();
  /* As root, the sandbox runs as an unprivileged host uid of its own (uid.c): the kernel then
   * enforces its process limit (root is exempt) and an escape would land without privileges. */
  uid_t kuid = uid;
  gid_t kgid = gid;
  if (uid == 0) {
    unsigned long id;
    if (seer_sandbox_host_id((long)getpid(), &id, &err) != SEER_OK) {
      say("error %s", err.msg);
      return 1;
    }
    kuid = (uid_t)id;
    kgid = (gid_t)id;
  }
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
  int listener = listen_control(spec.control, &err);
  if (listener < 0) {
    say("error %s", err.msg);
    return 1;
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
    /* pid 1 keeps only its stdin (the host's terminate pipe) and stdout (the status lines). */
    if (seer_sandbox_close_inherited(&err) != SEER_OK) {
      say("error %s", err.msg);
      _exit(1);
    }
    supervise(&spec, uid == 0);
  }
  close(sync[0]);
  supervisor_pid = pid;
  int ns_fds[SEER_SANDBOX_NS_COUNT], ns_types[SEER_SANDBOX_NS_COUNT];
  int ns_count = open_namespaces(pid, ns_fds, ns_types);
  if (ns_count < 0) {
    say("error sandbox: cannot open the namespaces of the sandbox: %s", strerror(errno));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
  }
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
  int status = relay(pid, listener, ns_fds, ns_types, ns_count);
  unlink(spec.control);
  seer_sandbox_spec_free(&spec);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  say("exit killed (signal %d)", WTERMSIG(status));
  return 128 + WTERMSIG(status);
}
