/* entry.c: owns what both helper modes (init and exec) close on entry, and the list of namespaces
 * a sandbox has, in the order a process joins them. A helper starts as a child of a host program
 * that may hold any files open without O_CLOEXEC (Lua's io.open does) and may run on a terminal;
 * nothing of that may reach the sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seer/sandbox.h"

const seer_sandbox_ns seer_sandbox_namespaces[SEER_SANDBOX_NS_COUNT] = {
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
    {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS}};

int seer_sandbox_close_inherited(seer_error *err) {
  if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return SEER_OK;
  if (errno != ENOSYS) return seer_error_errno(err, SEER_EIO, errno, "sandbox: close_range");
  /* Kernels before 5.9: close each possible descriptor. */
  long max = sysconf(_SC_OPEN_MAX);
  for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
    close((int)fd);
  return SEER_OK;
}

int seer_sandbox_detach(seer_error *err) {
  /* A session of our own has no controlling terminal, so /dev/tty opens nothing and no terminal's
   * input can be pushed to. Only a process group leader cannot start one, and the host starts the
   * helpers as ordinary children (not leaders). */
  if (setsid() < 0)
    return seer_error_errno(err, SEER_EIO, errno,
                            "sandbox: setsid (the helper must not be started as a group leader)");
  return SEER_OK;
}

int seer_sandbox_enter_helper(seer_error *err) {
  if (seer_sandbox_close_inherited(err) != SEER_OK) return err->code;
  /* fds 0-2 must exist (as /dev/null at worst), or the first file opened would take their place. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0) {
      int nul = open("/dev/null", O_RDWR);
      if (nul < 0) return seer_error_errno(err, SEER_EIO, errno, "sandbox: open /dev/null");
      if (nul != fd) return seer_errorf(err, SEER_EIO, "sandbox: fd %d is missing", fd);
    }
  return seer_sandbox_detach(err);
}
