/* Local sandboxes: process trees in new user, mount, pid, ipc, uts and (unless networking is on)
 * net namespaces, with a tmpfs root of read-only system binds, limits, no_new_privs and a seccomp
 * deny-list. The host starts one with the seer-lua binary's hidden `__sandbox-init SPEC` mode and
 * runs commands inside it with `__sandbox-exec`; both are implemented here, without Lua. */
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
  char *root; /* host directory to mount the sandbox's tmpfs root on */
  seer_sandbox_bind *binds;
  size_t nbinds;
  seer_sandbox_link *links;
  size_t nlinks;
  char **writable; /* host dirs handed to the sandbox's uid (workspace, rpc dir) */
  size_t nwritable;
  char *hostname;
  int network;            /* 1: share the host's network namespace */
  long long memory_bytes; /* resident memory of the whole tree; 0: unlimited */
  long long pids;         /* processes; 0: unlimited */
  long long nofile;       /* open files per process; 0: default */
  int cpus;               /* CPUs the tree may run on; 0: all */
  double timeout_s;       /* wall clock for the whole sandbox; 0: none */
} seer_sandbox_spec;

int seer_sandbox_spec_load(const char *path, seer_sandbox_spec *spec, seer_error *err);
void seer_sandbox_spec_free(seer_sandbox_spec *spec);

/* Entry points of the hidden CLI modes; argv[0] is the mode name. Return the exit status. */
int seer_sandbox_init_main(int argc, char **argv);
int seer_sandbox_exec_main(int argc, char **argv);

/* Internal pieces, one file each. */
/* mounts.c: build the tree under spec->root (in a private mount namespace), then, inside the new
 * user and pid namespaces, mount /proc and pivot_root into it. */
int seer_sandbox_build_tree(const seer_sandbox_spec *spec, seer_error *err);
int seer_sandbox_enter_root(const seer_sandbox_spec *spec, seer_error *err);
int seer_sandbox_seccomp_apply(seer_error *err); /* seccomp.c */
int seer_sandbox_apply_limits(long long nofile, long long pids, int cpus,
                              seer_error *err); /* limits.c */
long long seer_sandbox_tree_rss(void);          /* limits.c */
int seer_sandbox_loopback_up(seer_error *err);  /* mounts.c */

#endif
