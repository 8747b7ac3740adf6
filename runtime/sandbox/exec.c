/* exec.c: owns running a command inside a started sandbox
 * (`seer-sandbox exec CONTROL CWD NOFILE PIDS CPUS CPU_SECONDS -- CMD ARGS...`): close what the
 * host left open, get the sandbox's namespace descriptors from its init over the host-only CONTROL
 * socket, join them, become the sandbox's root, apply the same limits, no_new_privs and seccomp
 * filter, and run CMD with this process's environment. The exit status (or signal) is passed
 * through.
 *
 * Each command runs in a pid namespace of its own, under a small init (the "reaper"): whatever
 * the command starts, backgrounded, setsid'd or double-forked, stays in that namespace, and the
 * kernel kills all of it when the reaper exits. The reaper exits when the command does, and is
 * killed when this process gets SIGTERM (the host's timeout) or dies, so nothing a command starts
 * can outlive it or keep its output pipes, and with them the host's call, open. The namespace
 * gets its own /proc, so `$!` and /proc/<pid> agree inside it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seer/sandbox.h"

static pid_t reaper_pid;  /* the child that ends the command's namespace when killed */
static pid_t command_pid; /* in the reaper: the command, leader of its own process group */

/* SIGTERM (timeout, terminate) ends the whole namespace; other signals go to the command. */
static void forward_to_reaper(int sig) {
  if (reaper_pid > 0) kill(reaper_pid, sig == SIGTERM ? SIGKILL : sig);
}
static void forward_to_command(int sig) {
  if (command_pid > 0) kill(-command_pid, sig);
}

static int fail(const char *what) {
  fprintf(stderr, "sandbox: %s: %s\n", what, strerror(errno));
  return 126;
}

/* pid 1 of the command's namespace. Reports the command's wait status on status_fd. */
static void reaper(char **argv, int status_fd, int parent_alive_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* The parent may have died before PDEATHSIG was set: its end of this pipe is then closed. */
  struct pollfd p = {parent_alive_fd, POLLIN, 0};
  if (poll(&p, 1, 0) > 0) _exit(126);
  seer_error err;
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
    fprintf(stderr, "sandbox: cannot mount /proc for the command: %s\n", strerror(errno));
    _exit(126);
  }
  if (seer_sandbox_seccomp_apply(&err) != SEER_OK) {
    fprintf(stderr, "%s\n", err.msg);
    _exit(126);
  }
  static const int forwarded[] = {SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_to_command;
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
    sigaction(forwarded[i], &sa, NULL);
  /* SIGCHLD through a signalfd, so that one poll waits for both a child and the parent's end. */
  sigset_t chld, old_mask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old_mask);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) _exit(fail("signalfd"));
  command_pid = fork();
  if (command_pid < 0) _exit(fail("fork"));
  if (command_pid == 0) {
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    setpgid(0, 0);
    close(status_fd);
    close(parent_alive_fd);
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
      sigaction(forwarded[i], &sa, NULL);
    execvp(argv[0], argv);
    int e = errno;
    fprintf(stderr, "sandbox: cannot run '%s': %s\n", argv[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
  }
  setpgid(command_pid, command_pid); /* also here, so a signal right after fork finds the group */
  /* Reap orphans until the command itself ends, or until __sandbox-exec is gone (its end of
   * parent_alive_fd closes). Exiting as pid 1 makes the kernel kill all else in the namespace. */
  for (;;) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
      if (pid == command_pid) {
        int32_t s = status;
        ssize_t w = write(status_fd, &s, sizeof s);
        (void)w;
        _exit(0);
      }
    if (pid < 0 && errno != EINTR) _exit(126);
    struct pollfd fds[2] = {{parent_alive_fd, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents) _exit(126);
    struct signalfd_siginfo info;
    while (read(sfd, &info, sizeof info) > 0)
      ;
  }
}

/* Receives the namespace descriptors (and their CLONE_NEW* types) from the sandbox's init. */
static int receive_namespaces(const char *control, int *fds, int *types) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(control) >= sizeof addr.sun_path) return errno = ENAMETOOLONG, -1;
  strcpy(addr.sun_path, control);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int e = errno;
    close(sock);
    return errno = e, -1;
  }
  char control_buf[CMSG_SPACE(sizeof(int) * SEER_SANDBOX_NS_COUNT)];
  struct iovec iov = {types, sizeof(int) * SEER_SANDBOX_NS_COUNT};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control_buf,
                       .msg_controllen = sizeof control_buf};
  ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  close(sock);
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
      (msg.msg_flags & MSG_CTRUNC))
    return errno = EPROTO, -1;
  int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
  if (count * (ssize_t)sizeof(int) != n) return errno = EPROTO, -1;
  memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)count);
  return count;
}

/* In the sandbox's pid namespace: make one for the command, nested in it (so pid 1 and its
 * watchdog still see and count everything in it), and start its reaper there. The kernel lets only
 * a process already in the sandbox's namespace do that, hence this extra process, which stays as
 * the reaper's parent: killing it kills the reaper (PDEATHSIG), and with it the namespace. */
static void in_own_pid_namespace(char **argv, int status_fd, int parent_alive_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct pollfd p = {parent_alive_fd, POLLIN, 0};
  if (poll(&p, 1, 0) > 0) _exit(126);
  if (unshare(CLONE_NEWPID) != 0) _exit(fail("a pid namespace for the command"));
  reaper_pid = fork();
  if (reaper_pid < 0) _exit(fail("fork"));
  if (reaper_pid == 0) reaper(argv, status_fd, parent_alive_fd);
  close(status_fd);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_to_reaper;
  static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
    sigaction(forwarded[i], &sa, NULL);
  int status;
  while (waitpid(reaper_pid, &status, 0) < 0 && errno == EINTR)
    ;
  _exit(0); /* the command's status went to status_fd */
}

int seer_sandbox_exec_main(int argc, char **argv) {
  seer_error err;
  if (seer_sandbox_enter_helper(&err) != SEER_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 126;
  }
  if (argc < 9 || strcmp(argv[7], "--") != 0) {
    fprintf(stderr, "usage: seer-sandbox exec CONTROL CWD NOFILE PIDS CPUS CPU_SECONDS -- CMD "
                    "[ARGS...]\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* Non-dumpable, and so are the reaper and its parent, which are visible inside (the reaper is
   * pid 1 of the command's namespace): no /proc/<pid>/mem, fd or environ of theirs opens there.
   * Their memory was created in the host's user namespace, where the sandbox has no capabilities.
   * The command becomes dumpable again when it is executed. */
  if (prctl(PR_SET_DUMPABLE, 0) != 0) return fail("non-dumpable");
  const char *control = argv[1], *cwd = argv[2];
  int fds[SEER_SANDBOX_NS_COUNT], types[SEER_SANDBOX_NS_COUNT];
  int count = receive_namespaces(control, fds, types);
  if (count < 0) return fail("the sandbox is not running (cannot get its namespaces)");
  for (int i = 0; i < SEER_SANDBOX_NS_COUNT; i++) { /* in the order of seer_sandbox_namespaces */
    int type = seer_sandbox_namespaces[i].type;
    for (int j = 0; j < count; j++) {
      if (types[j] != type) continue;
      if (setns(fds[j], type) != 0) return fail(seer_sandbox_namespaces[i].name);
      if (type == CLONE_NEWUSER && (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0))
        return fail("become root in the sandbox's user namespace");
    }
  }
  for (int j = 0; j < count; j++)
    close(fds[j]);
  if (chdir(cwd) != 0) return fail(cwd);
  /* A mount namespace in which the command's /proc can be mounted. */
  if (unshare(CLONE_NEWNS) != 0) return fail("a mount namespace for the command");
  if (seer_sandbox_apply_limits(atoll(argv[3]), atoll(argv[4]), atoi(argv[5]), atoll(argv[6]),
                                &err) != SEER_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 126;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no_new_privs");
  int status_pipe[2], alive_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0 || pipe2(alive_pipe, O_CLOEXEC) != 0) return fail("pipe");
  reaper_pid = fork();
  if (reaper_pid < 0) return fail("fork");
  if (reaper_pid == 0) {
    close(status_pipe[0]);
    close(alive_pipe[1]);
    in_own_pid_namespace(argv + 8, status_pipe[1], alive_pipe[0]);
  }
  close(status_pipe[1]);
  close(alive_pipe[0]);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_to_reaper;
  static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
    sigaction(forwarded[i], &sa, NULL);
  int reaper_status;
  while (waitpid(reaper_pid, &reaper_status, 0) < 0 && errno == EINTR)
    ;
  /* The command's own status when the reaper saw it end, else what ended the reaper. */
  int32_t s;
  int status = read(status_pipe[0], &s, sizeof s) == (ssize_t)sizeof s ? (int)s : reaper_status;
  if (WIFSIGNALED(status)) {
    /* Die of the same signal, so the host sees what happened to the command itself. */
    signal(WTERMSIG(status), SIG_DFL);
    prctl(PR_SET_PDEATHSIG, 0);
    kill(getpid(), WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}
