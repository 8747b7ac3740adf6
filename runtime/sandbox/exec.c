/* exec.c: owns running a command inside a started sandbox
 * (`seer-sandbox exec CONTROL CWD NOFILE PIDS CPUS -- CMD ARGS...`): close what the host left open,
 * get the sandbox's namespace descriptors from its init over the host-only CONTROL socket, join
 * them, become the sandbox's root, apply the same limits, no_new_privs and seccomp filter, and run
 * CMD with this process's environment. The exit status (or signal) is passed through; SIGTERM kills
 * the command's whole process group. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seer/sandbox.h"

static pid_t child_pid;
/* The command runs in a process group of its own, so a signal (a timeout, terminate) reaches what
 * it started too: a shell's children would otherwise outlive it and hold its output open. */
static void forward(int sig) {
  if (child_pid > 0) kill(-child_pid, sig == SIGTERM ? SIGKILL : sig);
}

static int fail(const char *what) {
  fprintf(stderr, "sandbox: %s: %s\n", what, strerror(errno));
  return 126;
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

int seer_sandbox_exec_main(int argc, char **argv) {
  seer_error err;
  if (seer_sandbox_enter_helper(&err) != SEER_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 126;
  }
  if (argc < 8 || strcmp(argv[6], "--") != 0) {
    fprintf(stderr, "usage: seer-sandbox exec CONTROL CWD NOFILE PIDS CPUS -- CMD [ARGS...]\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
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
  if (seer_sandbox_apply_limits(atoll(argv[3]), atoll(argv[4]), atoi(argv[5]), &err) != SEER_OK) {
    fprintf(stderr, "%s\n", err.msg);
    return 126;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("no_new_privs");
  child_pid = fork(); /* the child is the first process in the sandbox's pid namespace */
  if (child_pid < 0) return fail("fork");
  if (child_pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (seer_sandbox_seccomp_apply(&err) != SEER_OK) {
      fprintf(stderr, "%s\n", err.msg);
      _exit(126);
    }
    execvp(argv[7], argv + 7);
    int e = errno;
    fprintf(stderr, "sandbox: cannot run '%s': %s\n", argv[7], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
  }
  setpgid(child_pid, child_pid); /* also here, so a signal right after fork finds the group */
  signal(SIGTERM, forward);
  signal(SIGINT, forward);
  signal(SIGHUP, forward);
  signal(SIGQUIT, forward);
  int status;
  while (waitpid(child_pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFSIGNALED(status)) {
    /* Die of the same signal, so the host sees what happened to the command itself. */
    signal(WTERMSIG(status), SIG_DFL);
    prctl(PR_SET_PDEATHSIG, 0);
    kill(getpid(), WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}
