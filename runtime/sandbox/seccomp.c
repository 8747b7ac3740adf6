/* seccomp.c: owns the sandbox's system-call filter. Calls that could reach outside the sandbox or
 * widen the kernel's attack surface fail with EPERM: whole calls (a deny-list of names), and calls
 * denied by argument (namespace flags of clone, terminal input injection through ioctl, raw and
 * packet sockets). Everything else is allowed, so ordinary programs (shells, Python, compilers) run
 * unchanged. Syscalls of another ABI (i386, x32) fail the architecture check and kill the caller.
 * sched_setaffinity is denied so that the CPUs a sandbox is limited to (set before the filter) stay
 * its limit. */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "seer/sandbox.h"

static const char *const denied[] = {"ptrace",
                                     "process_vm_readv",
                                     "process_vm_writev",
                                     "process_madvise",
                                     "pidfd_getfd",
                                     "kcmp",
                                     "io_uring_setup",
                                     "io_uring_enter",
                                     "io_uring_register",
                                     "fanotify_init",
                                     "modify_ldt",
                                     "mount",
                                     "umount",
                                     "umount2",
                                     "pivot_root",
                                     "chroot",
                                     "move_mount",
                                     "open_tree",
                                     "fsopen",
                                     "fsconfig",
                                     "fsmount",
                                     "fspick",
                                     "mount_setattr",
                                     "bpf",
                                     "perf_event_open",
                                     "userfaultfd",
                                     "kexec_load",
                                     "kexec_file_load",
                                     "reboot",
                                     "init_module",
                                     "finit_module",
                                     "delete_module",
                                     "keyctl",
                                     "add_key",
                                     "request_key",
                                     "unshare",
                                     "setns",
                                     "swapon",
                                     "swapoff",
                                     "syslog",
                                     "acct",
                                     "quotactl",
                                     "quotactl_fd",
                                     "iopl",
                                     "ioperm",
                                     "settimeofday",
                                     "clock_settime",
                                     "clock_adjtime",
                                     "adjtimex",
                                     "open_by_handle_at",
                                     "name_to_handle_at",
                                     "lookup_dcookie",
                                     "vhangup",
                                     "nfsservctl",
                                     "uselib",
                                     "personality",
                                     "sched_setaffinity"};

/* Pushing characters into a terminal's input (TIOCSTI) or the Linux console's (TIOCLINUX) would run
 * them as whoever reads that terminal. The sandbox has no terminal of its own; this holds even if a
 * terminal fd reached it. The command is an int: compare the low 32 bits only. */
static const unsigned long denied_ioctls[] = {TIOCSTI, TIOCLINUX};

/* Socket families that reach below IP or outside the machine's network stack: EPERM. */
static const int denied_families[] = {AF_PACKET, AF_VSOCK};
/* The families ordinary programs use. Every other one (AF_KEY, AF_ALG, AF_TIPC, AF_RDS, AF_CAN,
 * Bluetooth, ...: rarely used kernel code, some with a history of exploits) reports
 * EAFNOSUPPORT, as on a kernel built without it, so programs fall back quietly. */
static const int allowed_families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};

static int family_listed(int family, const int *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (list[i] == family) return 1;
  return 0;
}

static int deny_by_argument(scmp_filter_ctx ctx) {
  for (size_t i = 0; i < sizeof denied_ioctls / sizeof denied_ioctls[0]; i++) {
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, denied_ioctls[i]));
    if (rc != 0) return rc;
  }
  for (int family = 0; family < AF_MAX; family++) {
    const size_t ndenied = sizeof denied_families / sizeof denied_families[0];
    const size_t nallowed = sizeof allowed_families / sizeof allowed_families[0];
    if (family_listed(family, allowed_families, nallowed)) continue;
    int errno_value = family_listed(family, denied_families, ndenied) ? EPERM : EAFNOSUPPORT;
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errno_value), SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)family));
    if (rc != 0) return rc;
  }
  /* Raw IP sockets (the type carries SOCK_NONBLOCK/SOCK_CLOEXEC in its high bits); netlink, which
   * glibc opens as SOCK_RAW for getifaddrs and getaddrinfo, stays allowed. */
  static const int ip_families[] = {AF_INET, AF_INET6};
  static const int raw_types[] = {SOCK_RAW, SOCK_PACKET};
  for (size_t f = 0; f < sizeof ip_families / sizeof ip_families[0]; f++)
    for (size_t t = 0; t < sizeof raw_types / sizeof raw_types[0]; t++) {
      int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 2,
                                SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)ip_families[f]),
                                SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, (scmp_datum_t)raw_types[t]));
      if (rc != 0) return rc;
    }
  return 0;
}

static int deny_all(scmp_filter_ctx ctx) {
  for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
    int nr = seccomp_syscall_resolve_name(denied[i]);
    if (nr == __NR_SCMP_ERROR) continue; /* not on this architecture */
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    if (rc != 0) return rc;
  }
  /* New namespaces through clone(): one rule per namespace flag, since libseccomp compares masked
   * arguments for equality only. clone3 passes its flags in memory that a filter cannot read, so
   * it reports ENOSYS and libc falls back to clone. */
  static const unsigned long ns_flags[] = {CLONE_NEWNS,    CLONE_NEWUSER, CLONE_NEWPID,
                                           CLONE_NEWNET,   CLONE_NEWIPC,  CLONE_NEWUTS,
                                           CLONE_NEWCGROUP};
  for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++) {
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
    if (rc != 0) return rc;
  }
  int clone3 = seccomp_syscall_resolve_name("clone3");
  if (clone3 != __NR_SCMP_ERROR) {
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3, 0);
    if (rc != 0) return rc;
  }
  return deny_by_argument(ctx);
}

int seer_sandbox_seccomp_apply(seer_error *err) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return seer_errorf(err, SEER_ENOMEM, "sandbox: seccomp_init failed");
  int rc = deny_all(ctx);
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0)
    return seer_errorf(err, SEER_EIO, "sandbox: cannot install the seccomp filter (error %d)", rc);
  return SEER_OK;
}
