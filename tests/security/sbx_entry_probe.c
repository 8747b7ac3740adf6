/* sbx_entry_probe: attacks a sandbox from inside, for tests/security/sbx_entry/attacks_spec.lua.
 * It is copied into the sandbox and run there; each mode tries one class of escape and prints one
 * line per attempt, "NAME RESULT", where RESULT is "ok" (the attempt worked) or the errno name.
 *   tty       TIOCSTI/TIOCLINUX on fds 0-2 and on /dev/tty (is there a terminal to push input to?)
 *   fds       the open descriptors, "fd N TARGET" (besides the one listing /proc/self/fd)
 *   pid1 LINE take the supervisor's stdout (pidfd_getfd, /proc/1/fd/1) and write LINE to it;
 *             open /proc/1/mem read-write; print LINE on our own stdout too
 *   syscalls  every call the seccomp filter must deny, with harmless arguments */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static void report(const char *name, long rc) {
  const char *e = rc >= 0 ? "ok" : strerrorname_np(errno);
  printf("%s %s\n", name, e ? e : "unknown");
  fflush(stdout);
}

static int mode_tty(void) {
  char name[64], c = 'X';
  for (int fd = 0; fd < 3; fd++) {
    snprintf(name, sizeof name, "tiocsti_fd%d", fd);
    report(name, ioctl(fd, TIOCSTI, &c));
    snprintf(name, sizeof name, "tioclinux_fd%d", fd);
    char sub = 6; /* TIOCL_GETSHIFTSTATE: harmless */
    report(name, ioctl(fd, TIOCLINUX, &sub));
  }
  int tty = open("/dev/tty", O_RDWR | O_NOCTTY);
  report("open_dev_tty", tty);
  if (tty >= 0) report("tiocsti_dev_tty", ioctl(tty, TIOCSTI, &c));
  return 0;
}

static int mode_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return perror("opendir /proc/self/fd"), 1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
    char link[300], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    printf("fd %s %s\n", e->d_name, target);
  }
  closedir(d);
  return 0;
}

static void write_line(int fd, const char *line) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "%s\n", line);
  ssize_t w = write(fd, buf, (size_t)n);
  (void)w;
}

static int mode_pid1(const char *line) {
  int pidfd = (int)syscall(SYS_pidfd_open, 1, 0);
  report("pidfd_open_1", pidfd);
  long got = pidfd >= 0 ? syscall(SYS_pidfd_getfd, pidfd, 1, 0) : -1;
  report("pidfd_getfd_1", got);
  if (got >= 0) write_line((int)got, line);
  int fd = open("/proc/1/fd/1", O_WRONLY);
  report("open_proc1_fd1", fd);
  if (fd >= 0) write_line(fd, line);
  report("open_proc1_mem", open("/proc/1/mem", O_RDWR));
  report("open_proc1_environ", open("/proc/1/environ", O_RDONLY));
  write_line(1, line); /* a forged status line on our own stdout */
  return 0;
}

static int mode_syscalls(void) {
  char buf[16];
  struct iovec local = {buf, sizeof buf}, remote = {(void *)0x10000, sizeof buf};
  unsigned char params[120] = {0}; /* struct io_uring_params */
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  struct perf_event_attr pe;
  memset(&pe, 0, sizeof pe);
  pe.size = sizeof pe;
  pe.type = PERF_TYPE_SOFTWARE;
  pe.config = PERF_COUNT_SW_CPU_CLOCK;
  report("io_uring_setup", syscall(SYS_io_uring_setup, 1, params));
  report("io_uring_enter", syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
  report("io_uring_register", syscall(SYS_io_uring_register, -1, 0, NULL, 0));
  report("socket_packet_raw", socket(AF_PACKET, SOCK_RAW, 0));
  report("socket_packet_dgram", socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  report("socket_inet_raw", socket(AF_INET, SOCK_RAW, 1 /* ICMP */));
  report("socket_inet6_raw", socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK, 58 /* ICMPv6 */));
  report("socket_inet_packet", socket(AF_INET, SOCK_PACKET, 0));
  report("socket_vsock", socket(AF_VSOCK, SOCK_STREAM, 0));
  report("socket_key", socket(AF_KEY, SOCK_RAW, 2 /* PF_KEY_V2 */));
  report("socket_alg", socket(AF_ALG, SOCK_SEQPACKET, 0));
  report("socket_tipc", socket(AF_TIPC, SOCK_RDM, 0));
  report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
  report("add_key", syscall(SYS_add_key, "user", "probe", "x", 1, -3));
  report("request_key", syscall(SYS_request_key, "user", "probe", NULL, 0));
  report("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
  report("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
  report("perf_event_open", syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
  report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
  report("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
  report("init_module", syscall(SYS_init_module, buf, 0, ""));
  report("finit_module", syscall(SYS_finit_module, -1, "", 0));
  report("delete_module", syscall(SYS_delete_module, "probe", 0));
  report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
  report("umount2", umount2("/tmp", MNT_DETACH));
  report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
  report("unshare_user", unshare(CLONE_NEWUSER));
  report("unshare_mnt", unshare(CLONE_NEWNS));
  int ns = open("/proc/self/ns/uts", O_RDONLY);
  report("setns", setns(ns, 0));
  long child = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (child == 0) _exit(0);
  if (child > 0) waitpid((pid_t)child, NULL, 0);
  report("clone_newuser", child);
  report("modify_ldt", syscall(SYS_modify_ldt, 0, buf, sizeof buf));
  report("ptrace_traceme", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
  report("process_vm_readv", syscall(SYS_process_vm_readv, 1, &local, 1, &remote, 1, 0));
  report("process_vm_writev", syscall(SYS_process_vm_writev, 1, &local, 1, &remote, 1, 0));
  int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
  report("pidfd_getfd_self", syscall(SYS_pidfd_getfd, self, 1, 0));
  /* What the filter must still allow. */
  report("allowed_socket_inet_stream", socket(AF_INET, SOCK_STREAM, 0));
  report("allowed_socket_unix", socket(AF_UNIX, SOCK_STREAM, 0));
  report("allowed_socket_netlink", socket(AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */));
  report("allowed_ioctl_fionread", ioctl(0, FIONREAD, &(int){0}));
  return 0;
}

int main(int argc, char **argv) {
  /* These attempts mount, unshare and add keys where they succeed: never outside a sandbox. */
  char host[64] = "";
  gethostname(host, sizeof host);
  if (!getenv("SEER_SANDBOX") || strcmp(host, "sandbox") != 0) {
    fprintf(stderr, "sbx_entry_probe: refusing to run outside a seer sandbox\n");
    return 3;
  }
  if (argc >= 2 && strcmp(argv[1], "tty") == 0) return mode_tty();
  if (argc >= 2 && strcmp(argv[1], "fds") == 0) return mode_fds();
  if (argc >= 3 && strcmp(argv[1], "pid1") == 0) return mode_pid1(argv[2]);
  if (argc >= 2 && strcmp(argv[1], "syscalls") == 0) return mode_syscalls();
  fprintf(stderr, "usage: sbx_entry_probe tty|fds|pid1 LINE|syscalls\n");
  return 2;
}
