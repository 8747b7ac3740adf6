/* Local sandboxes: process trees in new user, mount, pid, ipc, uts and (unless networking is on)
 * net namespaces, with a tmpfs root of read-only system binds, limits, no_new_privs and a seccomp
 * filter. The host starts one with the installed helper executable `seer-sandbox init SPEC` and
 * runs commands inside it with `seer-sandbox exec`; both are implemented here, without Lua. The
 * helper is found next to libseer or through $SEER_HELPER (seer_sandbox_helper_path). */
#ifndef SEER_SANDBOX_H
#define SEER_SANDBOX_H

#include <stddef.h>

#include "seer/error.h"

typedef struct seer_sandbox_bind {
  char *src; /* host path */
  char *dst; /* path inside the sandbox */
  int readonly;
  int optional; /* skip silently when src does not exist */
} seer_sandbox_bind;

typedef struct seer_sandbox_link {
  char *path;   /* inside the sandbox */
  char *target; /* symlink contents */
} seer_sandbox_link;

/* What __sandbox-init reads from its JSON spec file. */
typedef struct seer_sandbox_spec {
  char *root;    /* host directory to mount the sandbox's tmpfs root on */
  char *control; /* host-only path of the socket `exec` gets the namespaces from */
  seer_sandbox_bind *binds;
  size_t nbinds;
  seer_sandbox_link *links;
  size_t nlinks;
  seer_sandbox_bind *devices; /* device nodes bound under the sandbox's /dev (GPUs) */
  size_t ndevices;
  char **writable; /* host dirs handed to the sandbox's uid (workspace, rpc dir) */
  size_t nwritable;
  char *hostname;
  int network;            /* 1: share the host's network namespace */
  long long memory_bytes; /* resident memory of the whole tree; 0: unlimited */
  long long pids;         /* processes; 0: unlimited */
  long long nofile;       /* open files per process; 0: default */
  int cpus;               /* CPUs the tree may run on; 0: all */
  double timeout_s;       /* wall clock for the whole sandbox; 0: none */
  long long tmp_bytes;    /* size of the /tmp tmpfs; 0: 1 GiB */
  long long disk_bytes;   /* size of the /workspace tmpfs, and what writable binds may grow by;
                             0: 1 GiB */
} seer_sandbox_spec;

int seer_sandbox_spec_load(const char *path, seer_sandbox_spec *spec, seer_error *err);
void seer_sandbox_spec_free(seer_sandbox_spec *spec);

/* Entry points of the helper's modes; argv[0] is the mode name. Return the exit status. */
int seer_sandbox_init_main(int argc, char **argv);
int seer_sandbox_exec_main(int argc, char **argv);

/* locate.c: the helper executable: $SEER_HELPER, else `seer-sandbox` in the directory of the
 * binary or library that holds libseer, or in ../libexec/seer (../../libexec/seer) from there. */
int seer_sandbox_helper_path(char *out, size_t n, seer_error *err);

/* entry.c: what both modes do first: close every inherited fd above 2, make sure 0-2 exist, and
 * start a session of their own (no controlling terminal). */
int seer_sandbox_enter_helper(seer_error *err);
int seer_sandbox_close_inherited(seer_error *err);
typedef struct seer_sandbox_ns {
  const char *name; /* as in /proc/PID/ns/ */
  int type;         /* CLONE_NEW* */
} seer_sandbox_ns;
#define SEER_SANDBOX_NS_COUNT 6
/* The order to join them in: the user namespace first (it grants the rights to join the others),
 * the mount namespace last (after it, the host's /proc is gone). */
extern const seer_sandbox_ns seer_sandbox_namespaces[SEER_SANDBOX_NS_COUNT];

/* uid.c: the host uid (= gid) of a sandbox started by root: SEER_SANDBOX_ID_BASE + pid, moved up by
 * SEER_SANDBOX_ID_STRIDE while it belongs to an account or a /etc/subuid or /etc/subgid range. The
 * base sits above systemd's container range (524288-1879048191); the stride is past any pid. */
#define SEER_SANDBOX_ID_BASE 0x70000000UL
#define SEER_SANDBOX_ID_STRIDE 0x400000UL
int seer_sandbox_host_id(long pid, unsigned long *id, seer_error *err);

/* Internal pieces, one file each. */
/* mounts.c: build the tree under spec->root (in a private mount namespace), then, inside the new
 * user and pid namespaces, mount /proc and pivot_root into it. */
int seer_sandbox_build_tree(const seer_sandbox_spec *spec, seer_error *err);
int seer_sandbox_enter_root(const seer_sandbox_spec *spec, seer_error *err);
int seer_sandbox_seccomp_apply(seer_error *err); /* seccomp.c */
int seer_sandbox_apply_limits(long long nofile, long long pids, int cpus, long long cpu_seconds,
                              seer_error *err); /* limits.c */
/* memory.c: what the sandbox's processes, tmpfs mounts and shared memory hold, in bytes. The
 * shared part is slow to measure: it is refreshed only when refresh_shared is set, and kept
 * otherwise. */
typedef struct seer_sandbox_memory {
  long long private_bytes, tmpfs, shared, total;
} seer_sandbox_memory;
void seer_sandbox_memory_measure(seer_sandbox_memory *m, int refresh_shared);
/* disk.c: what the sandbox keeps in the host directories bound writable into it (measured from
 * inside, at the binds' destinations): bytes, and entries, counted up to max_entries. */
typedef struct seer_sandbox_disk {
  long long bytes, entries;
} seer_sandbox_disk;
void seer_sandbox_disk_measure(const seer_sandbox_spec *spec, long long max_entries,
                               seer_sandbox_disk *d);
int seer_sandbox_loopback_up(seer_error *err); /* mounts.c */

#endif
