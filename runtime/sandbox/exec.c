/* exec.c: owns running a command inside a started sandbox
 * (`seer-lua __sandbox-exec PID CWD NOFILE PIDS CPUS -- CMD ARGS...`): join the namespaces of the
 * sandbox's pid 1, become its root, apply the same limits, no_new_privs and seccomp filter, and
 * run CMD with this process's environment. The exit status (or signal) is passed through; SIGTERM
 * kills the command's whole process group. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

int seer_sandbox_exec_main(int argc, char **argv) {
  if (argc < 8 || strcmp(argv[6], "--") != 0) {
    fprintf(stderr, "usage: seer-lua __sandbox-exec PID CWD NOFILE PIDS CPUS -- CMD [ARGS...]\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const char *pid = argv[1], *cwd = argv[2];
  /* Open every namespace first: once in the sandbox's mount namespace, the host's /proc is gone. */
  static const struct {
    const char *name;
    int type;
  } order[] = {{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
               {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS}};
  int fds[6];
  for (int i = 0; i < 6; i++) {
    char path[96];
    snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, order[i].name);
    fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) return fail("the sandbox is not running (cannot open its namespaces)");
  }
  for (int i = 0; i < 6; i++) {
    /* A sandbox sharing the host network has the host's net namespace: joining it is a no-op. */
    if (setns(fds[i], order[i].type) != 0 && !(order[i].type == CLONE_NEWNET && errno == EINVAL))
      return fail(order[i].name);
    close(fds[i]);
    if (order[i].type == CLONE_NEWUSER && (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0))
      return fail("become root in the sandbox's user namespace");
  }
  if (chdir(cwd) != 0) return fail(cwd);
  seer_error err;
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
